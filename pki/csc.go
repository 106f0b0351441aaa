package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"time"

	"github.com/dnshandle/dnshandle/handle"
)

// MarkerCommonName is the common name of the profile marker, the issuer DN
// of every CSC.
const MarkerCommonName = "DNS Handle Client Authentication"

// Marker is the profile marker DN in the string form of pkix.Name.String.
// Servers list it in the certificate_authorities of their
// CertificateRequest so that clients offer DNS handle certificates.
// It signals the profile and carries no trust: trust comes from the TLSA
// record at the handle.
const Marker = "CN=" + MarkerCommonName

// markerDER is the DER encoding of the marker Name. Go encodes the common
// name as a PrintableString because every character of it is printable.
var markerDER = mustMarshalName(pkix.Name{CommonName: MarkerCommonName})

func mustMarshalName(n pkix.Name) []byte {
	der, err := asn1.Marshal(n.ToRDNSequence())
	if err != nil {
		panic("pki: marshal marker name: " + err.Error())
	}
	return der
}

// MarkerName returns a fresh copy of the DER encoding of the marker Name,
// byte for byte the issuer of every CSC made by NewCSC. It is the form
// tls.CertificateRequestInfo.AcceptableCAs and certificate_authorities use.
func MarkerName() []byte {
	return bytes.Clone(markerDER)
}

// Defaults of CSCOptions and DeviceOptions.
const (
	// DefaultCSCValidity is the validity of a CSC certificate. Renewing a CSC
	// with the same key (CSCOptions.Key) keeps its did:key and its "2 1 1"
	// TLSA record, so a short validity costs nothing in DNS. Two years bound
	// how long a CSC stays usable once its provider stops renewing it, for
	// example when the TLSA record outlives a closed account.
	DefaultCSCValidity = 2 * 365 * 24 * time.Hour

	// ClockSkew is how far NotBefore is set before the time of issue, so
	// that verifiers whose clocks run slightly behind accept a certificate
	// right away.
	ClockSkew = time.Minute
)

// CSCOptions configures NewCSC. The zero value means: a new P-256 key,
// DefaultCSCValidity, and the system clock.
type CSCOptions struct {
	// KeyType of the new key: KeyP256 (default) or KeyEd25519. It is
	// ignored when Key is set.
	KeyType KeyType

	// Key is an existing CSC key to certify again. Renewal with the same
	// key keeps the DID and the TLSA record. It must be an ECDSA P-256 or
	// Ed25519 key.
	Key crypto.Signer

	// Validity is the time from issue to NotAfter. Zero means
	// DefaultCSCValidity.
	Validity time.Duration

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// CSC is a Certificate Signing Certificate: the per-identity CA that signs
// the device certificates of one handle. A CSC is safe for concurrent use as
// long as Key is.
type CSC struct {
	Certificate *x509.Certificate
	Key         crypto.Signer
	// DID is the did:key of the CSC public key, the default permanent
	// identifier of the identity.
	DID    handle.DID
	Handle handle.Handle
}

// NewCSC creates a CSC for handle h: CA:TRUE with pathLenConstraint 0,
// KeyUsage keyCertSign and cRLSign, Subject CN=<h>, Issuer the marker DN,
// signed with its own key, a 128-bit random serial read from random and a
// SubjectKeyId computed with RFC 7093, section 2, method 1.
// A nil random means crypto/rand.Reader. Since Go 1.26 key generation and
// signing use crypto/rand whatever reader they get (unless GODEBUG
// cryptocustomrand=1), so random affects only the serial.
//
// The CSC carries no NameConstraints extension. Go 1.26's crypto/x509
// rejects a URI SAN without a host, such as the did:key URI of every device
// certificate, in any chain that contains name constraints. The DANE
// binding confines the CSC instead: a certificate it signs for another
// handle does not match the TLSA record of that handle, and the relying
// party requires the leaf to name exactly the handle whose TLSA matched.
//
// Errors: an *OptionError for a non-normalized handle or a bad option, a
// *KeyTypeError for an unsupported KeyType, or the wrapped failure of key
// generation or signing.
func NewCSC(random io.Reader, h handle.Handle, opts CSCOptions) (*CSC, error) {
	random = randOrDefault(random)
	if err := checkHandle(h); err != nil {
		return nil, err
	}

	validity := opts.Validity
	if validity == 0 {
		validity = DefaultCSCValidity
	}
	if validity < 0 {
		return nil, &OptionError{Option: "Validity", Value: validity.String(), Reason: "must be positive"}
	}

	key := opts.Key
	if key == nil {
		var err error
		if key, err = newCSCKey(opts.KeyType); err != nil {
			return nil, err
		}
	}
	did, err := handle.DIDKeyFromPublicKey(key.Public())
	if err != nil {
		return nil, &OptionError{Option: "Key", Value: describeKey(key.Public()),
			Reason: "a CSC key must be ECDSA P-256 or Ed25519 so that its did:key can be written: " + err.Error()}
	}

	cert, err := signCSC(random, h, key, validity, now(opts.Now))
	if err != nil {
		return nil, fmt.Errorf("create CSC for %s: %w", h, err)
	}
	return &CSC{Certificate: cert, Key: key, DID: did, Handle: h}, nil
}

// newCSCKey generates a CSC key of type t.
func newCSCKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case "", KeyP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyEd25519:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	default:
		return nil, &KeyTypeError{KeyType: t, Supported: []KeyType{KeyP256, KeyEd25519}}
	}
}

// signCSC builds and signs the CSC certificate.
func signCSC(random io.Reader, h handle.Handle, key crypto.Signer, validity time.Duration, now time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial(random)
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}

	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: string(h)},
		NotBefore:             now.Add(-ClockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
	}

	// The parent stands for the marker: its subject becomes the issuer, and
	// its key is the CSC's own key. Because issuer and subject differ,
	// crypto/x509 copies the parent's SubjectKeyId into AuthorityKeyId, so
	// AuthorityKeyId names the CSC's own key, which is the signing key.
	parent := &x509.Certificate{
		RawSubject:   markerDER,
		PublicKey:    key.Public(),
		SubjectKeyId: skid,
	}

	der, err := x509.CreateCertificate(random, template, parent, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// LoadCSC rebuilds a CSC from a stored certificate and key. It checks that
// the key matches the certificate and that the certificate has the shape
// NewCSC gives: the marker issuer, CA:TRUE with pathLenConstraint 0,
// keyCertSign, and a subject CN that is a valid handle. It does not check
// the validity window, so an expired CSC can be loaded to renew it.
// Errors are *ProfileError values.
func LoadCSC(cert *x509.Certificate, key crypto.Signer) (*CSC, error) {
	if cert == nil || key == nil {
		return nil, &ProfileError{Cert: "CSC", Field: "input", Reason: "certificate and key are both required"}
	}
	if !bytes.Equal(cert.RawIssuer, markerDER) {
		return nil, &ProfileError{Cert: "CSC", Field: "issuer",
			Reason: fmt.Sprintf("issuer is %q, expected %q", cert.Issuer, Marker)}
	}
	if pe := checkCSCConstraints(cert); pe != nil {
		return nil, &ProfileError{Cert: "CSC", Field: pe.Step, Reason: pe.Reason}
	}

	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, &ProfileError{Cert: "CSC", Field: "key", Reason: "the private key does not match the certificate's public key"}
	}
	h, err := handle.Parse(cert.Subject.CommonName)
	if err != nil {
		return nil, &ProfileError{Cert: "CSC", Field: "subject", Reason: err.Error()}
	}
	did, err := handle.DIDKeyFromPublicKey(cert.PublicKey)
	if err != nil {
		return nil, &ProfileError{Cert: "CSC", Field: "key", Reason: err.Error()}
	}
	return &CSC{Certificate: cert, Key: key, DID: did, Handle: h}, nil
}

// checkHandle returns an *OptionError unless h is a handle in the normal
// form that handle.Parse returns.
func checkHandle(h handle.Handle) error {
	parsed, err := handle.Parse(string(h))
	if err != nil {
		return &OptionError{Option: "handle", Value: string(h), Reason: err.Error()}
	}
	if parsed != h {
		return &OptionError{Option: "handle", Value: string(h),
			Reason: fmt.Sprintf("not in normal form: use %q", parsed)}
	}
	return nil
}

// now returns clock() or, for a nil clock, time.Now().
func now(clock func() time.Time) time.Time {
	if clock == nil {
		return time.Now()
	}
	return clock()
}
