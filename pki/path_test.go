package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"
)

func TestVerifyPathAccepts(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{KeyP256, KeyEd25519} {
		csc := newTestCSC(t, testHandle, kt, t0)
		leaf, _ := issueTestDevice(t, csc, t0)
		tests := []struct {
			name string
			now  time.Time
		}{
			{"at issue", t0},
			{"at leaf NotBefore", leaf.NotBefore},
			{"at leaf NotAfter", leaf.NotAfter},
		}
		for _, tt := range tests {
			t.Run(string(kt)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				if err := VerifyPath(leaf, csc.Certificate, tt.now); err != nil {
					t.Errorf("VerifyPath: %v", err)
				}
			})
		}
	}
}

var oidUnknownCritical = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}

func TestVerifyPathRejects(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	sameHandleCSC := newTestCSC(t, testHandle, KeyEd25519, t0)
	otherHandleCSC := newTestCSC(t, "bob.test", KeyP256, t0)
	leaf, _ := issueTestDevice(t, csc, t0)
	laterLeaf, _ := issueTestDevice(t, csc, t0.Add(time.Hour))

	// CSCs with a profile defect, each with a leaf it signed.
	defective := func(mutate func(*x509.Certificate)) (*x509.Certificate, *x509.Certificate) {
		bad := craftCSC(t, testHandle, t0, mutate)
		return craftLeaf(t, bad, t0, nil), bad.Certificate
	}
	noCA, noCACSC := defective(func(c *x509.Certificate) { c.IsCA, c.MaxPathLenZero, c.MaxPathLen = false, false, -1 })
	noBC, noBCCSC := defective(func(c *x509.Certificate) { c.BasicConstraintsValid, c.IsCA, c.MaxPathLenZero = false, false, false })
	pathOne, pathOneCSC := defective(func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 1, false })
	unlimited, unlimitedCSC := defective(func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = -1, false })
	noCertSign, noCertSignCSC := defective(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign })
	critical, criticalCSC := defective(func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{{Id: oidUnknownCritical, Critical: true, Value: []byte{0x05, 0x00}}}
	})

	leafFrom := func(mutate func(*x509.Certificate)) *x509.Certificate { return craftLeaf(t, csc, t0, mutate) }

	tests := []struct {
		name string
		leaf *x509.Certificate
		csc  *x509.Certificate
		now  time.Time
		step string
		cert string
	}{
		{"expired leaf", leaf, csc.Certificate, leaf.NotAfter.Add(time.Second), StepValidity, "leaf"},
		{"not yet valid leaf", laterLeaf, csc.Certificate, laterLeaf.NotBefore.Add(-time.Second), StepValidity, "leaf"},
		{"expired CSC", leafFrom(func(c *x509.Certificate) { c.NotAfter = csc.Certificate.NotAfter.Add(time.Hour) }),
			csc.Certificate, csc.Certificate.NotAfter.Add(time.Second), StepValidity, "CSC"},
		{"CSC without CA flag", noCA, noCACSC, t0, StepBasicConstraints, "CSC"},
		{"CSC without basic constraints", noBC, noBCCSC, t0, StepBasicConstraints, "CSC"},
		{"CSC with pathlen 1", pathOne, pathOneCSC, t0, StepPathLength, "CSC"},
		{"CSC with unlimited pathlen", unlimited, unlimitedCSC, t0, StepPathLength, "CSC"},
		{"CSC without keyCertSign", noCertSign, noCertSignCSC, t0, StepKeyUsage, "CSC"},
		{"CSC with unknown critical extension", critical, criticalCSC, t0, StepCriticalExtension, "CSC"},
		{"leaf without clientAuth", leafFrom(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }),
			csc.Certificate, t0, StepExtKeyUsage, "leaf"},
		{"leaf without EKU", leafFrom(func(c *x509.Certificate) { c.ExtKeyUsage = nil }), csc.Certificate, t0, StepExtKeyUsage, "leaf"},
		{"leaf is a CA", leafFrom(func(c *x509.Certificate) { c.IsCA = true }), csc.Certificate, t0, StepBasicConstraints, "leaf"},
		{"leaf with unknown critical extension", leafFrom(func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: oidUnknownCritical, Critical: true, Value: []byte{0x05, 0x00}}}
		}), csc.Certificate, t0, StepCriticalExtension, "leaf"},
		{"leaf of another CSC for the handle", leaf, sameHandleCSC.Certificate, t0, StepSignature, "leaf"},
		{"leaf of another handle's CSC", leaf, otherHandleCSC.Certificate, t0, StepIssuer, "leaf"},
		{"missing CSC", leaf, nil, t0, StepInput, "leaf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyPath(tt.leaf, tt.csc, tt.now)
			pe := asError[*PathError](t, err)
			if pe.Step != tt.step {
				t.Errorf("PathError.Step=%q, expected %q (%v)", pe.Step, tt.step, err)
			}
			if pe.Cert != tt.cert {
				t.Errorf("PathError.Cert=%q, expected %q (%v)", pe.Cert, tt.cert, err)
			}
		})
	}
}

// TestX509VerifyWithCSCRoot records how crypto/x509 treats a CSC placed in
// Roots: it accepts the non-self-signed root with Ed25519 keys and a did:key
// URI SAN, but it also accepts a CSC with pathLenConstraint 1, which is why
// VerifyPath checks the profile itself.
func TestX509VerifyWithCSCRoot(t *testing.T) {
	t.Parallel()
	verify := func(leaf, root *x509.Certificate) error {
		roots := x509.NewCertPool()
		roots.AddCert(root)
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots:       roots,
			CurrentTime: t0,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		return err
	}
	for _, kt := range []KeyType{KeyP256, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			csc := newTestCSC(t, testHandle, kt, t0)
			leaf, err := IssueDevice(rand.Reader, csc, handleCSR(t, newKey(t, KeyEd25519)), DeviceOptions{Label: "laptop", Now: clockAt(t0)})
			if err != nil {
				t.Fatal(err)
			}
			if err := verify(leaf, csc.Certificate); err != nil {
				t.Errorf("x509 Verify with the CSC as root: %v", err)
			}
		})
	}
	t.Run("pathlen 1 accepted by x509", func(t *testing.T) {
		t.Parallel()
		bad := craftCSC(t, testHandle, t0, func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 1, false })
		leaf := craftLeaf(t, bad, t0, nil)
		if err := verify(leaf, bad.Certificate); err != nil {
			t.Errorf("x509 Verify rejects pathlen 1 (%v): VerifyPath's reason for its own check is out of date", err)
		}
		asError[*PathError](t, VerifyPath(leaf, bad.Certificate, t0))
	})
}

func BenchmarkVerifyPath(b *testing.B) {
	csc := newTestCSC(b, testHandle, KeyP256, t0)
	leaf, _ := issueTestDevice(b, csc, t0)
	roots := x509.NewCertPool()
	roots.AddCert(csc.Certificate)
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}

	b.Run("VerifyPath", func(b *testing.B) {
		for b.Loop() {
			if err := VerifyPath(leaf, csc.Certificate, t0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/path")
	})
	b.Run("baseline x509 Verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := leaf.Verify(opts); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/path")
	})
}
