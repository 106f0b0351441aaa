package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
)

const testHandle = handle.Handle("alice.test")

// t0 is the fixed clock of most tests, a whole second so that certificate
// times compare exactly.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// rsa2048Key is generated once because RSA key generation is slow.
var rsa2048Key = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

func newTestCSC(t testing.TB, h handle.Handle, kt KeyType, now time.Time) *CSC {
	t.Helper()
	csc, err := NewCSC(rand.Reader, h, CSCOptions{KeyType: kt, Now: clockAt(now)})
	if err != nil {
		t.Fatalf("NewCSC(%s, %q): %v", h, kt, err)
	}
	return csc
}

func newKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	if kt == KeyRSA2048 {
		return rsa2048Key()
	}
	key, err := NewDeviceKey(kt)
	if err != nil {
		t.Fatalf("NewDeviceKey(%q): %v", kt, err)
	}
	return key
}

// newCSR signs template with key and parses the result.
func newCSR(t testing.TB, key crypto.Signer, template *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, template, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("ParseCertificateRequest: %v", err)
	}
	return csr
}

// handleCSR returns the CSR that CreateCSR makes for the test handle.
func handleCSR(t testing.TB, key crypto.Signer) *x509.CertificateRequest {
	t.Helper()
	return csrFor(t, key, testHandle)
}

// csrFor returns the CSR that CreateCSR makes for handle h.
func csrFor(t testing.TB, key crypto.Signer, h handle.Handle) *x509.CertificateRequest {
	t.Helper()
	der, err := CreateCSR(rand.Reader, key, h)
	if err != nil {
		t.Fatalf("CreateCSR: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("ParseCertificateRequest: %v", err)
	}
	return csr
}

// issueTestDevice issues a device certificate for a new P-256 key.
func issueTestDevice(t testing.TB, csc *CSC, now time.Time) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := newKey(t, KeyP256)
	cert, err := IssueDevice(rand.Reader, csc, csrFor(t, key, csc.Handle), DeviceOptions{Label: "laptop", Now: clockAt(now)})
	if err != nil {
		t.Fatalf("IssueDevice: %v", err)
	}
	return cert, key
}

// craftCSC signs a CSC-like certificate whose template mutate may change,
// the way NewCSC does: marker issuer, own key.
func craftCSC(t testing.TB, h handle.Handle, now time.Time, mutate func(*x509.Certificate)) *CSC {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	serial, err := randomSerial(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: string(h)},
		NotBefore:             now.Add(-ClockSkew),
		NotAfter:              now.Add(DefaultCSCValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
	}
	if mutate != nil {
		mutate(template)
	}

	parent := &x509.Certificate{RawSubject: MarkerName(), PublicKey: key.Public(), SubjectKeyId: skid}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), key)
	if err != nil {
		t.Fatalf("craft CSC: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	did, err := handle.DIDKeyFromPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &CSC{Certificate: cert, Key: key, DID: did, Handle: h}
}

// craftLeaf signs a device certificate with csc from the template that
// IssueDevice would use, after mutate changes it.
func craftLeaf(t testing.TB, csc *CSC, now time.Time, mutate func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	csr := csrFor(t, newKey(t, KeyP256), csc.Handle)
	template, err := deviceTemplate(rand.Reader, csc, csr, DeviceOptions{Label: "laptop", Now: clockAt(now)})
	if err != nil {
		t.Fatalf("deviceTemplate: %v", err)
	}
	if mutate != nil {
		mutate(template)
	}
	der, err := x509.CreateCertificate(rand.Reader, template, csc.Certificate, csr.PublicKey, csc.Key)
	if err != nil {
		t.Fatalf("craft leaf: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// asError returns err as a *T or fails the test.
func asError[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if err == nil {
		t.Fatalf("got no error, expected %T", target)
	}
	if !errors.As(err, &target) {
		t.Fatalf("got %T (%v), expected %T", err, err, target)
	}
	return target
}
