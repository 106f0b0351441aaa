package pki

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
	"time"
)

// fuzzCSCKey is fixed so that the stored CRL seeds verify with the CSC of
// every fuzz run.
var fuzzCSCKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))

// fuzzSerialByte fills the serial number of the fuzz leaf, so that the CRL
// seeds can revoke it.
const fuzzSerialByte = 0x11

// fuzzCRLTime is the clock of FuzzParseCRL.
var fuzzCRLTime = t0.Add(time.Hour)

// constReader returns an endless run of one byte.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

type fuzzFixture struct {
	csc  *CSC
	leaf *x509.Certificate
}

var fuzzSetup = sync.OnceValues(func() (fuzzFixture, error) {
	csc, err := NewCSC(rand.Reader, testHandle, CSCOptions{Key: fuzzCSCKey, Now: clockAt(t0)})
	if err != nil {
		return fuzzFixture{}, err
	}
	key, err := NewDeviceKey(KeyP256)
	if err != nil {
		return fuzzFixture{}, err
	}
	der, err := CreateCSR(rand.Reader, key, testHandle)
	if err != nil {
		return fuzzFixture{}, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return fuzzFixture{}, err
	}
	leaf, err := IssueDevice(constReader(fuzzSerialByte), csc, csr, DeviceOptions{Label: "fuzz", Now: clockAt(t0)})
	if err != nil {
		return fuzzFixture{}, err
	}
	return fuzzFixture{csc: csc, leaf: leaf}, nil
})

func loadFuzzFixture(tb testing.TB) fuzzFixture {
	tb.Helper()
	fx, err := fuzzSetup()
	if err != nil {
		tb.Fatalf("fuzz fixture: %v", err)
	}
	return fx
}

// FuzzIssueDevice feeds CSR bytes from outside to IssueDevice. A rejected
// CSR must give a *CSRError, and an accepted one must yield a certificate
// that names exactly the handle and the DID and passes VerifyPath.
func FuzzIssueDevice(f *testing.F) {
	fx := loadFuzzFixture(f)
	f.Fuzz(func(t *testing.T, der []byte) {
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			return
		}
		cert, err := IssueDevice(rand.Reader, fx.csc, csr, DeviceOptions{Label: "fuzz", Now: clockAt(t0)})
		if err != nil {
			var ce *CSRError
			if !errors.As(err, &ce) {
				t.Fatalf("IssueDevice returned %T (%v), expected *CSRError", err, err)
			}
			return
		}
		if len(cert.DNSNames) != 1 || cert.DNSNames[0] != string(testHandle) {
			t.Fatalf("accepted CSR gave DNSNames %q, expected exactly [%s]", cert.DNSNames, testHandle)
		}
		if len(cert.URIs) != 1 || cert.URIs[0].String() != fx.csc.DID.String() {
			t.Fatalf("accepted CSR gave URIs %v, expected exactly [%s]", cert.URIs, fx.csc.DID)
		}
		if len(cert.IPAddresses) != 0 || len(cert.EmailAddresses) != 0 {
			t.Fatalf("accepted CSR gave IP %v or email %v SANs", cert.IPAddresses, cert.EmailAddresses)
		}
		if err := VerifyPath(cert, fx.csc.Certificate, t0); err != nil {
			t.Fatalf("VerifyPath of the issued certificate: %v", err)
		}
	})
}

// FuzzParseCRL feeds CRL bytes from outside to ParseCRL and
// CheckRevokedList. Errors must be of the documented types, and a CRL that
// passes must come from the CSC.
func FuzzParseCRL(f *testing.F) {
	fx := loadFuzzFixture(f)
	f.Fuzz(func(t *testing.T, der []byte) {
		crl, err := ParseCRL(der)
		if err != nil {
			var ce *CRLError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseCRL returned %T (%v), expected *CRLError", err, err)
			}
			return
		}
		status, err := CheckRevokedList(crl, fx.csc.Certificate, fx.leaf, fuzzCRLTime)
		if err != nil {
			var (
				ce *CRLError
				se *CRLSignatureError
				ve *CRLValidityError
			)
			if !errors.As(err, &ce) && !errors.As(err, &se) && !errors.As(err, &ve) {
				t.Fatalf("CheckRevokedList returned %T (%v), expected a CRL error type", err, err)
			}
			if status.Revoked {
				t.Fatalf("status reports revoked together with error %v", err)
			}
			return
		}
		if !bytes.Equal(crl.RawIssuer, fx.csc.Certificate.RawSubject) {
			t.Fatalf("accepted CRL issuer %q is not the CSC subject", crl.Issuer)
		}
		listed := false
		for _, entry := range crl.RevokedCertificateEntries {
			if entry.SerialNumber != nil && entry.SerialNumber.Cmp(fx.leaf.SerialNumber) == 0 {
				listed = true
			}
		}
		if listed != status.Revoked {
			t.Fatalf("Revoked=%v, but the leaf serial listed=%v", status.Revoked, listed)
		}
	})
}

// FuzzDecodePEM feeds PEM text from outside to the decoders. Errors must be
// *PEMError values, and decoded certificates must encode back to the same
// DER.
func FuzzDecodePEM(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := DecodeCertificates(data)
		if err != nil {
			var pe *PEMError
			if !errors.As(err, &pe) {
				t.Fatalf("DecodeCertificates returned %T (%v), expected *PEMError", err, err)
			}
		} else {
			again, err := DecodeCertificates(EncodeCertificates(certs...))
			if err != nil || len(again) != len(certs) {
				t.Fatalf("re-decoding %d certificates: %d, %v", len(certs), len(again), err)
			}
			for i := range certs {
				if !bytes.Equal(again[i].Raw, certs[i].Raw) {
					t.Fatalf("certificate %d changed in a PEM round trip", i+1)
				}
			}
		}

		if key, err := DecodePrivateKey(data); err != nil {
			var pe *PEMError
			if !errors.As(err, &pe) {
				t.Fatalf("DecodePrivateKey returned %T (%v), expected *PEMError", err, err)
			}
		} else if _, err := EncodePrivateKey(key); err != nil {
			t.Fatalf("EncodePrivateKey of a decoded key: %v", err)
		}

		if _, err := DecodeCSR(data); err != nil {
			var pe *PEMError
			if !errors.As(err, &pe) {
				t.Fatalf("DecodeCSR returned %T (%v), expected *PEMError", err, err)
			}
		}
	})
}
