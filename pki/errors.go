package pki

import (
	"fmt"
	"time"
)

// OptionError reports an invalid option or argument given to a function of
// this package, such as an empty device label or a negative lifetime.
type OptionError struct {
	Option string // name of the option or argument, e.g. "Label"
	Value  string // the value as given
	Reason string // what is wrong and what to use instead
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Option, e.Value, e.Reason)
}

// KeyTypeError reports a KeyType that the called function does not support.
type KeyTypeError struct {
	KeyType   KeyType
	Supported []KeyType
}

func (e *KeyTypeError) Error() string {
	return fmt.Sprintf("unsupported key type %q: use one of %v", e.KeyType, e.Supported)
}

// CSRError reports a certificate signing request that IssueDevice rejects.
// Field names the part of the request and Value the offending value.
type CSRError struct {
	Field  string // "signature", "public key", "dNSName", "IP address", "email address", "URI", "subject", ...
	Value  string // offending value as text; empty when the field has none
	Reason string // what is wrong and what to do
}

func (e *CSRError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("invalid CSR %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("invalid CSR %s %q: %s", e.Field, e.Value, e.Reason)
}

// CSCValidityError reports a CSC that is not valid at the time a device
// certificate or CRL is to be signed.
type CSCValidityError struct {
	Handle    string
	NotBefore time.Time
	NotAfter  time.Time
	Now       time.Time
}

func (e *CSCValidityError) Error() string {
	if e.Now.Before(e.NotBefore) {
		return fmt.Sprintf("CSC of %s is not valid before %s (now %s): check the clock",
			e.Handle, e.NotBefore.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("CSC of %s expired at %s (now %s): renew the CSC with the same key",
		e.Handle, e.NotAfter.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
}

// ProfileError reports a certificate that does not follow the profile of
// this package, for example a CSC loaded from storage whose key does not
// match or whose issuer is not the marker.
type ProfileError struct {
	Cert   string // "CSC" or "leaf"
	Field  string // e.g. "issuer", "basic constraints", "key"
	Reason string
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("%s does not follow the DNS handle profile: %s: %s", e.Cert, e.Field, e.Reason)
}

// Steps of VerifyPath, the values of PathError.Step.
const (
	StepInput             = "input"
	StepBasicConstraints  = "basic constraints"
	StepPathLength        = "path length"
	StepKeyUsage          = "key usage"
	StepIssuer            = "issuer"
	StepSignature         = "signature"
	StepValidity          = "validity"
	StepExtKeyUsage       = "extended key usage"
	StepCriticalExtension = "critical extension"
)

// PathError reports the step of VerifyPath that failed, on which certificate
// ("leaf" or "CSC"), and why. Err holds the underlying error, if any.
type PathError struct {
	Step   string // one of the Step constants
	Cert   string // "leaf" or "CSC"
	Reason string
	Err    error
}

func (e *PathError) Error() string {
	return fmt.Sprintf("certificate path check failed at %s of %s: %s", e.Step, e.Cert, e.Reason)
}

func (e *PathError) Unwrap() error { return e.Err }

// CRLError reports a CRL that cannot be used: malformed, issued by another
// name than the CSC, or carrying a critical extension this package does not
// process (RFC 5280, section 5.2). Signature and validity failures have their
// own types, CRLSignatureError and CRLValidityError.
type CRLError struct {
	Reason string
	Err    error
}

func (e *CRLError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("unusable CRL: %s: %v", e.Reason, e.Err)
	}
	return "unusable CRL: " + e.Reason
}

func (e *CRLError) Unwrap() error { return e.Err }

// CRLSignatureError reports a CRL whose signature does not verify with the
// public key of the CSC it is checked against.
type CRLSignatureError struct {
	CSC string // subject of the CSC
	Err error
}

func (e *CRLSignatureError) Error() string {
	return fmt.Sprintf("CRL signature does not verify with the key of CSC %q: %v: fetch the CRL again from the handle's provider", e.CSC, e.Err)
}

func (e *CRLSignatureError) Unwrap() error { return e.Err }

// CRLValidityError reports a CRL outside its validity window: now is before
// ThisUpdate, after NextUpdate, or the CRL has no NextUpdate at all.
type CRLValidityError struct {
	ThisUpdate time.Time
	NextUpdate time.Time // zero when the CRL has none
	Now        time.Time
}

// Expired reports whether the CRL failed because NextUpdate has passed.
func (e *CRLValidityError) Expired() bool {
	return !e.NextUpdate.IsZero() && e.Now.After(e.NextUpdate)
}

func (e *CRLValidityError) Error() string {
	now := e.Now.UTC().Format(time.RFC3339)
	switch {
	case e.NextUpdate.IsZero():
		return "CRL has no nextUpdate, so its freshness is unknown: the issuer must set nextUpdate (RFC 5280, section 5.1.2.5)"
	case e.Expired():
		return fmt.Sprintf("CRL expired at %s (now %s): fetch a fresh CRL", e.NextUpdate.UTC().Format(time.RFC3339), now)
	default:
		return fmt.Sprintf("CRL is not valid before %s (now %s): check the clock", e.ThisUpdate.UTC().Format(time.RFC3339), now)
	}
}

// PEMError reports PEM input that does not contain what the caller expected.
type PEMError struct {
	Block  int    // 1-based index of the offending block; 0 when the input as a whole is wrong
	Type   string // PEM type of the offending block, if any
	Reason string
}

func (e *PEMError) Error() string {
	if e.Block == 0 {
		return "invalid PEM: " + e.Reason
	}
	return fmt.Sprintf("invalid PEM block %d (%q): %s", e.Block, e.Type, e.Reason)
}
