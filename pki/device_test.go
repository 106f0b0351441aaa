package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
)

func TestIssueDeviceFields(t *testing.T) {
	t.Parallel()
	const crlURL = "http://dhp.test/crl/alice.test.crl"
	for _, cscType := range []KeyType{KeyP256, KeyEd25519} {
		csc := newTestCSC(t, testHandle, cscType, t0)
		for _, kt := range []KeyType{KeyP256, KeyP384, KeyEd25519, KeyRSA2048} {
			t.Run(string(cscType)+"/"+string(kt), func(t *testing.T) {
				t.Parallel()
				key := newKey(t, kt)
				cert, err := IssueDevice(rand.Reader, csc, handleCSR(t, key),
					DeviceOptions{Label: "laptop", CRLURL: crlURL, Now: clockAt(t0)})
				if err != nil {
					t.Fatal(err)
				}

				if cert.Subject.CommonName != "alice.test" || len(cert.Subject.OrganizationalUnit) != 1 || cert.Subject.OrganizationalUnit[0] != "laptop" {
					t.Errorf("Subject=%q, expected CN=alice.test with OU=laptop", cert.Subject)
				}
				if bytes.Equal(cert.RawSubject, csc.Certificate.RawSubject) {
					t.Errorf("device subject equals the CSC subject")
				}
				if !bytes.Equal(cert.RawIssuer, csc.Certificate.RawSubject) {
					t.Errorf("Issuer=%q, expected the CSC subject %q", cert.Issuer, csc.Certificate.Subject)
				}
				if len(cert.DNSNames) != 1 || cert.DNSNames[0] != "alice.test" {
					t.Errorf("DNSNames=%q, expected exactly [alice.test]", cert.DNSNames)
				}
				if len(cert.URIs) != 1 || cert.URIs[0].String() != csc.DID.String() {
					t.Errorf("URIs=%v, expected exactly [%s]", cert.URIs, csc.DID)
				}
				if len(cert.IPAddresses)+len(cert.EmailAddresses) != 0 {
					t.Errorf("unexpected IP or email SANs: %v %v", cert.IPAddresses, cert.EmailAddresses)
				}
				if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || len(cert.UnknownExtKeyUsage) != 0 {
					t.Errorf("ExtKeyUsage=%v, expected clientAuth only", cert.ExtKeyUsage)
				}
				wantUsage := x509.KeyUsageDigitalSignature
				if kt == KeyRSA2048 {
					wantUsage |= x509.KeyUsageKeyEncipherment
				}
				if cert.KeyUsage != wantUsage {
					t.Errorf("KeyUsage=%b, expected %b", cert.KeyUsage, wantUsage)
				}
				if !cert.BasicConstraintsValid || cert.IsCA {
					t.Errorf("BasicConstraintsValid=%v IsCA=%v, expected CA:FALSE", cert.BasicConstraintsValid, cert.IsCA)
				}
				if !cert.NotBefore.Equal(t0.Add(-ClockSkew)) {
					t.Errorf("NotBefore=%s, expected %s", cert.NotBefore, t0.Add(-ClockSkew))
				}
				if !cert.NotAfter.Equal(t0.Add(DefaultDeviceLifetime)) {
					t.Errorf("NotAfter=%s, expected %s", cert.NotAfter, t0.Add(DefaultDeviceLifetime))
				}
				if len(cert.CRLDistributionPoints) != 1 || cert.CRLDistributionPoints[0] != crlURL {
					t.Errorf("CRLDistributionPoints=%q, expected [%s]", cert.CRLDistributionPoints, crlURL)
				}
				if !bytes.Equal(cert.AuthorityKeyId, csc.Certificate.SubjectKeyId) {
					t.Errorf("AuthorityKeyId=%x, expected the CSC SubjectKeyId %x", cert.AuthorityKeyId, csc.Certificate.SubjectKeyId)
				}
				if len(cert.SubjectKeyId) != 20 {
					t.Errorf("SubjectKeyId has %d bytes, expected 20", len(cert.SubjectKeyId))
				}
				if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
					t.Errorf("certificate key differs from the CSR key")
				}
				if err := VerifyPath(cert, csc.Certificate, t0); err != nil {
					t.Errorf("VerifyPath: %v", err)
				}
			})
		}
	}
}

func TestIssueDeviceLifetime(t *testing.T) {
	t.Parallel()
	shortCSC, err := NewCSC(rand.Reader, testHandle, CSCOptions{Validity: 10 * 24 * time.Hour, Now: clockAt(t0)})
	if err != nil {
		t.Fatal(err)
	}
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	tests := []struct {
		name          string
		csc           *CSC
		now           time.Time
		lifetime      time.Duration
		wantNotBefore time.Time
		wantNotAfter  time.Time
	}{
		{"custom lifetime", csc, t0.Add(time.Hour), 7 * 24 * time.Hour, t0.Add(time.Hour - ClockSkew), t0.Add(time.Hour + 7*24*time.Hour)},
		{"capped at CSC NotAfter", shortCSC, t0.Add(time.Hour), 0, t0.Add(time.Hour - ClockSkew), shortCSC.Certificate.NotAfter},
		{"NotBefore not before CSC", csc, t0.Add(-30 * time.Second), 0, csc.Certificate.NotBefore, t0.Add(-30*time.Second + DefaultDeviceLifetime)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, err := IssueDevice(rand.Reader, tt.csc, handleCSR(t, newKey(t, KeyP256)),
				DeviceOptions{Label: "phone", Lifetime: tt.lifetime, Now: clockAt(tt.now)})
			if err != nil {
				t.Fatal(err)
			}
			if !cert.NotBefore.Equal(tt.wantNotBefore) {
				t.Errorf("NotBefore=%s, expected %s", cert.NotBefore, tt.wantNotBefore)
			}
			if !cert.NotAfter.Equal(tt.wantNotAfter) {
				t.Errorf("NotAfter=%s, expected %s", cert.NotAfter, tt.wantNotAfter)
			}
		})
	}
}

func TestIssueDeviceCustomDID(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	did, err := handle.ParseDID("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := IssueDevice(rand.Reader, csc, handleCSR(t, newKey(t, KeyP256)), DeviceOptions{Label: "laptop", DID: did, Now: clockAt(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != did.String() {
		t.Errorf("URIs=%v, expected [%s]", cert.URIs, did)
	}
}

func TestIssueDeviceOptionErrors(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	csr := handleCSR(t, newKey(t, KeyP256))
	tests := []struct {
		name   string
		opts   DeviceOptions
		option string
	}{
		{"empty label", DeviceOptions{}, "Label"},
		{"long label", DeviceOptions{Label: strings.Repeat("x", MaxLabelLength+1)}, "Label"},
		{"control character in label", DeviceOptions{Label: "lap\ntop"}, "Label"},
		{"invalid UTF-8 label", DeviceOptions{Label: "lap\xfftop"}, "Label"},
		{"negative lifetime", DeviceOptions{Label: "laptop", Lifetime: -time.Hour}, "Lifetime"},
		{"ftp CRL URL", DeviceOptions{Label: "laptop", CRLURL: "ftp://dhp.test/a.crl"}, "CRLURL"},
		{"CRL URL without host", DeviceOptions{Label: "laptop", CRLURL: "http:///a.crl"}, "CRLURL"},
		{"non-ASCII CRL URL", DeviceOptions{Label: "laptop", CRLURL: "http://dhp.test/é.crl"}, "CRLURL"},
		{"malformed DID", DeviceOptions{Label: "laptop", DID: handle.DID{Method: "key", ID: "x"}}, "DID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Now = clockAt(t0)
			_, err := IssueDevice(rand.Reader, csc, csr, tt.opts)
			oe := asError[*OptionError](t, err)
			if oe.Option != tt.option {
				t.Errorf("OptionError.Option=%q, expected %q (%v)", oe.Option, tt.option, err)
			}
		})
	}
}

func TestIssueDeviceCSCNotValid(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	csr := handleCSR(t, newKey(t, KeyP256))
	for name, now := range map[string]time.Time{
		"expired":       csc.Certificate.NotAfter.Add(time.Second),
		"not yet valid": csc.Certificate.NotBefore.Add(-time.Second),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := IssueDevice(rand.Reader, csc, csr, DeviceOptions{Label: "laptop", Now: clockAt(now)})
			ve := asError[*CSCValidityError](t, err)
			if !ve.Now.Equal(now) {
				t.Errorf("CSCValidityError.Now=%s, expected %s", ve.Now, now)
			}
		})
	}
}

func TestIssueDeviceAcceptedCSRs(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	key := newKey(t, KeyP256)
	tests := []struct {
		name     string
		template *x509.CertificateRequest
	}{
		{"CN only", &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice.test"}}},
		{"dNSName only", &x509.CertificateRequest{DNSNames: []string{"alice.test"}}},
		{"upper case names", &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ALICE.test"}, DNSNames: []string{"Alice.Test"}}},
		{"handle listed twice", &x509.CertificateRequest{DNSNames: []string{"alice.test", "alice.test"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, err := IssueDevice(rand.Reader, csc, newCSR(t, key, tt.template), DeviceOptions{Label: "laptop", Now: clockAt(t0)})
			if err != nil {
				t.Fatal(err)
			}
			if len(cert.DNSNames) != 1 || cert.DNSNames[0] != "alice.test" {
				t.Errorf("DNSNames=%q, expected exactly [alice.test]", cert.DNSNames)
			}
			if cert.Subject.CommonName != "alice.test" {
				t.Errorf("CN=%q, expected alice.test", cert.Subject.CommonName)
			}
		})
	}
}

// sanExtension builds a subjectAltName extension from raw GeneralNames.
func sanExtension(t *testing.T, names ...asn1.RawValue) pkix.Extension {
	t.Helper()
	value, err := asn1.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSAN, Value: value}
}

func TestIssueDeviceRejectedCSRs(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	key := newKey(t, KeyP256)
	signed := func(tmpl *x509.CertificateRequest) func(*testing.T) *x509.CertificateRequest {
		return func(t *testing.T) *x509.CertificateRequest { return newCSR(t, key, tmpl) }
	}
	withKey := func(k crypto.Signer) func(*testing.T) *x509.CertificateRequest {
		return func(t *testing.T) *x509.CertificateRequest { return handleCSR(t, k) }
	}
	uri, _ := url.Parse("did:key:zDnaeTiq1PdzvZXUaMdezchcMJQpBdH2VN4pgrrEhMCCbmwSb")
	otherName := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: []byte{0x06, 0x03, 0x2b, 0x06, 0x01, 0xa0, 0x03, 0x0c, 0x01, 0x78}}

	tests := []struct {
		name  string
		csr   func(*testing.T) *x509.CertificateRequest
		field string
		value string
	}{
		{"other dNSName", signed(&x509.CertificateRequest{DNSNames: []string{"alice.test", "bob.test"}}), "dNSName", "bob.test"},
		{"subdomain dNSName", signed(&x509.CertificateRequest{DNSNames: []string{"www.alice.test"}}), "dNSName", "www.alice.test"},
		{"IP SAN", signed(&x509.CertificateRequest{DNSNames: []string{"alice.test"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")}}), "IP address", "192.0.2.1"},
		{"email SAN", signed(&x509.CertificateRequest{DNSNames: []string{"alice.test"}, EmailAddresses: []string{"alice@dhp.test"}}), "email address", "alice@dhp.test"},
		{"URI SAN", signed(&x509.CertificateRequest{DNSNames: []string{"alice.test"}, URIs: []*url.URL{uri}}), "URI", uri.String()},
		{"otherName SAN", signed(&x509.CertificateRequest{ExtraExtensions: []pkix.Extension{sanExtension(t,
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("alice.test")}, otherName)}}), "otherName", ""},
		{"CN equal only by Unicode folding", signed(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice.te\u017ft"}}), "subject CN", "alice.te\u017ft"},
		{"other CN", signed(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob.test"}}), "subject CN", "bob.test"},
		{"extra CN", signed(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice.test",
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidCommonName, Value: "bob.test"}}}}), "subject CN", "bob.test"},
		{"subject O", signed(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice.test", Organization: []string{"Example"}}}), "subject attribute O", "Example"},
		{"no names", signed(&x509.CertificateRequest{}), "subject", ""},
		{"RSA 1024", withKey(mustRSA(t, 1024)), "public key", "RSA 1024-bit"},
		{"P-224 key", withKey(mustECDSA(t, elliptic.P224())), "public key", "ECDSA P-224"},
		{"P-521 key", withKey(mustECDSA(t, elliptic.P521())), "public key", "ECDSA P-521"},
		{"CSC key reused", withKey(csc.Key), "public key", "ECDSA P-256"},
		{"bad signature", func(t *testing.T) *x509.CertificateRequest {
			csr := handleCSR(t, key)
			csr.Signature[len(csr.Signature)-1] ^= 0x01
			return csr
		}, "signature", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, err := IssueDevice(rand.Reader, csc, tt.csr(t), DeviceOptions{Label: "laptop", Now: clockAt(t0)})
			if cert != nil {
				t.Errorf("IssueDevice returned a certificate for a rejected CSR")
			}
			ce := asError[*CSRError](t, err)
			if ce.Field != tt.field {
				t.Errorf("CSRError.Field=%q, expected %q (%v)", ce.Field, tt.field, err)
			}
			if tt.value != "" && ce.Value != tt.value {
				t.Errorf("CSRError.Value=%q, expected %q (%v)", ce.Value, tt.value, err)
			}
		})
	}
}

func mustRSA(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func mustECDSA(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestCreateCSR(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{KeyP256, KeyP384, KeyEd25519, KeyRSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			csr := handleCSR(t, newKey(t, kt))
			if err := csr.CheckSignature(); err != nil {
				t.Errorf("CheckSignature: %v", err)
			}
			if csr.Subject.String() != "CN=alice.test" {
				t.Errorf("Subject=%q, expected CN=alice.test", csr.Subject)
			}
			if len(csr.DNSNames) != 1 || csr.DNSNames[0] != "alice.test" {
				t.Errorf("DNSNames=%q, expected [alice.test]", csr.DNSNames)
			}
		})
	}
	t.Run("invalid handle", func(t *testing.T) {
		t.Parallel()
		_, err := CreateCSR(rand.Reader, newKey(t, KeyP256), "Alice.test")
		asError[*OptionError](t, err)
	})
}

func TestNewDeviceKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kt   KeyType
		want string
	}{
		{"", "ECDSA P-256"},
		{KeyP256, "ECDSA P-256"},
		{KeyP384, "ECDSA P-384"},
		{KeyEd25519, "Ed25519"},
		{KeyRSA2048, "RSA 2048-bit"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kt), func(t *testing.T) {
			t.Parallel()
			key, err := NewDeviceKey(tt.kt)
			if err != nil {
				t.Fatal(err)
			}
			if got := describeKey(key.Public()); got != tt.want {
				t.Errorf("key is %s, expected %s", got, tt.want)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		_, err := NewDeviceKey("rsa1024")
		asError[*KeyTypeError](t, err)
	})
}

func TestFingerprints(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	leaf, key := issueTestDevice(t, csc, t0)
	fromKey, err := KeyFingerprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	fromCert := SPKIFingerprint(leaf)
	if fromKey != fromCert {
		t.Errorf("KeyFingerprint=%s, SPKIFingerprint=%s, expected equal", fromKey, fromCert)
	}
	if len(fromCert) != 64 || strings.ToLower(fromCert) != fromCert {
		t.Errorf("fingerprint %q is not 64 lowercase hex digits", fromCert)
	}
	if SPKIFingerprint(csc.Certificate) == fromCert {
		t.Errorf("CSC and device have the same fingerprint")
	}
	if _, err := KeyFingerprint(struct{}{}); err == nil {
		t.Errorf("KeyFingerprint of an unsupported key: got no error")
	}
}
