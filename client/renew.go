package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/pki"
)

// Bounds on the Retry-After of renewal information, because RFC 9773,
// section 4.3 has clients clamp it to a reasonable range.
const (
	MinRenewalRetry = time.Minute
	MaxRenewalRetry = 24 * time.Hour
)

// CertID returns the RFC 9773 certificate identifier of cert (section
// 4.1): base64url of the keyIdentifier of its AuthorityKeyIdentifier, a dot,
// and base64url of the DER content octets of its serial number.
func CertID(cert *x509.Certificate) (string, error) {
	if len(cert.AuthorityKeyId) == 0 {
		return "", errors.New("certificate has no authority key identifier, so it has no RFC 9773 certificate identifier")
	}
	if cert.SerialNumber == nil || cert.SerialNumber.Sign() <= 0 {
		return "", errors.New("certificate serial number is not positive")
	}
	serial := cert.SerialNumber.Bytes()
	if serial[0]&0x80 != 0 {
		serial = append([]byte{0}, serial...)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(cert.AuthorityKeyId) + "." + enc.EncodeToString(serial), nil
}

// RenewOptions configures Renew. The zero value follows the provider's
// renewal information and keeps the device key.
type RenewOptions struct {
	// Force renews now, whatever the renewal information suggests.
	Force bool
	// NewKey generates a new device key. The default keeps the key, so the
	// device id (the key fingerprint relying parties see) stays the same.
	NewKey bool
	// HTTPClient sends the requests. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Renewal is the outcome of Renew.
type Renewal struct {
	// Renewed reports whether a new certificate was stored.
	Renewed bool
	// Device is the device after the call.
	Device *Device
	// WindowStart and WindowEnd are the suggested renewal window. They are
	// zero when the server offers no renewal information, and RenewAt is
	// then the fallback at two thirds of the lifetime.
	WindowStart, WindowEnd time.Time
	// RenewAt is the time chosen in the window, at or after which Renew
	// renews.
	RenewAt time.Time
	// RetryAfter is when to call Renew again, from the server's Retry-After
	// clamped to MinRenewalRetry..MaxRenewalRetry.
	RetryAfter time.Duration
}

// Renew renews the device certificate in deviceDir when it is due. It fetches
// the provider's renewal information (RFC 9773, section 4), picks a
// uniformly random time in the suggested window, and renews when that time
// has come (or with Force). Without renewal information it renews after two
// thirds of the certificate's lifetime. The new order names the old
// certificate in "replaces" (RFC 9773, section 5). When the server returns
// alreadyReplaced, Renew orders once more without it.
//
// Errors: *StoreError, *ProtocolError, *ChainError, or a file system error.
func Renew(ctx context.Context, deviceDir string, opts RenewOptions) (*Renewal, error) {
	d, err := Load(deviceDir)
	if err != nil {
		return nil, err
	}
	hc, now := httpClient(opts.HTTPClient), nowFunc(opts.Now)
	dir, err := fetchDirectory(ctx, hc, d.DirectoryURL)
	if err != nil {
		return nil, err
	}
	certID, err := CertID(d.Leaf())
	if err != nil {
		return nil, &ChainError{Reason: "stored certificate", Err: err}
	}

	out := &Renewal{Device: d, RetryAfter: MaxRenewalRetry}
	if err := out.schedule(ctx, hc, dir, certID, d); err != nil {
		return nil, err
	}
	if !opts.Force && now().Before(out.RenewAt) {
		return out, nil
	}

	if err := renewNow(ctx, hc, dir, d, certID, opts.NewKey, now); err != nil {
		return nil, err
	}
	if out.Device, err = Load(deviceDir); err != nil {
		return nil, err
	}
	out.Renewed = true
	return out, nil
}

// schedule sets the window, RenewAt and RetryAfter from the renewal
// information, or from the fallback when the server has none.
func (out *Renewal) schedule(ctx context.Context, hc *http.Client, dir *directory, certID string, d *Device) error {
	if dir.RenewalInfo == "" {
		life := d.NotAfter.Sub(d.NotBefore)
		out.RenewAt = d.NotBefore.Add(life * 2 / 3)
		return nil
	}
	start, end, retry, err := fetchRenewalInfo(ctx, hc, dir.RenewalInfo+"/"+certID)
	if err != nil {
		return err
	}
	out.WindowStart, out.WindowEnd, out.RetryAfter = start, end, retry
	out.RenewAt = start.Add(rand.N(end.Sub(start)))
	return nil
}

// fetchRenewalInfo gets a RenewalInfo object, RFC 9773, section 4.2.
func fetchRenewalInfo(ctx context.Context, hc *http.Client, url string) (start, end time.Time, retry time.Duration, err error) {
	fail := func(err error) (time.Time, time.Time, time.Duration, error) {
		return time.Time{}, time.Time{}, 0, &ProtocolError{Step: "renewal information", Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("User-Agent", userAgent)
	res, err := hc.Do(req)
	if err != nil {
		return fail(err)
	}
	defer res.Body.Close()

	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseSize))
	if err != nil {
		return fail(err)
	}
	if res.StatusCode != http.StatusOK {
		return fail(problemError(res, data))
	}

	var info struct {
		SuggestedWindow struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"suggestedWindow"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return fail(fmt.Errorf("GET %s: %w", url, err))
	}
	start, end = info.SuggestedWindow.Start, info.SuggestedWindow.End
	// RFC 9773, section 4.2: a window whose end is not after its start is
	// invalid, and the client treats it as a failed request.
	if !end.After(start) {
		return fail(fmt.Errorf("GET %s: suggested window ends at %s, not after its start %s", url, end, start))
	}
	return start, end, retryAfter(res.Header.Get("Retry-After")), nil
}

func retryAfter(v string) time.Duration {
	d := MaxRenewalRetry
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, MinRenewalRetry), MaxRenewalRetry)
}

// renewNow orders and stores a new certificate for d, replacing certID.
func renewNow(ctx context.Context, hc *http.Client, dir *directory, d *Device, certID string, newKey bool, now func() time.Time) error {
	accountKey, err := pki.ReadPrivateKeyFile(filepath.Join(d.Dir, AccountKeyFile))
	if err != nil {
		return err
	}
	keyPath := filepath.Join(d.Dir, KeyFile)
	deviceKey, err := pki.ReadPrivateKeyFile(keyPath)
	if err != nil {
		return err
	}
	if newKey {
		if deviceKey, err = pki.NewDeviceKey(keyTypeOf(deviceKey.Public())); err != nil {
			return err
		}
	}

	type orderRequest struct {
		Identifiers []acme.AuthzID `json:"identifiers"`
		Replaces    string         `json:"replaces,omitempty"`
	}
	req := orderRequest{Identifiers: acme.DomainIDs(string(d.Handle)), Replaces: certID}
	order, err := newOrder(ctx, hc, dir, accountKey, d.AccountURL, req)
	var aerr *acme.Error
	if errors.As(err, &aerr) && aerr.ProblemType == "urn:ietf:params:acme:error:alreadyReplaced" {
		req.Replaces = ""
		order, err = newOrder(ctx, hc, dir, accountKey, d.AccountURL, req)
	}
	if err != nil {
		return &ProtocolError{Step: "order", Err: err}
	}

	c := &acme.Client{Key: accountKey, KID: acme.KeyID(d.AccountURL), DirectoryURL: d.DirectoryURL, HTTPClient: hc, UserAgent: userAgent}
	chain, certURL, err := finalize(ctx, c, order, deviceKey, d.Handle, now())
	if err != nil {
		return err
	}

	// Write the key before the chain: a crash between the two leaves the
	// old chain with a key it does not match, which the next Renew with
	// Force repairs, rather than a chain whose key is lost.
	if newKey {
		if err := pki.WritePrivateKeyFile(keyPath, deviceKey); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(filepath.Join(d.Dir, ChainFile), pki.EncodeCertificates(chain...), 0o644); err != nil {
		return err
	}
	m, err := readMeta(d.Dir)
	if err != nil {
		return err
	}
	renewed := now().UTC()
	m.CertificateURL, m.Renewed, m.Revoked = certURL, &renewed, nil
	return writeMeta(d.Dir, m)
}

func readMeta(deviceDir string) (*deviceMeta, error) {
	raw, err := os.ReadFile(filepath.Join(deviceDir, MetaFile))
	if err != nil {
		return nil, &StoreError{Dir: deviceDir, Reason: "cannot read " + MetaFile, Err: err}
	}
	var m deviceMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &StoreError{Dir: deviceDir, Reason: MetaFile + " is not valid JSON", Err: err}
	}
	return &m, nil
}

// keyTypeOf returns the pki.KeyType of a device public key, so that a new
// key has the type of the old one.
func keyTypeOf(pub crypto.PublicKey) pki.KeyType {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return pki.KeyP384
		}
	case ed25519.PublicKey:
		return pki.KeyEd25519
	case *rsa.PublicKey:
		if k.N.BitLen() > 2048 {
			return pki.KeyRSA3072
		}
		return pki.KeyRSA2048
	}
	return pki.KeyP256
}
