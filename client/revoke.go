package client

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/pki"
)

// RevokeOptions configures Revoke.
type RevokeOptions struct {
	// Reason is the CRLReason sent to the provider; the zero value is
	// unspecified. The provider accepts unspecified, keyCompromise,
	// affiliationChanged, superseded and cessationOfOperation.
	Reason pki.RevocationReason
	// HTTPClient sends the requests. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now returns the current time, recorded as the revocation time. Nil
	// means time.Now.
	Now func() time.Time
}

// RevokedError reports a device whose certificate meta.json already records
// as revoked, so Revoke sent nothing to the provider.
type RevokedError struct {
	Dir string
	// At is the revocation time recorded by the earlier Revoke.
	At time.Time
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("the device certificate in %s was already revoked at %s: enroll again to get a new one",
		e.Dir, e.At.UTC().Format(time.RFC3339))
}

// Revoke requests the provider to revoke the device certificate in deviceDir,
// signing with the device's ACME account key (RFC 8555, section 7.6), and
// records the revocation in meta.json. The key files stay: remove the
// directory to forget the device. Errors: *RevokedError when meta.json
// already records a revocation, *StoreError, *ProtocolError, or a file
// system error.
func Revoke(ctx context.Context, deviceDir string, opts RevokeOptions) error {
	d, err := Load(deviceDir)
	if err != nil {
		return err
	}
	if !d.Revoked.IsZero() {
		return &RevokedError{Dir: d.Dir, At: d.Revoked}
	}
	accountKey, err := pki.ReadPrivateKeyFile(filepath.Join(d.Dir, AccountKeyFile))
	if err != nil {
		return err
	}
	c := &acme.Client{
		Key:          accountKey,
		KID:          acme.KeyID(d.AccountURL),
		DirectoryURL: d.DirectoryURL,
		HTTPClient:   httpClient(opts.HTTPClient),
		UserAgent:    userAgent,
	}
	if err := c.RevokeCert(ctx, nil, d.Leaf().Raw, acme.CRLReasonCode(opts.Reason)); err != nil {
		return &ProtocolError{Step: "revoke", Err: err}
	}

	m, err := readMeta(deviceDir)
	if err != nil {
		return err
	}
	revoked := nowFunc(opts.Now)().UTC()
	m.Revoked = &revoked
	return writeMeta(deviceDir, m)
}
