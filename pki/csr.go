package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"unicode/utf8"

	"github.com/dnshandle/dnshandle/handle"
)

// CreateCSR returns the DER encoding of a certificate signing request for
// handle h, signed with key: Subject CN=<h> and one dNSName SAN <h>, the
// form ACME clients send. A nil random means crypto/rand.Reader.
func CreateCSR(random io.Reader, key crypto.Signer, h handle.Handle) ([]byte, error) {
	if err := checkHandle(h); err != nil {
		return nil, err
	}
	template := &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: string(h)},
		DNSNames: []string{string(h)},
	}
	der, err := x509.CreateCertificateRequest(randOrDefault(random), template, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR for %s: %w", h, err)
	}
	return der, nil
}

var (
	oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSAN        = asn1.ObjectIdentifier{2, 5, 29, 17}

	// attributeNames gives readable names for the subject attributes a CSR
	// most often carries, for error messages.
	attributeNames = map[string]string{
		"2.5.4.6":              "C",
		"2.5.4.7":              "L",
		"2.5.4.8":              "ST",
		"2.5.4.10":             "O",
		"2.5.4.11":             "OU",
		"2.5.4.5":              "serialNumber",
		"1.2.840.113549.1.9.1": "emailAddress",
	}
)

// GeneralName tags, RFC 5280, section 4.2.1.6.
var generalNameFields = map[int]string{
	0: "otherName",
	1: "email address",
	2: "dNSName",
	3: "x400Address",
	4: "directoryName",
	5: "ediPartyName",
	6: "URI",
	7: "IP address",
	8: "registeredID",
}

// CheckCSR checks that csr may be signed by csc, in this order:
//   - the public key is ECDSA P-256 or P-384, Ed25519, or RSA of MinRSABits
//     to MaxRSABits bits, and it is not the CSC's own key;
//   - the CSR signature verifies with that key;
//   - the subject holds only common names, each equal to the handle;
//   - every subjectAltName is a dNSName equal to the handle;
//   - the handle appears at least once, as CN or as dNSName. A CN-only CSR
//     is accepted because some ACME clients send no SAN.
//
// Names compare without regard to ASCII letter case. Other requested extensions
// are ignored because IssueDevice builds every extension from the profile.
// Errors are *CSRError values naming the offending field and value.
func CheckCSR(csr *x509.CertificateRequest, csc *CSC) error {
	if csr == nil || csc == nil || csc.Certificate == nil {
		return &CSRError{Field: "input", Reason: "a CSR and a CSC are both required"}
	}

	if reason := checkDeviceKey(csr.PublicKey); reason != "" {
		return &CSRError{Field: "public key", Value: describeKey(csr.PublicKey), Reason: reason}
	}
	if pub, ok := csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(csc.Certificate.PublicKey) {
		return &CSRError{Field: "public key", Value: describeKey(csr.PublicKey),
			Reason: "the CSR uses the CSC's own key: generate a separate key on the device"}
	}
	if err := csr.CheckSignature(); err != nil {
		return &CSRError{Field: "signature", Reason: "does not verify with the CSR public key: " + err.Error()}
	}

	named, err := checkSubject(csr.Subject, csc.Handle)
	if err != nil {
		return err
	}
	sanNamed, err := checkSANs(csr.Extensions, csc.Handle)
	if err != nil {
		return err
	}
	if !named && !sanNamed {
		return &CSRError{Field: "subject", Reason: fmt.Sprintf("the CSR names no identifier: put %q in the CN or in a dNSName", csc.Handle)}
	}
	return nil
}

// checkSubject reports whether the subject names the handle, and rejects any
// attribute other than a common name equal to the handle.
func checkSubject(subject pkix.Name, h handle.Handle) (bool, error) {
	named := false
	for _, atv := range subject.Names {
		if !atv.Type.Equal(oidCommonName) {
			name, ok := attributeNames[atv.Type.String()]
			if !ok {
				name = atv.Type.String()
			}
			return false, &CSRError{Field: "subject attribute " + name, Value: fmt.Sprint(atv.Value),
				Reason: "only a common name equal to the handle is allowed"}
		}
		cn, ok := atv.Value.(string)
		if !ok || !isHandle(cn, h) {
			return false, &CSRError{Field: "subject CN", Value: fmt.Sprint(atv.Value),
				Reason: fmt.Sprintf("the CN must be the handle %q", h)}
		}
		named = true
	}
	return named, nil
}

// checkSANs walks every subjectAltName extension of a CSR and reports whether
// one of them names the handle. crypto/x509 parses only four GeneralName
// types and skips the rest, so the extension is read here in full.
func checkSANs(exts []pkix.Extension, h handle.Handle) (bool, error) {
	named := false
	for _, ext := range exts {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		var names []asn1.RawValue
		rest, err := asn1.Unmarshal(ext.Value, &names)
		if err != nil || len(rest) != 0 {
			return false, &CSRError{Field: "subjectAltName", Reason: "malformed extension"}
		}
		for _, gn := range names {
			if err := checkGeneralName(gn, h); err != nil {
				return false, err
			}
			named = true
		}
	}
	return named, nil
}

func checkGeneralName(gn asn1.RawValue, h handle.Handle) error {
	field, ok := generalNameFields[gn.Tag]
	if gn.Class != asn1.ClassContextSpecific || !ok {
		return &CSRError{Field: "subjectAltName", Value: hex.EncodeToString(gn.FullBytes),
			Reason: "unknown GeneralName type"}
	}

	switch gn.Tag {
	case 2:
		if isHandle(string(gn.Bytes), h) {
			return nil
		}
		return &CSRError{Field: field, Value: string(gn.Bytes),
			Reason: fmt.Sprintf("only the handle %q may be requested", h)}
	case 7:
		return &CSRError{Field: field, Value: net.IP(gn.Bytes).String(),
			Reason: "IP addresses are not allowed: request only the handle"}
	case 1, 6:
		return &CSRError{Field: field, Value: string(gn.Bytes),
			Reason: "only the handle may be requested; the provider adds the permanent identifier URI itself"}
	default:
		return &CSRError{Field: field, Value: hex.EncodeToString(gn.Bytes),
			Reason: "only a dNSName equal to the handle may be requested"}
	}
}

// isHandle reports whether name is h in any ASCII letter case. Non-ASCII
// names never match, so Unicode case folding (the Kelvin sign K folds to
// "k") cannot make another name look like the handle.
func isHandle(name string, h handle.Handle) bool {
	for i := range len(name) {
		if name[i] >= utf8.RuneSelf {
			return false
		}
	}
	return strings.EqualFold(name, string(h))
}
