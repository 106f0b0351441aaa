package verify

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// Step names the check of the verification that failed. The steps run in
// the order of their values.
type Step int

const (
	// StepTLS is the connection check: TLS 1.3 and a presented chain.
	StepTLS Step = iota + 1
	// StepHandle reads the handle from the leaf's dNSName.
	StepHandle
	// StepPolicy applies the relying party's allow and deny suffixes.
	StepPolicy
	// StepDNS resolves the TLSA and TXT records and checks their DNSSEC status.
	StepDNS
	// StepTLSA matches the TLSA records against the chain.
	StepTLSA
	// StepPath verifies the path from the leaf to the matched trust anchor.
	StepPath
	// StepDID binds the leaf's URI SAN to the TXT did= value.
	StepDID
	// StepRevocation checks the leaf against the CSC's CRL.
	StepRevocation
)

var stepNames = map[Step]string{
	StepTLS:        "tls",
	StepHandle:     "handle",
	StepPolicy:     "policy",
	StepDNS:        "dns",
	StepTLSA:       "tlsa",
	StepPath:       "path",
	StepDID:        "did",
	StepRevocation: "revocation",
}

// String returns the lowercase name of the step, for example "tlsa".
func (s Step) String() string {
	if name, ok := stepNames[s]; ok {
		return name
	}
	return "step(" + strconv.Itoa(int(s)) + ")"
}

// Error is the error of every failed verification. Err holds the typed cause:
// one of the error types of this package, or an error of package handle,
// records, resolve or pki, wrapped so that errors.As reaches it.
type Error struct {
	// Step is the check that failed.
	Step Step
	// Handle is the handle the chain claimed, "" when it was not read yet.
	Handle string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	return "verify: " + e.Step.String() + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrNoCertificate is the cause when the client presented no certificate.
// It has one meaning only, so it is a sentinel. Match it with errors.Is.
var ErrNoCertificate = errors.New("the client presented no certificate: configure a device certificate for this site")

// VersionError reports a connection below TLS 1.3.
type VersionError struct {
	// Version is the negotiated version, a tls.VersionTLS* value.
	Version uint16
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("the connection uses TLS version 0x%04x; DNS handle logins require TLS 1.3 (0x0304)", e.Version)
}

// SANError reports a leaf whose subject alternative names of one kind are
// not exactly one.
type SANError struct {
	// Kind is "dNSName" or "URI".
	Kind string
	// Values are the names of that kind in the leaf.
	Values []string
}

func (e *SANError) Error() string {
	if len(e.Values) == 0 {
		return fmt.Sprintf("the leaf certificate has no %s SAN; it must carry exactly one", e.Kind)
	}
	return fmt.Sprintf("the leaf certificate has %d %s SANs %q; it must carry exactly one", len(e.Values), e.Kind, e.Values)
}

// PolicyError reports a handle that the relying party's Policy rejects.
type PolicyError struct {
	// Handle is the rejected handle.
	Handle string
	// Rule is "deny" when a Deny suffix matched, "allow" when Allow is not
	// empty and none of its suffixes matched, or "invalid" when the Policy
	// itself holds an entry that is not a suffix.
	Rule string
	// Suffix is the matching Deny entry or the invalid entry ("" for "allow").
	Suffix string
}

func (e *PolicyError) Error() string {
	switch e.Rule {
	case "deny":
		return fmt.Sprintf("handle %q matches the deny suffix %q of this relying party", e.Handle, e.Suffix)
	case "allow":
		return fmt.Sprintf("handle %q matches none of the allowed suffixes of this relying party", e.Handle)
	default:
		return fmt.Sprintf("policy entry %q is not a valid handle suffix: use \"example.edu\" or \"*.example.edu\"", e.Suffix)
	}
}

// TimeoutError reports a resolution that did not finish within
// Verifier.Timeout or before the deadline of the caller's context.
type TimeoutError struct {
	// Handle is the handle being resolved.
	Handle string
	// Timeout is the limit that applied: Verifier.Timeout, or the time
	// left before the caller's deadline when that was shorter.
	Timeout time.Duration
	// Err is the context error or the resolver's error.
	Err error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("resolving %s did not finish within %s: %v", e.Handle, e.Timeout, e.Err)
}

// Unwrap returns the context or resolver error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// DNSSECError reports an RRset whose DNSSEC status the Policy rejects.
type DNSSECError struct {
	// Name is the owner name, for example "bob.dhp.test.".
	Name string
	// Type is the RR type, "TLSA" or "TXT".
	Type string
	// Status is the DNSSEC status of the RRset.
	Status resolve.Status
	// Reason is the resolver's explanation of the status.
	Reason string
}

func (e *DNSSECError) Error() string {
	msg := fmt.Sprintf("the %s RRset at %s is %s", e.Type, e.Name, e.Status)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Status == resolve.Insecure || e.Status == resolve.Indeterminate {
		return msg + ": sign the zone with DNSSEC, or set Policy.AllowInsecure for development only"
	}
	return msg + ": the records cannot be trusted"
}

// NoTLSAError reports a handle without TLSA records.
type NoTLSAError struct {
	// Name is the TLSA owner name, for example "bob.dhp.test.".
	Name string
	// NXDomain is true when the name does not exist at all.
	NXDomain bool
}

func (e *NoTLSAError) Error() string {
	if e.NXDomain {
		return fmt.Sprintf("the name %s does not exist in DNS (NXDOMAIN): the handle is not published", e.Name)
	}
	return fmt.Sprintf("no TLSA record at %s: publish the \"2 1 1\" record of the identity's CSC", e.Name)
}

// TLSAMatchError reports a chain that no usable TLSA record matched.
type TLSAMatchError struct {
	// Name is the TLSA owner name.
	Name string
	// Records is the number of TLSA records in the RRset.
	Records int
	// PKIXIgnored is the number of PKIX-TA and PKIX-EE records left out
	// because Policy.AllowPKIX is off.
	PKIXIgnored int
	// Err is the matcher's error, for example *records.NoMatchError.
	Err error
}

func (e *TLSAMatchError) Error() string {
	counts := fmt.Sprintf("%d records", e.Records)
	if nm, ok := errors.AsType[*records.NoMatchError](e.Err); ok {
		counts = fmt.Sprintf("%d usable records", nm.Usable)
	}
	if e.PKIXIgnored > 0 {
		counts += fmt.Sprintf(", %d PKIX records ignored because Policy.AllowPKIX is off", e.PKIXIgnored)
	}
	return fmt.Sprintf("no TLSA record at %s matched the chain (%s): %v", e.Name, counts, e.Err)
}

// Unwrap returns the matcher's error.
func (e *TLSAMatchError) Unwrap() error { return e.Err }

// NameMismatchError reports a leaf whose dNSName is a valid handle but not
// written in its normal form, for example in another letter case.
type NameMismatchError struct {
	// DNSName is the leaf's dNSName as written in the certificate.
	DNSName string
	// Handle is the normalized handle.
	Handle string
}

func (e *NameMismatchError) Error() string {
	return fmt.Sprintf("the leaf's dNSName %q is not exactly the handle %q: the certificate must name the handle in lowercase A-label form", e.DNSName, e.Handle)
}

// DIDMismatchError reports a leaf DID that differs from the DID in DNS.
type DIDMismatchError struct {
	// Certificate is the DID in the leaf's URI SAN.
	Certificate string
	// DNS is the did= value at _atproto.<handle>.
	DNS string
}

func (e *DIDMismatchError) Error() string {
	return fmt.Sprintf("the leaf's DID %q differs from the did= value %q published in DNS", e.Certificate, e.DNS)
}

// MissingDIDError reports a handle without a did= value in DNS while the
// Policy requires the binding.
type MissingDIDError struct {
	// Name is the TXT owner name, for example "_atproto.bob.dhp.test.".
	Name string
}

func (e *MissingDIDError) Error() string {
	return fmt.Sprintf("no did= value in the TXT records at %s: publish did=<DID>, or set Policy.AllowMissingDID", e.Name)
}

// DIDKeyError reports a did:key that is not the key of any trust anchor
// accredited by the TLSA records.
type DIDKeyError struct {
	// DID is the did:key value.
	DID string
}

func (e *DIDKeyError) Error() string {
	return fmt.Sprintf("%s is not the key of the CSC (or, for DANE-EE, the leaf) that the TLSA records accredit", e.DID)
}

// PKIXError reports a chain with a matching PKIX-TA or PKIX-EE record that
// does not verify against the PKIX roots.
type PKIXError struct {
	// Err is the error of x509.Certificate.Verify, or a description of why
	// the matched certificate is not in any verified chain.
	Err error
}

func (e *PKIXError) Error() string {
	return "the chain matched a PKIX TLSA record but does not verify against the PKIX roots: " + e.Err.Error()
}

// Unwrap returns the x509 error.
func (e *PKIXError) Unwrap() error { return e.Err }

// RevokedError reports a leaf listed on the CRL of its CSC.
type RevokedError struct {
	// Serial is the leaf's serial number in hex.
	Serial string
	// RevokedAt is the revocation time from the CRL.
	RevokedAt time.Time
	// Reason is the CRL entry's reason code.
	Reason pki.RevocationReason
	// Issuer is the CSC's subject.
	Issuer string
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("the leaf with serial %s was revoked by %s at %s (reason %s)", e.Serial, e.Issuer, e.RevokedAt.UTC().Format(time.RFC3339), e.Reason)
}
