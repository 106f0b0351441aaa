package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"time"
)

// VerifyPath checks the two-certificate path from a device certificate
// (leaf) to a CSC that a DANE-TA TLSA record accredits as trust anchor, at
// time now. The checks are written out here rather than delegated to
// x509.Certificate.Verify. Verify accepts the CSC as a root although it is
// not self-signed, but with no intermediates it accepts any
// pathLenConstraint where the profile requires 0. It also reports failures
// with a few generic reasons, where PathError names the step.
//
// In order, VerifyPath requires:
//   - CSC: CA:TRUE in a valid basicConstraints extension, pathLenConstraint
//     exactly 0, and keyCertSign when a KeyUsage extension is present;
//   - leaf Issuer equal, byte for byte, to the CSC Subject;
//   - the leaf signature verifies with the CSC public key (SHA-1 and MD5
//     signatures are rejected, as crypto/x509 does for certificates);
//   - now within the validity windows of the CSC and of the leaf, bounds
//     included;
//   - the leaf is not a CA and lists clientAuth or anyExtendedKeyUsage in
//     its ExtKeyUsage. A leaf without the extension is rejected because
//     the profile requires clientAuth;
//   - neither certificate has a critical extension that crypto/x509 did
//     not process (RFC 5280, section 4.2).
//
// It does not check names (the caller matches the leaf's dNSName to the
// handle whose TLSA matched), the DID, or revocation (see CheckRevoked).
// Every failure is a *PathError whose Step names the check.
func VerifyPath(leaf, csc *x509.Certificate, now time.Time) error {
	if leaf == nil || csc == nil {
		return &PathError{Step: StepInput, Cert: "leaf", Reason: "leaf and CSC certificates are both required"}
	}

	if pe := checkCSCConstraints(csc); pe != nil {
		return pe
	}
	if !bytes.Equal(leaf.RawIssuer, csc.RawSubject) {
		return &PathError{Step: StepIssuer, Cert: "leaf",
			Reason: fmt.Sprintf("issuer %q is not the CSC subject %q", leaf.Issuer, csc.Subject)}
	}
	if err := leaf.CheckSignatureFrom(csc); err != nil {
		return &PathError{Step: StepSignature, Cert: "leaf",
			Reason: "signature does not verify with the CSC public key", Err: err}
	}

	if pe := checkValidity(csc, "CSC", now); pe != nil {
		return pe
	}
	if pe := checkValidity(leaf, "leaf", now); pe != nil {
		return pe
	}

	if leaf.BasicConstraintsValid && leaf.IsCA {
		return &PathError{Step: StepBasicConstraints, Cert: "leaf", Reason: "a device certificate must not be a CA"}
	}
	if !hasClientAuth(leaf) {
		return &PathError{Step: StepExtKeyUsage, Cert: "leaf",
			Reason: "extended key usage does not include clientAuth"}
	}

	if pe := checkCritical(csc, "CSC"); pe != nil {
		return pe
	}
	if pe := checkCritical(leaf, "leaf"); pe != nil {
		return pe
	}
	return nil
}

// checkCSCConstraints checks the CA flag, path length and key usage of a CSC.
func checkCSCConstraints(csc *x509.Certificate) *PathError {
	// RFC 5280, section 4.2.1.9: without cA asserted in basicConstraints the
	// key must not verify certificate signatures.
	if !csc.BasicConstraintsValid || !csc.IsCA {
		return &PathError{Step: StepBasicConstraints, Cert: "CSC", Reason: "not a CA: basicConstraints cA is not TRUE"}
	}
	// A CSC signs device certificates only, never another CA.
	if csc.MaxPathLen != 0 || !csc.MaxPathLenZero {
		return &PathError{Step: StepPathLength, Cert: "CSC", Reason: describePathLen(csc) + ", expected 0"}
	}
	// RFC 5280, section 4.2.1.3: keyCertSign must be set when the key
	// verifies certificate signatures and the extension is present.
	if csc.KeyUsage != 0 && csc.KeyUsage&x509.KeyUsageCertSign == 0 {
		return &PathError{Step: StepKeyUsage, Cert: "CSC", Reason: "key usage does not include keyCertSign"}
	}
	return nil
}

func describePathLen(c *x509.Certificate) string {
	if c.MaxPathLen < 0 || (c.MaxPathLen == 0 && !c.MaxPathLenZero) {
		return "pathLenConstraint is absent (unlimited)"
	}
	return fmt.Sprintf("pathLenConstraint is %d", c.MaxPathLen)
}

func checkValidity(c *x509.Certificate, role string, now time.Time) *PathError {
	if now.Before(c.NotBefore) {
		return &PathError{Step: StepValidity, Cert: role,
			Reason: fmt.Sprintf("not valid before %s (now %s)", c.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	}
	if now.After(c.NotAfter) {
		return &PathError{Step: StepValidity, Cert: role,
			Reason: fmt.Sprintf("expired at %s (now %s)", c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	}
	return nil
}

func hasClientAuth(c *x509.Certificate) bool {
	for _, eku := range c.ExtKeyUsage {
		if eku == x509.ExtKeyUsageClientAuth || eku == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func checkCritical(c *x509.Certificate, role string) *PathError {
	if len(c.UnhandledCriticalExtensions) == 0 {
		return nil
	}
	return &PathError{Step: StepCriticalExtension, Cert: role,
		Reason: fmt.Sprintf("unprocessed critical extension %s", oidList(c.UnhandledCriticalExtensions))}
}

func oidList(oids []asn1.ObjectIdentifier) string {
	var b bytes.Buffer
	for i, oid := range oids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(oid.String())
	}
	return b.String()
}
