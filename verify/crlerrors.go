package verify

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// CRLUnavailableError reports that a CRLFetcher has no usable CRL from a
// distribution point: the fetch failed, and no CRL fetched from it before
// is within its NextUpdate plus the grace period.
type CRLUnavailableError struct {
	// URL is the distribution point.
	URL string
	// Err is the cause of the last failed fetch: a transport error, a
	// *CRLStatusError, a *CRLTooLargeError, a *CRLRollbackError, a pki
	// error for a CRL that did not pass the checks, or the context error
	// when the verification stopped waiting.
	Err error
	// NextUpdate is the NextUpdate of the CRL fetched from URL before,
	// zero when none was fetched.
	NextUpdate time.Time
	// Grace is the CRLFetcher's Grace.
	Grace time.Duration
}

func (e *CRLUnavailableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fetching the CRL at %s failed: %v; ", e.URL, e.Err)
	if e.NextUpdate.IsZero() {
		b.WriteString("no earlier CRL from it is kept")
	} else {
		fmt.Fprintf(&b, "the CRL fetched from it before expired at %s", e.NextUpdate.UTC().Format(time.RFC3339))
		if e.Grace > 0 {
			fmt.Fprintf(&b, " (grace %s)", e.Grace)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.advice())
	return b.String()
}

// advice returns what to do about the cause.
func (e *CRLUnavailableError) advice() string {
	var unknownAuthority x509.UnknownAuthorityError
	var certificate *tls.CertificateVerificationError
	var signature *pki.CRLSignatureError
	var invalid *pki.CRLError
	var validity *pki.CRLValidityError
	var rollback *CRLRollbackError
	switch {
	case errors.As(e.Err, &unknownAuthority) || errors.As(e.Err, &certificate):
		return "the server's HTTPS certificate is not trusted: trust the CA of the provider's HTTPS certificate"
	case errors.As(e.Err, &signature) || errors.As(e.Err, &invalid) || errors.As(e.Err, &validity) || errors.As(e.Err, &rollback):
		return "the URL does not serve a current CRL signed by this CSC; the handle's provider must publish it there"
	}
	return "check that this relying party can reach the URL and that the handle's provider serves the CRL there"
}

// Unwrap returns the cause of the failed fetch.
func (e *CRLUnavailableError) Unwrap() error { return e.Err }

// MissingDistributionPointError reports a leaf without an http or https
// CRL distribution point, whose revocation status a CRLFetcher cannot
// learn.
type MissingDistributionPointError struct {
	// Serial is the leaf's serial number in hex.
	Serial string
	// Issuer is the leaf's issuer, the CSC subject.
	Issuer string
	// Unsupported lists the distribution points of other schemes, such
	// as ldap, which are not fetched.
	Unsupported []string
}

func (e *MissingDistributionPointError) Error() string {
	msg := fmt.Sprintf("the leaf with serial %s from %s has no http or https CRL distribution point", e.Serial, e.Issuer)
	if len(e.Unsupported) > 0 {
		msg += fmt.Sprintf(" (only %q)", e.Unsupported)
	}
	return msg + ", so its revocation status is unknown: issue device certificates with a CRL distribution point, or set CRLFetcher.AllowMissingDistributionPoint"
}

// CRLStatusError reports a CRL response whose HTTP status is not 200.
type CRLStatusError struct {
	// URL is the distribution point.
	URL string
	// StatusCode is the HTTP status code.
	StatusCode int
}

func (e *CRLStatusError) Error() string {
	return fmt.Sprintf("%s answered %d %s, want 200 with a DER CRL", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// CRLTooLargeError reports a CRL response body over CRLFetcher.MaxBytes.
type CRLTooLargeError struct {
	// URL is the distribution point.
	URL string
	// Limit is the MaxBytes in force, in bytes.
	Limit int64
}

func (e *CRLTooLargeError) Error() string {
	return fmt.Sprintf("the CRL at %s is larger than %d bytes: raise CRLFetcher.MaxBytes if the issuer's CRLs are that large", e.URL, e.Limit)
}

// CRLRollbackError reports a fetched CRL older than the one fetched from
// the same URL before, for example an old CRL replayed to undo a
// revocation. The newer CRL stays in use.
type CRLRollbackError struct {
	// Number and ThisUpdate describe the fetched CRL. Number is nil when
	// the CRL has no cRLNumber.
	Number     *big.Int
	ThisUpdate time.Time
	// PreviousNumber and PreviousThisUpdate describe the CRL kept before.
	PreviousNumber     *big.Int
	PreviousThisUpdate time.Time
}

func (e *CRLRollbackError) Error() string {
	if e.Number != nil && e.PreviousNumber != nil {
		return fmt.Sprintf("the CRL fetched has cRLNumber %s, lower than %s of the CRL fetched before: an older CRL was served", e.Number, e.PreviousNumber)
	}
	return fmt.Sprintf("the CRL fetched was issued at %s, before the CRL fetched earlier (%s): an older CRL was served",
		e.ThisUpdate.UTC().Format(time.RFC3339), e.PreviousThisUpdate.UTC().Format(time.RFC3339))
}
