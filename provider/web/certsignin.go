package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/verify"
)

// TLSClientAuth changes cfg, the configuration of the provider's HTTPS
// listener, so that browsers and devices can present a device certificate
// for POST /signin/certificate:
//
//   - ClientAuth becomes tls.RequestClientCert: the server requests a
//     certificate, a client without one still connects (ACME clients,
//     browsers without a device certificate), and crypto/tls verifies
//     nothing. The sign-in page verifies the chain with Config.Verifier.
//   - ClientCAs becomes a pool with one certificate whose subject is the
//     profile marker DN (pki.Marker), so that the CertificateRequest lists
//     it in certificate_authorities and clients offer the chain
//     [device certificate, CSC]. Its key is thrown away, and it grants no
//     trust.
//
// When cfg has GetConfigForClient, each configuration it returns gets the
// same two settings. Call TLSClientAuth before the listener starts. It
// leaves MinVersion alone: certificate sign-in needs TLS 1.3, which the
// Verifier checks, while ACME clients may still use TLS 1.2.
func TLSClientAuth(cfg *tls.Config) {
	apply := func(c *tls.Config) {
		c.ClientAuth = tls.RequestClientCert
		c.ClientCAs = verify.MarkerPool()
	}
	apply(cfg)
	if forClient := cfg.GetConfigForClient; forClient != nil {
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := forClient(hello)
			if err != nil || c == nil {
				return c, err
			}
			c = c.Clone()
			apply(c)
			return c, nil
		}
	}
}

// CertificateSignInError is a certificate sign-in that failed on the
// client's side. Message is shown to the person.
type CertificateSignInError struct {
	// Handle is the handle of the certificate, "" when it was not read.
	Handle string
	// Message describes what failed and what to do.
	Message string
	// Err is the cause, such as a *verify.Error, or nil.
	Err error
}

// Error returns the message and the cause.
func (e *CertificateSignInError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *CertificateSignInError) Unwrap() error { return e.Err }

func (w *Web) signInCertificate(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.Verifier == nil {
		w.renderError(rw, r, http.StatusNotFound, "Certificate sign-in is off",
			"This provider does not accept device certificates for sign-in.", "Sign in with your account name and password.")
		return
	}
	next, _ := localPath(r.PostForm.Get("next"))
	if ok, wait := w.perClient.Allow(clientKey(r), w.now()); !ok {
		w.tooManyRequests(rw, r, wait)
		return
	}

	acct, err := w.certificateAccount(r.Context(), r.TLS)
	var failed *CertificateSignInError
	if errors.As(err, &failed) {
		w.cfg.Logger.InfoContext(r.Context(), "certificate sign-in failed", "handle", failed.Handle, "remote_addr", r.RemoteAddr, "err", err)
		w.render(rw, r, http.StatusForbidden, "signin", &page{
			Title: "Sign in", Form: url.Values{}, Errors: fieldErrors{"certificate": failed.Message},
			Data: signInView{Next: next, Certificate: true},
		})
		return
	}
	if err != nil {
		w.internalError(rw, r, err)
		return
	}
	if err := w.startSession(rw, r, acct, MethodCertificate); err != nil {
		w.internalError(rw, r, err)
		return
	}
	seeOther(rw, orHome(next))
}

// certificateAccount verifies the client certificate chain of the
// connection and returns the account that owns the verified handle. The
// leaf must be an active device of that identity in the store, with the
// same certificate bytes. A *CertificateSignInError reports a failure of
// the client; other errors come from the store.
func (w *Web) certificateAccount(ctx context.Context, cs *tls.ConnectionState) (*store.Account, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil, &CertificateSignInError{Message: "Your browser sent no device certificate. Install a device certificate for one of your handles, then open the sign-in page in a new browser window and try again."}
	}
	verified, err := w.cfg.Verifier.VerifyConnectionState(ctx, *cs)
	if err != nil {
		return nil, &CertificateSignInError{Message: "Your device certificate could not be verified against the DNS records of its handle: " + err.Error(), Err: err}
	}
	h := verified.Handle.String()

	id, err := w.cfg.Store.IdentityByHandle(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &CertificateSignInError{Handle: h, Message: fmt.Sprintf("The handle @%s of your certificate has no identity at this provider. Use a certificate of a handle you created here.", h), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("identity of %s: %w", h, err)
	}
	if id.DID != verified.DID {
		return nil, &CertificateSignInError{Handle: h, Message: fmt.Sprintf("The permanent identifier in DNS for @%s (%s) is not the identifier of this provider's identity (%s). Publish the records this provider shows for the handle.", h, verified.DID, id.DID)}
	}

	leaf := cs.PeerCertificates[0]
	serial := leaf.SerialNumber.Text(16)
	device, err := w.cfg.Store.DeviceBySerial(ctx, serial)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("device %s of %s: %w", serial, h, err)
	}
	if err != nil || device.IdentityID != id.ID || !bytes.Equal(device.CertDER, leaf.Raw) {
		return nil, &CertificateSignInError{Handle: h, Message: fmt.Sprintf("This certificate (serial %s) is not a device of @%s at this provider. Enroll the device on the handle's device page.", serial, h)}
	}
	if device.Status != store.DeviceActive {
		return nil, &CertificateSignInError{Handle: h, Message: fmt.Sprintf("The device %q of @%s was revoked. Enroll the device again to get a new certificate.", device.Label, h)}
	}

	acct, err := w.cfg.Store.AccountByID(ctx, id.AccountID)
	if err != nil {
		return nil, fmt.Errorf("account of identity %s: %w", h, err)
	}
	if err := w.cfg.Provider.TouchDevice(ctx, serial); err != nil {
		w.cfg.Logger.WarnContext(ctx, "recording the use of a device failed", "handle", h, "device", device.Fingerprint, "err", err)
	}
	return acct, nil
}
