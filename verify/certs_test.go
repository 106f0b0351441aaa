package verify

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
)

// identity is one handle with its CSC and one device certificate issued
// by package pki, the way a DHP issues them.
type identity struct {
	h    handle.Handle
	csc  *pki.CSC
	key  crypto.Signer // device key
	leaf *x509.Certificate
}

// newIdentity creates a CSC and a device certificate for h with keys of
// type kt.
func newIdentity(tb testing.TB, h string, kt pki.KeyType) *identity {
	tb.Helper()
	return newIdentityWithDID(tb, h, kt, handle.DID{})
}

// newIdentityWithDID is newIdentity with a DID other than the CSC's
// did:key in the device certificate; the zero DID means the did:key.
func newIdentityWithDID(tb testing.TB, h string, kt pki.KeyType, did handle.DID) *identity {
	tb.Helper()
	csc, err := pki.NewCSC(nil, handle.Handle(h), pki.CSCOptions{KeyType: kt})
	if err != nil {
		tb.Fatalf("NewCSC(%s): %v", h, err)
	}
	key, err := pki.NewDeviceKey(kt)
	if err != nil {
		tb.Fatalf("NewDeviceKey: %v", err)
	}
	csrDER, err := pki.CreateCSR(nil, key, handle.Handle(h))
	if err != nil {
		tb.Fatalf("CreateCSR: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		tb.Fatalf("ParseCertificateRequest: %v", err)
	}
	leaf, err := pki.IssueDevice(nil, csc, csr, pki.DeviceOptions{Label: "laptop", DID: did})
	if err != nil {
		tb.Fatalf("IssueDevice(%s): %v", h, err)
	}
	return &identity{h: handle.Handle(h), csc: csc, key: key, leaf: leaf}
}

// chain returns [leaf, CSC].
func (id *identity) chain() []*x509.Certificate {
	return []*x509.Certificate{id.leaf, id.csc.Certificate}
}

// tlsCertificate returns the device certificate for crypto/tls.
func (id *identity) tlsCertificate() tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{id.leaf.Raw, id.csc.Certificate.Raw},
		PrivateKey:  id.key,
		Leaf:        id.leaf,
	}
}

// zoneText returns the records the identity publishes: "2 1 1" of its CSC
// and did= of the DID in its device certificate.
func (id *identity) zoneText() string {
	return records.HandleRecords{
		Handle: id.h,
		TTL:    300,
		TLSA:   []records.TLSA{records.CSCRecord(id.csc.Certificate)},
		DID:    id.leaf.URIs[0].String(),
	}.ZoneText()
}

// leafTemplate returns a device certificate template as pki issues it:
// one dNSName, one did URI, clientAuth, valid from an hour ago for a day.
func leafTemplate(h string, did string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: h, OrganizationalUnit: []string{"test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		DNSNames:              []string{h},
		URIs:                  []*url.URL{mustURL(did)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
}

// cscTemplate returns a CSC template as pki makes it.
func cscTemplate(h string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: h},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
}

// issueLeaf signs template for pub with the CSC certificate and key.
func issueLeaf(tb testing.TB, template, csc *x509.Certificate, pub crypto.PublicKey, cscKey crypto.Signer) *x509.Certificate {
	tb.Helper()
	return createCertificate(tb, template, csc, pub, cscKey)
}

// issueCSC signs template with key itself under the marker issuer, as
// pki.NewCSC does.
func issueCSC(tb testing.TB, template *x509.Certificate, key crypto.Signer) *x509.Certificate {
	tb.Helper()
	parent := &x509.Certificate{RawSubject: pki.MarkerName(), PublicKey: key.Public()}
	return createCertificate(tb, template, parent, key.Public(), key)
}

// selfSigned signs template with key, for DANE-EE devices and PKIX roots.
func selfSigned(tb testing.TB, template *x509.Certificate, key crypto.Signer) *x509.Certificate {
	tb.Helper()
	return createCertificate(tb, template, template, key.Public(), key)
}

func createCertificate(tb testing.TB, template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		tb.Fatalf("CreateCertificate(%s): %v", template.Subject, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("ParseCertificate: %v", err)
	}
	return cert
}

func newKey(tb testing.TB, kt pki.KeyType) crypto.Signer {
	tb.Helper()
	key, err := pki.NewDeviceKey(kt)
	if err != nil {
		tb.Fatalf("NewDeviceKey(%s): %v", kt, err)
	}
	return key
}

func didKey(tb testing.TB, pub crypto.PublicKey) string {
	tb.Helper()
	d, err := handle.DIDKeyFromPublicKey(pub)
	if err != nil {
		tb.Fatalf("DIDKeyFromPublicKey: %v", err)
	}
	return d.String()
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
