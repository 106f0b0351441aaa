package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"time"
)

// RevocationReason is a CRLReason code, RFC 5280, section 5.3.1.
type RevocationReason int

// CRLReason codes. The value 7 is unused.
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonCACompromise         RevocationReason = 2
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
	ReasonCertificateHold      RevocationReason = 6
	ReasonRemoveFromCRL        RevocationReason = 8
	ReasonPrivilegeWithdrawn   RevocationReason = 9
	ReasonAACompromise         RevocationReason = 10
)

var reasonNames = map[RevocationReason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// String returns the ASN.1 name of the reason, such as "keyCompromise", or
// "reason(N)" for an unassigned code.
func (r RevocationReason) String() string {
	if name, ok := reasonNames[r]; ok {
		return name
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// RevokedCert is one entry of a CRL.
type RevokedCert struct {
	Serial    *big.Int // serial number of the revoked certificate, positive
	RevokedAt time.Time
	// Reason is written as a reasonCode entry extension unless it is
	// ReasonUnspecified, which RFC 5280, section 5.3.1 recommends leaving out.
	Reason RevocationReason
}

var (
	oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidReasonCode     = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}
)

// CreateCRL returns a DER CRL (X.509 v2, RFC 5280, section 5) signed by
// csc that lists revoked. number is the cRLNumber: non-negative, at most 20
// octets, and increasing with every CRL the CSC issues. nextUpdate must be
// after thisUpdate. A nil random means crypto/rand.Reader.
// Errors: *OptionError for a bad argument, or a wrapped signing failure.
func CreateCRL(random io.Reader, csc *CSC, revoked []RevokedCert, number *big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if csc == nil || csc.Certificate == nil || csc.Key == nil {
		return nil, &OptionError{Option: "csc", Value: "<nil>", Reason: "a CSC with certificate and key is required"}
	}
	// RFC 5280, section 5.2.3: a CRL number is non-negative and at most 20 octets.
	if number == nil || number.Sign() < 0 || len(number.Bytes()) > 20 {
		return nil, &OptionError{Option: "number", Value: fmt.Sprint(number), Reason: "must be a non-negative integer of at most 20 octets"}
	}
	if !nextUpdate.After(thisUpdate) {
		return nil, &OptionError{Option: "nextUpdate", Value: nextUpdate.UTC().Format(time.RFC3339),
			Reason: "must be after thisUpdate " + thisUpdate.UTC().Format(time.RFC3339)}
	}

	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for i, r := range revoked {
		if err := checkRevokedCert(r); err != nil {
			return nil, fmt.Errorf("revoked entry %d: %w", i+1, err)
		}
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber:   r.Serial,
			RevocationTime: r.RevokedAt,
			ReasonCode:     int(r.Reason),
		})
	}

	template := &x509.RevocationList{
		RevokedCertificateEntries: entries,
		Number:                    number,
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
	}
	der, err := x509.CreateRevocationList(randOrDefault(random), template, csc.Certificate, csc.Key)
	if err != nil {
		return nil, fmt.Errorf("sign CRL of %s: %w", csc.Handle, err)
	}
	return der, nil
}

func checkRevokedCert(r RevokedCert) error {
	if r.Serial == nil || r.Serial.Sign() <= 0 {
		return &OptionError{Option: "Serial", Value: fmt.Sprint(r.Serial), Reason: "must be a positive serial number"}
	}
	if r.RevokedAt.IsZero() {
		return &OptionError{Option: "RevokedAt", Value: "", Reason: "the revocation time is required"}
	}
	// removeFromCRL belongs only in delta CRLs, RFC 5280, section 5.3.1.
	if _, ok := reasonNames[r.Reason]; !ok || r.Reason == ReasonRemoveFromCRL {
		return &OptionError{Option: "Reason", Value: r.Reason.String(), Reason: "not a reason code for a full CRL"}
	}
	return nil
}

// ParseCRL parses a DER CRL. It returns a *CRLError for malformed input and
// checks nothing else: use VerifyCRL or CheckRevoked before trusting it.
func ParseCRL(der []byte) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, &CRLError{Reason: "malformed CRL", Err: err}
	}
	return crl, nil
}

// VerifyCRL checks that crl was issued by csc and is current at now:
// its issuer equals the CSC subject byte for byte (*CRLError), its signature
// verifies with the CSC key (*CRLSignatureError), ThisUpdate <= now <=
// NextUpdate with NextUpdate present (*CRLValidityError), and it carries no
// critical extension this package does not process (*CRLError), such as a
// delta CRL indicator or an issuing distribution point (RFC 5280,
// section 5.2).
func VerifyCRL(crl *x509.RevocationList, csc *x509.Certificate, now time.Time) error {
	if crl == nil || csc == nil {
		return &CRLError{Reason: "a CRL and a CSC certificate are both required"}
	}
	if !bytes.Equal(crl.RawIssuer, csc.RawSubject) {
		return &CRLError{Reason: fmt.Sprintf("CRL issuer %q is not the CSC subject %q", crl.Issuer, csc.Subject)}
	}
	if err := crl.CheckSignatureFrom(csc); err != nil {
		return &CRLSignatureError{CSC: csc.Subject.String(), Err: err}
	}

	if crl.NextUpdate.IsZero() || now.Before(crl.ThisUpdate) || now.After(crl.NextUpdate) {
		return &CRLValidityError{ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate, Now: now}
	}

	if oid := unknownCritical(crl.Extensions, oidAuthorityKeyID, oidCRLNumber); oid != nil {
		return &CRLError{Reason: fmt.Sprintf("unprocessed critical CRL extension %s", oid)}
	}
	for _, entry := range crl.RevokedCertificateEntries {
		if oid := unknownCritical(entry.Extensions, oidReasonCode, oidInvalidityDate); oid != nil {
			return &CRLError{Reason: fmt.Sprintf("unprocessed critical extension %s in the entry for serial %s", oid, entry.SerialNumber)}
		}
	}
	return nil
}

// unknownCritical returns the OID of the first critical extension not in
// known, or nil.
func unknownCritical(exts []pkix.Extension, known ...asn1.ObjectIdentifier) asn1.ObjectIdentifier {
	for _, ext := range exts {
		if !ext.Critical {
			continue
		}
		handled := false
		for _, oid := range known {
			if ext.Id.Equal(oid) {
				handled = true
				break
			}
		}
		if !handled {
			return ext.Id
		}
	}
	return nil
}

// RevocationStatus is the result of CheckRevoked for one certificate.
type RevocationStatus struct {
	Revoked   bool
	RevokedAt time.Time        // zero unless Revoked
	Reason    RevocationReason // ReasonUnspecified unless the entry gives one

	// ThisUpdate, NextUpdate and Number describe the CRL that was checked.
	ThisUpdate time.Time
	NextUpdate time.Time
	Number     *big.Int
}

// CheckRevoked parses crlDER, verifies it against csc at now with
// VerifyCRL, and reports whether leaf's serial number is listed. A
// certificate on hold (ReasonCertificateHold) counts as revoked.
// Errors are those of ParseCRL and VerifyCRL, or a *CRLError when leaf was
// not issued by the CRL's issuer, because the CRL does not cover it.
func CheckRevoked(crlDER []byte, csc, leaf *x509.Certificate, now time.Time) (RevocationStatus, error) {
	crl, err := ParseCRL(crlDER)
	if err != nil {
		return RevocationStatus{}, err
	}
	return CheckRevokedList(crl, csc, leaf, now)
}

// CheckRevokedList is CheckRevoked for a CRL parsed before, for callers
// that cache parsed CRLs. It verifies the CRL again on every call.
func CheckRevokedList(crl *x509.RevocationList, csc, leaf *x509.Certificate, now time.Time) (RevocationStatus, error) {
	if err := VerifyCRL(crl, csc, now); err != nil {
		return RevocationStatus{}, err
	}
	if leaf == nil || leaf.SerialNumber == nil {
		return RevocationStatus{}, &CRLError{Reason: "a leaf certificate with a serial number is required"}
	}
	if !bytes.Equal(leaf.RawIssuer, crl.RawIssuer) {
		return RevocationStatus{}, &CRLError{Reason: fmt.Sprintf("leaf issuer %q is not the CRL issuer %q", leaf.Issuer, crl.Issuer)}
	}

	status := RevocationStatus{ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate, Number: crl.Number}
	for _, entry := range crl.RevokedCertificateEntries {
		if entry.SerialNumber != nil && entry.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			status.Revoked = true
			status.RevokedAt = entry.RevocationTime
			status.Reason = RevocationReason(entry.ReasonCode)
			break
		}
	}
	return status, nil
}
