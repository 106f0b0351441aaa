package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func TestCRLRoundTrip(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{KeyP256, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			csc := newTestCSC(t, testHandle, kt, t0)
			revokedLeaf, _ := issueTestDevice(t, csc, t0)
			heldLeaf, _ := issueTestDevice(t, csc, t0)
			goodLeaf, _ := issueTestDevice(t, csc, t0)
			revokedAt := t0.Add(time.Hour)

			der, err := CreateCRL(rand.Reader, csc, []RevokedCert{
				{Serial: revokedLeaf.SerialNumber, RevokedAt: revokedAt, Reason: ReasonKeyCompromise},
				{Serial: heldLeaf.SerialNumber, RevokedAt: revokedAt},
			}, big.NewInt(7), t0.Add(time.Hour), t0.Add(25*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			now := t0.Add(2 * time.Hour)

			status, err := CheckRevoked(der, csc.Certificate, revokedLeaf, now)
			if err != nil {
				t.Fatal(err)
			}
			if !status.Revoked || !status.RevokedAt.Equal(revokedAt) || status.Reason != ReasonKeyCompromise {
				t.Errorf("revoked leaf: got %+v, expected revoked at %s for keyCompromise", status, revokedAt)
			}
			if status.Number == nil || status.Number.Int64() != 7 {
				t.Errorf("CRL number %v, expected 7", status.Number)
			}

			status, err = CheckRevoked(der, csc.Certificate, heldLeaf, now)
			if err != nil {
				t.Fatal(err)
			}
			if !status.Revoked || status.Reason != ReasonUnspecified {
				t.Errorf("leaf revoked without reason: got %+v, expected revoked, unspecified", status)
			}

			status, err = CheckRevoked(der, csc.Certificate, goodLeaf, now)
			if err != nil {
				t.Fatal(err)
			}
			if status.Revoked {
				t.Errorf("leaf that is not listed reported revoked: %+v", status)
			}
		})
	}
}

func TestCheckRevokedErrors(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	sameHandleCSC := newTestCSC(t, testHandle, KeyP256, t0)
	otherHandleCSC := newTestCSC(t, "bob.test", KeyP256, t0)
	leaf, _ := issueTestDevice(t, csc, t0)
	otherLeaf, _ := issueTestDevice(t, otherHandleCSC, t0)

	thisUpdate, nextUpdate := t0, t0.Add(24*time.Hour)
	crlOf := func(c *CSC) []byte {
		der, err := CreateCRL(rand.Reader, c, nil, big.NewInt(1), thisUpdate, nextUpdate)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	good := crlOf(csc)

	criticalIDP, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(2), ThisUpdate: thisUpdate, NextUpdate: nextUpdate,
		// issuingDistributionPoint, RFC 5280, section 5.2.5.
		ExtraExtensions: []pkix.Extension{{Id: []int{2, 5, 29, 28}, Critical: true, Value: []byte{0x30, 0x00}}},
	}, csc.Certificate, csc.Key)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-1] ^= 0x01

	tests := []struct {
		name    string
		der     []byte
		leaf    *x509.Certificate
		now     time.Time
		check   func(*testing.T, error)
		expired bool
	}{
		{"signed by another CSC of the handle", crlOf(sameHandleCSC), leaf, t0, func(t *testing.T, err error) { asError[*CRLSignatureError](t, err) }, false},
		{"tampered signature", tampered, leaf, t0, func(t *testing.T, err error) { asError[*CRLSignatureError](t, err) }, false},
		{"issued by another handle's CSC", crlOf(otherHandleCSC), leaf, t0, func(t *testing.T, err error) { asError[*CRLError](t, err) }, false},
		{"expired", good, leaf, nextUpdate.Add(time.Second), func(t *testing.T, err error) {
			ve := asError[*CRLValidityError](t, err)
			if !ve.Expired() {
				t.Errorf("Expired()=false for %v", err)
			}
		}, true},
		{"not yet valid", good, leaf, thisUpdate.Add(-time.Second), func(t *testing.T, err error) {
			ve := asError[*CRLValidityError](t, err)
			if ve.Expired() {
				t.Errorf("Expired()=true for %v", err)
			}
		}, false},
		{"malformed", good[:len(good)/2], leaf, t0, func(t *testing.T, err error) { asError[*CRLError](t, err) }, false},
		{"critical issuing distribution point", criticalIDP, leaf, t0, func(t *testing.T, err error) { asError[*CRLError](t, err) }, false},
		{"leaf of another issuer", good, otherLeaf, t0, func(t *testing.T, err error) { asError[*CRLError](t, err) }, false},
		{"missing leaf", good, nil, t0, func(t *testing.T, err error) { asError[*CRLError](t, err) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, err := CheckRevoked(tt.der, csc.Certificate, tt.leaf, tt.now)
			tt.check(t, err)
			if status.Revoked {
				t.Errorf("status reports revoked together with an error")
			}
		})
	}
}

func TestCreateCRLErrors(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	serial := big.NewInt(42)
	tooLong := new(big.Int).Lsh(big.NewInt(1), 160)
	tests := []struct {
		name       string
		revoked    []RevokedCert
		number     *big.Int
		nextUpdate time.Time
		option     string
	}{
		{"nil number", nil, nil, t0.Add(time.Hour), "number"},
		{"negative number", nil, big.NewInt(-1), t0.Add(time.Hour), "number"},
		{"number of 21 octets", nil, tooLong, t0.Add(time.Hour), "number"},
		{"nextUpdate before thisUpdate", nil, big.NewInt(1), t0.Add(-time.Hour), "nextUpdate"},
		{"nextUpdate equal to thisUpdate", nil, big.NewInt(1), t0, "nextUpdate"},
		{"nil serial", []RevokedCert{{RevokedAt: t0}}, big.NewInt(1), t0.Add(time.Hour), "Serial"},
		{"zero serial", []RevokedCert{{Serial: big.NewInt(0), RevokedAt: t0}}, big.NewInt(1), t0.Add(time.Hour), "Serial"},
		{"zero revocation time", []RevokedCert{{Serial: serial}}, big.NewInt(1), t0.Add(time.Hour), "RevokedAt"},
		{"reason 7", []RevokedCert{{Serial: serial, RevokedAt: t0, Reason: 7}}, big.NewInt(1), t0.Add(time.Hour), "Reason"},
		{"removeFromCRL", []RevokedCert{{Serial: serial, RevokedAt: t0, Reason: ReasonRemoveFromCRL}}, big.NewInt(1), t0.Add(time.Hour), "Reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := CreateCRL(rand.Reader, csc, tt.revoked, tt.number, t0, tt.nextUpdate)
			oe := asError[*OptionError](t, err)
			if oe.Option != tt.option {
				t.Errorf("OptionError.Option=%q, expected %q (%v)", oe.Option, tt.option, err)
			}
		})
	}
}

func TestRevocationReasonString(t *testing.T) {
	t.Parallel()
	tests := map[RevocationReason]string{
		ReasonKeyCompromise:   "keyCompromise",
		ReasonCertificateHold: "certificateHold",
		7:                     "reason(7)",
	}
	for reason, want := range tests {
		if got := reason.String(); got != want {
			t.Errorf("RevocationReason(%d).String()=%q, expected %q", int(reason), got, want)
		}
	}
}
