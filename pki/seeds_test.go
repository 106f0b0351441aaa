package pki

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpora under testdata/fuzz")

// TestWriteFuzzSeeds rewrites the seed corpora when run with -update-seeds.
// The CRL seeds depend on the fixed fuzz CSC key and leaf serial.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz")
	}
	fx := loadFuzzFixture(t)
	writeSeeds(t, "FuzzIssueDevice", csrSeeds(t))
	writeSeeds(t, "FuzzParseCRL", crlSeeds(t, fx))

	leafKey := newKey(t, KeyP256)
	keyPEM, err := EncodePrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	writeSeeds(t, "FuzzDecodePEM", map[string][]byte{
		"chain":       EncodeCertificates(fx.leaf, fx.csc.Certificate),
		"private-key": keyPEM,
		"csr":         EncodeCSR(handleCSR(t, leafKey).Raw),
		"broken":      []byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"),
		"text":        []byte("no PEM here"),
	})
}

func writeSeeds(t *testing.T, target string, seeds map[string][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func csrSeeds(t *testing.T) map[string][]byte {
	key := newKey(t, KeyP256)
	der := func(k any, tmpl *x509.CertificateRequest) []byte {
		out, err := x509.CreateCertificateRequest(rand.Reader, tmpl, k)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	uri, _ := url.Parse("did:web:alice.test")
	otherName := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: []byte{0x06, 0x03, 0x2b, 0x06, 0x01, 0xa0, 0x03, 0x0c, 0x01, 0x78}}
	return map[string][]byte{
		"cn-and-san":      handleCSR(t, key).Raw,
		"cn-only-ed25519": der(newKey(t, KeyEd25519), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice.test"}}),
		"san-only-rsa":    der(rsa2048Key(), &x509.CertificateRequest{DNSNames: []string{"alice.test"}}),
		"other-dnsname":   der(key, &x509.CertificateRequest{DNSNames: []string{"alice.test", "bob.test"}}),
		"ip-san":          der(key, &x509.CertificateRequest{DNSNames: []string{"alice.test"}, IPAddresses: []net.IP{net.IPv4(192, 0, 2, 1)}}),
		"email-san":       der(key, &x509.CertificateRequest{EmailAddresses: []string{"alice@dhp.test"}}),
		"uri-san":         der(key, &x509.CertificateRequest{DNSNames: []string{"alice.test"}, URIs: []*url.URL{uri}}),
		"othername-san": der(key, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{sanExtension(t,
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("alice.test")}, otherName)}}),
		"p224-key": der(mustECDSA(t, elliptic.P224()), &x509.CertificateRequest{DNSNames: []string{"alice.test"}}),
		"empty":    {},
	}
}

func crlSeeds(t *testing.T, fx fuzzFixture) map[string][]byte {
	crl := func(c *CSC, revoked []RevokedCert, nextUpdate time.Time) []byte {
		der, err := CreateCRL(rand.Reader, c, revoked, big.NewInt(1), t0, nextUpdate)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	week := t0.Add(7 * 24 * time.Hour)
	revokeLeaf := []RevokedCert{{Serial: fx.leaf.SerialNumber, RevokedAt: t0, Reason: ReasonKeyCompromise}}
	critical, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(2), ThisUpdate: t0, NextUpdate: week,
		ExtraExtensions: []pkix.Extension{{Id: []int{2, 5, 29, 28}, Critical: true, Value: []byte{0x30, 0x00}}},
	}, fx.csc.Certificate, fx.csc.Key)
	if err != nil {
		t.Fatal(err)
	}
	valid := crl(fx.csc, revokeLeaf, week)
	return map[string][]byte{
		"revokes-leaf":   valid,
		"empty-list":     crl(fx.csc, nil, week),
		"other-serial":   crl(fx.csc, []RevokedCert{{Serial: big.NewInt(99), RevokedAt: t0, Reason: ReasonSuperseded}}, week),
		"expired":        crl(fx.csc, revokeLeaf, t0.Add(30*time.Minute)),
		"other-csc":      crl(newTestCSC(t, testHandle, KeyEd25519, t0), revokeLeaf, week),
		"critical-idp":   critical,
		"truncated":      valid[:len(valid)-10],
		"not-a-sequence": {0x02, 0x01, 0x00},
	}
}
