package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// CRLRequest names the certificates of one revocation check: the leaf
// whose status is checked and the CSC that issued it and signs its CRL.
type CRLRequest struct {
	// Leaf is the device certificate. Its CRL distribution points tell
	// a fetching source where the CRL is published.
	Leaf *x509.Certificate
	// CSC is the accredited CSC that issued Leaf.
	CSC *x509.Certificate
}

// CRLResponse is the CRL that a LeafCRLSource supplies for one CRLRequest.
type CRLResponse struct {
	// DER is the CRL. Nil means that no CRL applies to this leaf, and the
	// revocation check is skipped for it.
	DER []byte
	// Grace is how long after the CRL's NextUpdate the Verifier still
	// accepts it. A source sets it when it keeps serving its last CRL
	// while it cannot fetch a newer one. Within the grace period the
	// Verifier checks the CRL as of its NextUpdate: its issuer,
	// signature and entries still count, only its age is forgiven.
	// Zero means no grace, as RFC 5280, section 5.1.2.5 reads.
	Grace time.Duration
}

// LeafCRLSource is a CRLSource that also receives the leaf, for sources
// that find the CRL through the leaf's CRL distribution points, such as
// *CRLFetcher. When Verifier.CRLs implements it, the Verifier calls
// LeafCRL and never CRL. Implementations must be safe for concurrent use.
// An error fails the verification, as for CRLSource.
type LeafCRLSource interface {
	CRLSource
	LeafCRL(ctx context.Context, req CRLRequest) (CRLResponse, error)
}

// checkRevocation fetches the CRL of each accredited CSC and fails when it
// lists the leaf. DANE-EE and PKIX anchors have no CSC and are skipped.
func (v *Verifier) checkRevocation(ctx context.Context, leaf *x509.Certificate, anchors []anchor) error {
	if v.CRLs == nil {
		return nil
	}
	for _, a := range anchors {
		if a.csc == nil {
			continue
		}
		if err := v.checkCRL(ctx, leaf, a.csc); err != nil {
			return err
		}
	}
	return nil
}

func (v *Verifier) checkCRL(ctx context.Context, leaf, csc *x509.Certificate) error {
	ctx, cancel := context.WithTimeout(ctx, v.timeout())
	defer cancel()

	resp, err := v.fetchCRL(ctx, leaf, csc)
	if err != nil {
		return &CRLFetchError{CSC: csc.Subject.String(), Err: err}
	}
	if resp.DER == nil {
		return nil
	}

	crl, err := pki.ParseCRL(resp.DER)
	if err != nil {
		return err
	}
	status, err := pki.CheckRevokedList(crl, csc, leaf, crlCheckTime(crl, v.now(), resp.Grace))
	if err != nil {
		return err
	}
	if status.Revoked {
		return &RevokedError{
			Serial:    fmt.Sprintf("%x", leaf.SerialNumber),
			RevokedAt: status.RevokedAt,
			Reason:    status.Reason,
			Issuer:    csc.Subject.String(),
		}
	}
	return nil
}

// fetchCRL gets the CSC's CRL from the CRLSource, and passes the leaf
// too when the source is a LeafCRLSource.
func (v *Verifier) fetchCRL(ctx context.Context, leaf, csc *x509.Certificate) (CRLResponse, error) {
	if source, ok := v.CRLs.(LeafCRLSource); ok {
		return source.LeafCRL(ctx, CRLRequest{Leaf: leaf, CSC: csc})
	}
	der, err := v.CRLs.CRL(ctx, csc)
	return CRLResponse{DER: der}, err
}

// crlCheckTime returns the time at which the CRL's validity is checked:
// now, or the CRL's NextUpdate when now is past it but within grace.
func crlCheckTime(crl *x509.RevocationList, now time.Time, grace time.Duration) time.Time {
	if grace <= 0 || crl.NextUpdate.IsZero() {
		return now
	}
	if now.After(crl.NextUpdate) && !now.After(crl.NextUpdate.Add(grace)) {
		return crl.NextUpdate
	}
	return now
}

// CRLFetchError reports a CRLSource that failed to supply a CRL.
type CRLFetchError struct {
	// CSC is the subject of the CSC whose CRL was requested.
	CSC string
	// Err is the CRLSource's error.
	Err error
}

func (e *CRLFetchError) Error() string {
	msg := fmt.Sprintf("cannot get the CRL of CSC %q: %v", e.CSC, e.Err)
	if errors.Is(e.Err, context.DeadlineExceeded) {
		msg += ": the CRL source did not answer in time"
	}
	return msg
}

// Unwrap returns the CRLSource's error.
func (e *CRLFetchError) Unwrap() error { return e.Err }

// CRLSourceFunc adapts a function to CRLSource.
type CRLSourceFunc func(ctx context.Context, csc *x509.Certificate) ([]byte, error)

// CRL calls f.
func (f CRLSourceFunc) CRL(ctx context.Context, csc *x509.Certificate) ([]byte, error) {
	return f(ctx, csc)
}
