package pki

import (
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net/url"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dnshandle/dnshandle/handle"
)

// DefaultDeviceLifetime is the lifetime of a device certificate when
// DeviceOptions.Lifetime is zero. Devices renew over ACME well before it
// ends.
const DefaultDeviceLifetime = 30 * 24 * time.Hour

// MaxLabelLength is the maximum length of a device label in characters, the
// upper bound ub-organizational-unit-name of RFC 5280, Appendix A.1.
const MaxLabelLength = 64

// DeviceOptions configures IssueDevice. Label is required. Every other zero
// field means its documented default.
type DeviceOptions struct {
	// Label names the device, for example "laptop". It becomes the OU of
	// the subject, so the device subject differs from the CSC subject.
	// When the two are equal, Chromium offers no certificate and OpenSSL
	// treats the leaf as self-issued. It must be 1 to MaxLabelLength
	// characters of valid UTF-8 without control characters.
	Label string

	// Lifetime is the time from issue to NotAfter. Zero means
	// DefaultDeviceLifetime. NotAfter never goes past the CSC's NotAfter.
	Lifetime time.Duration

	// CRLURL is the http or https URL of the CSC's CRL at the provider,
	// written as the CRL Distribution Point. Empty means no extension.
	CRLURL string

	// DID is the permanent identifier written as the URI SAN. The zero
	// value means the CSC's did:key. A did:web or did:plc identifier is
	// allowed when its DID document lists the CSC key; this function does
	// not check that.
	DID handle.DID

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// IssueDevice checks csr with CheckCSR and signs a device certificate for
// the CSR key with csc:
//   - Subject CN=<handle>, OU=<Label>;
//   - exactly one dNSName SAN, the handle, and one URI SAN, the DID;
//   - ExtKeyUsage clientAuth only, KeyUsage digitalSignature, plus
//     keyEncipherment for RSA keys, and basicConstraints CA:FALSE;
//   - NotBefore ClockSkew before now, but not before the CSC's NotBefore,
//     and NotAfter now+Lifetime, capped at the CSC's NotAfter;
//   - a 128-bit random serial read from random (nil means
//     crypto/rand.Reader), SubjectKeyId, AuthorityKeyId of the CSC, and the
//     CRL Distribution Point when CRLURL is set.
//
// Errors: *CSRError for a rejected request, *OptionError for a bad option,
// *CSCValidityError when the CSC is not valid now, or a wrapped signing
// failure.
func IssueDevice(random io.Reader, csc *CSC, csr *x509.CertificateRequest, opts DeviceOptions) (*x509.Certificate, error) {
	random = randOrDefault(random)
	if csc == nil || csc.Certificate == nil || csc.Key == nil {
		return nil, &OptionError{Option: "csc", Value: "<nil>", Reason: "a CSC with certificate and key is required"}
	}
	if err := CheckCSR(csr, csc); err != nil {
		return nil, err
	}

	template, err := deviceTemplate(random, csc, csr, opts)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(random, template, csc.Certificate, csr.PublicKey, csc.Key)
	if err != nil {
		return nil, fmt.Errorf("sign device certificate for %s: %w", csc.Handle, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new device certificate for %s: %w", csc.Handle, err)
	}
	return cert, nil
}

// deviceTemplate checks the options and builds the certificate template.
func deviceTemplate(random io.Reader, csc *CSC, csr *x509.CertificateRequest, opts DeviceOptions) (*x509.Certificate, error) {
	if err := checkLabel(opts.Label); err != nil {
		return nil, err
	}
	didURI, err := deviceDID(csc, opts.DID)
	if err != nil {
		return nil, err
	}
	var crl []string
	if opts.CRLURL != "" {
		if err := checkCRLURL(opts.CRLURL); err != nil {
			return nil, err
		}
		crl = []string{opts.CRLURL}
	}
	notBefore, notAfter, err := deviceValidity(csc, opts)
	if err != nil {
		return nil, err
	}

	serial, err := randomSerial(random)
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(csr.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("subject key identifier: %w", err)
	}
	usage := x509.KeyUsageDigitalSignature
	if _, isRSA := csr.PublicKey.(*rsa.PublicKey); isRSA {
		// RFC 5280, section 4.2.1.3 defines keyEncipherment for keys that
		// transport session keys, as TLS 1.2 RSA key exchange does.
		usage |= x509.KeyUsageKeyEncipherment
	}

	return &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         string(csc.Handle),
			OrganizationalUnit: []string{opts.Label},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              []string{string(csc.Handle)},
		URIs:                  []*url.URL{didURI},
		CRLDistributionPoints: crl,
		SubjectKeyId:          skid,
	}, nil
}

// deviceValidity computes NotBefore and NotAfter of a device certificate.
func deviceValidity(csc *CSC, opts DeviceOptions) (notBefore, notAfter time.Time, err error) {
	lifetime := opts.Lifetime
	if lifetime == 0 {
		lifetime = DefaultDeviceLifetime
	}
	if lifetime < 0 {
		return time.Time{}, time.Time{}, &OptionError{Option: "Lifetime", Value: lifetime.String(), Reason: "must be positive"}
	}

	t := now(opts.Now)
	c := csc.Certificate
	if t.Before(c.NotBefore) || t.After(c.NotAfter) {
		return time.Time{}, time.Time{}, &CSCValidityError{Handle: string(csc.Handle), NotBefore: c.NotBefore, NotAfter: c.NotAfter, Now: t}
	}

	notBefore = t.Add(-ClockSkew)
	if notBefore.Before(c.NotBefore) {
		notBefore = c.NotBefore
	}
	notAfter = t.Add(lifetime)
	if notAfter.After(c.NotAfter) {
		notAfter = c.NotAfter
	}
	return notBefore, notAfter, nil
}

func checkLabel(label string) error {
	switch {
	case label == "":
		return &OptionError{Option: "Label", Value: label, Reason: "a device label is required, for example \"laptop\""}
	case !utf8.ValidString(label):
		return &OptionError{Option: "Label", Value: label, Reason: "must be valid UTF-8"}
	case utf8.RuneCountInString(label) > MaxLabelLength:
		return &OptionError{Option: "Label", Value: label, Reason: fmt.Sprintf("must be at most %d characters", MaxLabelLength)}
	}
	for _, r := range label {
		if unicode.IsControl(r) {
			return &OptionError{Option: "Label", Value: label, Reason: "must not contain control characters"}
		}
	}
	return nil
}

// deviceDID returns the URI form of the permanent identifier: d, or the
// CSC's did:key when d is the zero DID.
func deviceDID(csc *CSC, d handle.DID) (*url.URL, error) {
	if d.Method == "" && d.ID == "" {
		d = csc.DID
	}
	s := d.String()
	if _, err := handle.ParseDID(s); err != nil {
		return nil, &OptionError{Option: "DID", Value: s, Reason: err.Error()}
	}
	u, err := url.Parse(s)
	if err != nil || u.String() != s {
		return nil, &OptionError{Option: "DID", Value: s, Reason: "cannot be written as a URI SAN"}
	}
	return u, nil
}

func checkCRLURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return &OptionError{Option: "CRLURL", Value: s, Reason: err.Error()}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &OptionError{Option: "CRLURL", Value: s, Reason: "scheme must be http or https"}
	}
	if u.Host == "" {
		return &OptionError{Option: "CRLURL", Value: s, Reason: "host is missing"}
	}
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return &OptionError{Option: "CRLURL", Value: s, Reason: "must be ASCII: percent-encode other characters"}
		}
	}
	return nil
}
