package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// EnrollOptions configures Enroll. Give either Code, or DirectoryURL,
// EABKeyID, EABKey and Handle.
type EnrollOptions struct {
	// Code is the one-line enrollment code from the provider.
	Code string

	// DirectoryURL is the provider's ACME directory URL.
	DirectoryURL string
	// EABKeyID and EABKey are the External Account Binding credential.
	EABKeyID string
	EABKey   []byte
	// Handle is the handle to enroll. With Code it may be left empty, and
	// must equal the code's handle otherwise.
	Handle handle.Handle

	// KeyType is the device key type; "" means pki.KeyP256.
	KeyType pki.KeyType
	// Dir is the base directory of device directories, required. The device
	// is stored in DeviceDir(Dir, handle), which must not exist yet.
	Dir string
	// Contact lists optional mailto: URLs for the ACME account.
	Contact []string
	// HTTPClient sends the requests. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now returns the current time, used to check the issued chain. Nil
	// means time.Now.
	Now func() time.Time
}

// OptionError reports invalid options.
type OptionError struct {
	Option string
	Reason string
}

func (e *OptionError) Error() string { return "invalid option " + e.Option + ": " + e.Reason }

// ExistsError reports a device directory that exists already.
type ExistsError struct {
	Dir string
	// Enrolled reports whether the directory holds an enrolled device
	// (its chain file), or only other files.
	Enrolled bool
}

func (e *ExistsError) Error() string {
	switch {
	case !e.Enrolled:
		return fmt.Sprintf("%s exists but holds no enrolled device: remove it, or enroll into another --dir", e.Dir)
	}
	return fmt.Sprintf("a device is already enrolled in %s: renew it, or revoke it first (the next enrollment then replaces a revoked device)", e.Dir)
}

// ChainError reports an issued chain that does not fit the device key or
// the profile.
type ChainError struct {
	Reason string
	Err    error
}

func (e *ChainError) Error() string {
	msg := "the provider returned an unusable certificate chain: " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ChainError) Unwrap() error { return e.Err }

func (o *EnrollOptions) resolve() (EnrollmentCode, error) {
	if o.Dir == "" {
		return EnrollmentCode{}, &OptionError{Option: "Dir", Reason: "a base directory for device keys is required"}
	}
	if o.Code != "" {
		code, err := ParseEnrollmentCode(o.Code)
		if err != nil {
			return code, err
		}
		if o.Handle != "" && o.Handle != code.Handle {
			return code, &OptionError{Option: "Handle", Reason: fmt.Sprintf("%q differs from the enrollment code's handle %q", o.Handle, code.Handle)}
		}
		return code, nil
	}
	code := EnrollmentCode{DirectoryURL: o.DirectoryURL, Handle: o.Handle, KeyID: o.EABKeyID, Key: o.EABKey}
	switch {
	case code.DirectoryURL == "":
		return code, &OptionError{Option: "DirectoryURL", Reason: "give an enrollment code or the provider's directory URL"}
	case code.Handle == "":
		return code, &OptionError{Option: "Handle", Reason: "give an enrollment code or the handle to enroll"}
	case code.KeyID == "" || len(code.Key) == 0:
		return code, &OptionError{Option: "EABKeyID", Reason: "give an enrollment code or the EAB key ID and HMAC key"}
	}
	if _, err := handle.Parse(string(code.Handle)); err != nil {
		return code, &OptionError{Option: "Handle", Reason: err.Error()}
	}
	if err := checkDirectoryURL(code.DirectoryURL); err != nil {
		return code, &OptionError{Option: "DirectoryURL", Reason: err.Error()}
	}
	return code, nil
}

// Enroll enrolls this device for a handle over ACME (RFC 8555). It
// generates the device key and an account key locally and creates an account
// bound by the EAB credential. Then it orders a certificate for the handle
// and finalizes it with a CSR from pki.CreateCSR. The private keys never
// leave the device. It checks the returned chain against the device key and the
// profile (pki.VerifyPath) and stores everything in DeviceDir(Dir, handle)
// (see the package doc for the layout). A device directory there whose
// certificate was revoked is renamed to ".<handle>.revoked-<UTC time>"
// once the new certificate is issued, so the device enrolls again in
// place.
//
// Errors: *OptionError, *CodeError, *ExistsError, *ProtocolError (whose
// Err is often an *acme.Error with the server's problem), *ChainError, or a
// file system error. The EAB credential is used up once the account is
// created, so a failure after that needs a new code.
func Enroll(ctx context.Context, opts EnrollOptions) (*Device, error) {
	code, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	hc, now := httpClient(opts.HTTPClient), nowFunc(opts.Now)
	final := DeviceDir(opts.Dir, code.Handle)
	replaceRevoked := false
	if _, err := os.Stat(final); err == nil {
		_, chainErr := os.Stat(filepath.Join(final, ChainFile))
		if d, err := Load(final); err == nil && !d.Revoked.IsZero() {
			replaceRevoked = true
		} else {
			return nil, &ExistsError{Dir: final, Enrolled: chainErr == nil}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	// Keys go to a staging directory that becomes the device directory
	// only when enrollment succeeded.
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(opts.Dir, "."+string(code.Handle)+".enroll-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)

	deviceKey, err := pki.NewDeviceKey(opts.KeyType)
	if err != nil {
		return nil, &OptionError{Option: "KeyType", Reason: err.Error()}
	}
	accountKey, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		return nil, err
	}
	if err := pki.WritePrivateKeyFile(filepath.Join(stage, KeyFile), deviceKey); err != nil {
		return nil, err
	}
	if err := pki.WritePrivateKeyFile(filepath.Join(stage, AccountKeyFile), accountKey); err != nil {
		return nil, err
	}

	c := &acme.Client{Key: accountKey, DirectoryURL: code.DirectoryURL, HTTPClient: hc, UserAgent: userAgent}
	acct, err := c.Register(ctx, &acme.Account{
		Contact:                opts.Contact,
		ExternalAccountBinding: &acme.ExternalAccountBinding{KID: code.KeyID, Key: code.Key},
	}, acme.AcceptTOS)
	if err != nil {
		return nil, &ProtocolError{Step: "register", Err: err}
	}

	order, err := c.AuthorizeOrder(ctx, acme.DomainIDs(string(code.Handle)))
	if err != nil {
		return nil, &ProtocolError{Step: "order", Err: err}
	}
	chain, certURL, err := finalize(ctx, c, order, deviceKey, code.Handle, now())
	if err != nil {
		return nil, err
	}

	if err := os.WriteFile(filepath.Join(stage, ChainFile), pki.EncodeCertificates(chain...), 0o644); err != nil {
		return nil, err
	}
	m := &deviceMeta{Handle: string(code.Handle), DirectoryURL: code.DirectoryURL, AccountURL: acct.URI, CertificateURL: certURL, Enrolled: now().UTC()}
	if err := writeMeta(stage, m); err != nil {
		return nil, err
	}
	if err := os.Chmod(stage, 0o700); err != nil {
		return nil, err
	}
	aside := ""
	if replaceRevoked {
		// A name starting with "." is not listed as a device.
		aside = filepath.Join(opts.Dir, "."+string(code.Handle)+".revoked-"+now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(final, aside); err != nil {
			return nil, fmt.Errorf("move the revoked device in %s aside: %w", final, err)
		}
	}
	if err := os.Rename(stage, final); err != nil {
		return nil, fmt.Errorf("store the device in %s: %w", final, err)
	}
	d := newDevice(final, code.Handle, m, chain)
	d.Replaced = aside
	return d, nil
}

// finalize sends the CSR for key on a ready order, downloads the chain and
// checks it.
func finalize(ctx context.Context, c *acme.Client, order *acme.Order, key crypto.Signer, h handle.Handle, now time.Time) ([]*x509.Certificate, string, error) {
	if order.Status != acme.StatusReady {
		return nil, "", &ProtocolError{Step: "order", Err: fmt.Errorf("order is %q, not ready: the provider did not accept the account's binding to %s", order.Status, h)}
	}
	csr, err := pki.CreateCSR(nil, key, h)
	if err != nil {
		return nil, "", err
	}
	ders, certURL, err := c.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		return nil, "", &ProtocolError{Step: "finalize", Err: err}
	}
	chain, err := checkChain(ders, key, h, now)
	if err != nil {
		return nil, "", err
	}
	return chain, certURL, nil
}

// checkChain requires [leaf, CSC] where the leaf certifies key for exactly
// handle h and verifies to the CSC at now.
func checkChain(ders [][]byte, key crypto.Signer, h handle.Handle, now time.Time) ([]*x509.Certificate, error) {
	if len(ders) != 2 {
		return nil, &ChainError{Reason: fmt.Sprintf("%d certificates instead of [device certificate, CSC]", len(ders))}
	}
	chain := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &ChainError{Reason: fmt.Sprintf("certificate %d does not parse", i+1), Err: err}
		}
		chain[i] = c
	}
	leaf := chain[0]
	leafKey, err1 := x509.MarshalPKIXPublicKey(leaf.PublicKey)
	ownKey, err2 := x509.MarshalPKIXPublicKey(key.Public())
	if err1 != nil || err2 != nil || !bytes.Equal(leafKey, ownKey) {
		return nil, &ChainError{Reason: "the certificate is not for this device's key"}
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != string(h) {
		return nil, &ChainError{Reason: fmt.Sprintf("the certificate names %q instead of the handle %q", leaf.DNSNames, h)}
	}
	if err := pki.VerifyPath(leaf, chain[1], now); err != nil {
		return nil, &ChainError{Reason: "the certificate does not verify to the CSC", Err: err}
	}
	return chain, nil
}

func httpClient(hc *http.Client) *http.Client {
	if hc == nil {
		return http.DefaultClient
	}
	return hc
}

func nowFunc(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
