package records

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Usage is the certificate usage field of a TLSA record, RFC 6698,
// section 2.1.1.
type Usage uint8

// Certificate usages, RFC 6698, section 2.1.1, with the acronyms of
// RFC 7218.
const (
	// PKIXTA matches a CA certificate in the chain, which must also pass
	// PKIX validation to a configured root.
	PKIXTA Usage = 0
	// PKIXEE matches the leaf, which must also pass PKIX validation.
	PKIXEE Usage = 1
	// DANETA matches a CA certificate in the chain that becomes the trust
	// anchor, with no root store involved. The CSC record uses it.
	DANETA Usage = 2
	// DANEEE matches the leaf itself.
	DANEEE Usage = 3
)

// Selector is the selector field of a TLSA record, RFC 6698, section 2.1.2.
type Selector uint8

// Selectors, RFC 6698, section 2.1.2.
const (
	// SelectorCert selects the whole DER certificate.
	SelectorCert Selector = 0
	// SelectorSPKI selects the DER SubjectPublicKeyInfo.
	SelectorSPKI Selector = 1
)

// MatchingType is the matching type field of a TLSA record, RFC 6698,
// section 2.1.3.
type MatchingType uint8

// Matching types, RFC 6698, section 2.1.3.
const (
	// MatchFull compares the selected bytes themselves.
	MatchFull MatchingType = 0
	// MatchSHA256 compares the SHA-256 digest (32 bytes) of the selected bytes.
	MatchSHA256 MatchingType = 1
	// MatchSHA512 compares the SHA-512 digest (64 bytes) of the selected bytes.
	MatchSHA512 MatchingType = 2
)

// maxDataLen is the largest certificate association data that fits in the
// 16-bit RDATA length after the three one-byte fields.
const maxDataLen = 65535 - 3

// TLSA is the RDATA of one TLSA record, RFC 6698, section 2.1. Fields may
// contain values this package does not support, and Usable reports whether
// it does.
type TLSA struct {
	Usage        Usage
	Selector     Selector
	MatchingType MatchingType
	// Data is the certificate association data: the selected bytes for
	// MatchFull, their digest otherwise.
	Data []byte
}

// String returns the presentation form "2 1 1 <lowercase hex>" of RFC 6698,
// section 2.2, with the data as one unbroken hex string.
func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.MatchingType, hex.EncodeToString(t.Data))
}

// Usable reports whether MatchTLSA can use the record. A usable record has
// a usage from 0 to 3, a selector of 0 or 1, a matching type from 0 to 2 and
// data that is not empty. The data of a digest must be exactly as long as
// the digest.
func (t TLSA) Usable() bool {
	return t.unusableReason() == ""
}

// unusableReason returns why MatchTLSA ignores t, or "" when t is usable.
func (t TLSA) unusableReason() string {
	switch {
	case t.Usage > DANEEE:
		return fmt.Sprintf("usage %d is not assigned", t.Usage)
	case t.Selector > SelectorSPKI:
		return fmt.Sprintf("selector %d is not assigned", t.Selector)
	case t.MatchingType > MatchSHA512:
		return fmt.Sprintf("matching type %d is not assigned", t.MatchingType)
	case len(t.Data) == 0:
		return "certificate association data is empty"
	}
	if n := digestLen(t.MatchingType); n != 0 && len(t.Data) != n {
		return fmt.Sprintf("data has %d bytes, but a %s digest has %d", len(t.Data), t.MatchingType, n)
	}
	return ""
}

// digestLen returns the digest length of m in bytes, or 0 when m is not a
// known digest.
func digestLen(m MatchingType) int {
	switch m {
	case MatchSHA256:
		return sha256.Size
	case MatchSHA512:
		return sha512.Size
	}
	return 0
}

// String returns the RFC 7218 acronym with the number, "DANE-TA(2)", or
// "unassigned(7)".
func (u Usage) String() string {
	return fieldString(int(u), usageNames)
}

// String returns the RFC 7218 acronym with the number, "SPKI(1)", or
// "unassigned(7)".
func (s Selector) String() string {
	return fieldString(int(s), selectorNames)
}

// String returns the RFC 7218 acronym with the number, "SHA2-256(1)", or
// "unassigned(7)".
func (m MatchingType) String() string {
	return fieldString(int(m), matchingTypeNames)
}

// RFC 7218 acronyms, indexed by field value.
var (
	usageNames        = []string{"PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE"}
	selectorNames     = []string{"Cert", "SPKI"}
	matchingTypeNames = []string{"Full", "SHA2-256", "SHA2-512"}
)

func fieldString(v int, names []string) string {
	if v < len(names) {
		return names[v] + "(" + strconv.Itoa(v) + ")"
	}
	return "unassigned(" + strconv.Itoa(v) + ")"
}

// TLSAError reports a TLSA record that could not be parsed or built.
type TLSAError struct {
	// Input is the presentation text, or for NewTLSA the three fields.
	Input string
	// Field is "usage", "selector", "matching type", "data" or
	// "certificate".
	Field string
	// Reason describes what is wrong with the field.
	Reason string
}

func (e *TLSAError) Error() string {
	input := e.Input
	if len(input) > 80 {
		input = input[:80] + "..."
	}
	return fmt.Sprintf("invalid TLSA record %q: %s %s", input, e.Field, e.Reason)
}

// ParseTLSA parses the presentation form of TLSA RDATA, RFC 6698,
// section 2.2: usage, selector and matching type as decimal numbers from 0
// to 255 (or the RFC 7218 acronyms such as "DANE-TA", in any case), then the
// data in hex. White space may split the hex. Values the matcher does not
// support, such as usage 4, parse without error (see TLSA.Usable).
//
// Errors are *TLSAError and name the field: a missing field, a number out
// of range, hex that is not valid, empty data, or data longer than 65532
// bytes.
func ParseTLSA(s string) (TLSA, error) {
	fail := func(field, reason string) (TLSA, error) {
		return TLSA{}, &TLSAError{Input: s, Field: field, Reason: reason}
	}

	fields := strings.FieldsFunc(s, isSpace)
	names := []struct {
		field string
		names []string
	}{{"usage", usageNames}, {"selector", selectorNames}, {"matching type", matchingTypeNames}}
	var values [3]uint8
	for i, n := range names {
		if i >= len(fields) {
			return fail(n.field, "is missing: expected \"usage selector matching-type hex-data\", for example \"2 1 1 <64 hex digits>\"")
		}
		v, err := parseField(fields[i], n.names)
		if err != "" {
			return fail(n.field, err)
		}
		values[i] = v
	}

	digits := strings.Join(fields[3:], "")
	if digits == "" {
		return fail("data", "is missing: add the certificate association data in hex after the matching type")
	}
	if len(digits)%2 != 0 {
		return fail("data", fmt.Sprintf("has an odd number of hex digits (%d): each byte needs two digits", len(digits)))
	}
	data, err := hex.DecodeString(digits)
	if err != nil {
		return fail("data", fmt.Sprintf("is not valid hex: %v", err))
	}
	if len(data) > maxDataLen {
		return fail("data", fmt.Sprintf("has %d bytes, more than the %d that fit in a TLSA record", len(data), maxDataLen))
	}

	return TLSA{Usage: Usage(values[0]), Selector: Selector(values[1]), MatchingType: MatchingType(values[2]), Data: data}, nil
}

// parseField parses one numeric field or its acronym and returns a reason
// on failure.
func parseField(token string, names []string) (uint8, string) {
	for i, name := range names {
		if strings.EqualFold(token, name) {
			return uint8(i), ""
		}
	}
	v, err := strconv.ParseUint(token, 10, 8)
	if err == nil {
		return uint8(v), ""
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Sprintf("%q is out of range: the value must be from 0 to 255", token)
	}
	return 0, fmt.Sprintf("%q is not a number from 0 to 255 or one of %s", token, strings.Join(names, ", "))
}

// NewTLSA builds the record with usage u, selector s and matching type m
// for cert. It returns *TLSAError when u, s or m is not assigned or cert is
// nil, because a record to publish must be usable.
func NewTLSA(u Usage, s Selector, m MatchingType, cert *x509.Certificate) (TLSA, error) {
	input := fmt.Sprintf("%d %d %d", u, s, m)
	switch {
	case u > DANEEE:
		return TLSA{}, &TLSAError{Input: input, Field: "usage", Reason: fmt.Sprintf("%d is not assigned: use 0 to 3", u)}
	case s > SelectorSPKI:
		return TLSA{}, &TLSAError{Input: input, Field: "selector", Reason: fmt.Sprintf("%d is not assigned: use 0 or 1", s)}
	case m > MatchSHA512:
		return TLSA{}, &TLSAError{Input: input, Field: "matching type", Reason: fmt.Sprintf("%d is not assigned: use 0 to 2", m)}
	case cert == nil:
		return TLSA{}, &TLSAError{Input: input, Field: "certificate", Reason: "is nil"}
	}
	return TLSA{Usage: u, Selector: s, MatchingType: m, Data: associationData(cert, s, m)}, nil
}

// CSCRecord returns the "2 1 1" record that accredits csc, a Certificate
// Signing Certificate, as the DANE-TA trust anchor of a handle: the SHA-256
// digest of its SubjectPublicKeyInfo. csc must not be nil.
func CSCRecord(csc *x509.Certificate) TLSA {
	return TLSA{Usage: DANETA, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: associationData(csc, SelectorSPKI, MatchSHA256)}
}

// DeviceRecord returns the "3 1 1" record that accredits the key of leaf
// directly (DANE-EE): the SHA-256 digest of its SubjectPublicKeyInfo. leaf
// must not be nil.
func DeviceRecord(leaf *x509.Certificate) TLSA {
	return TLSA{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: associationData(leaf, SelectorSPKI, MatchSHA256)}
}

// associationData returns the certificate association data of cert for a
// supported selector and matching type.
func associationData(cert *x509.Certificate, s Selector, m MatchingType) []byte {
	content := cert.Raw
	if s == SelectorSPKI {
		content = cert.RawSubjectPublicKeyInfo
	}
	switch m {
	case MatchSHA256:
		sum := sha256.Sum256(content)
		return sum[:]
	case MatchSHA512:
		sum := sha512.Sum512(content)
		return sum[:]
	}
	return append([]byte(nil), content...)
}
