package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
)

var oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}

func TestNewCSCFields(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{"", KeyP256, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			csc := newTestCSC(t, testHandle, kt, t0)
			c := csc.Certificate

			if !c.BasicConstraintsValid || !c.IsCA {
				t.Errorf("BasicConstraintsValid=%v IsCA=%v, expected both true", c.BasicConstraintsValid, c.IsCA)
			}
			if c.MaxPathLen != 0 || !c.MaxPathLenZero {
				t.Errorf("MaxPathLen=%d MaxPathLenZero=%v, expected 0 and true", c.MaxPathLen, c.MaxPathLenZero)
			}
			if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
				t.Errorf("KeyUsage=%b, expected %b", c.KeyUsage, want)
			}
			if c.Subject.String() != "CN=alice.test" {
				t.Errorf("Subject=%q, expected CN=alice.test", c.Subject)
			}
			if !bytes.Equal(c.RawIssuer, MarkerName()) {
				t.Errorf("RawIssuer=%x, expected the marker %x", c.RawIssuer, MarkerName())
			}
			if c.Issuer.String() != Marker {
				t.Errorf("Issuer=%q, expected %q", c.Issuer, Marker)
			}
			for _, ext := range c.Extensions {
				if ext.Id.Equal(oidNameConstraints) {
					t.Errorf("CSC carries a NameConstraints extension")
				}
			}
			if len(c.ExtKeyUsage) != 0 {
				t.Errorf("ExtKeyUsage=%v, expected none", c.ExtKeyUsage)
			}
		})
	}
}

func TestNewCSCNotSelfSigned(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{KeyP256, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			c := newTestCSC(t, testHandle, kt, t0).Certificate

			if bytes.Equal(c.RawIssuer, c.RawSubject) {
				t.Errorf("issuer equals subject, so the CSC is self-signed in the X.509 sense")
			}
			// The signature is made with the CSC's own key.
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Errorf("signature does not verify with the CSC's own key: %v", err)
			}
			if len(c.SubjectKeyId) != 20 {
				t.Errorf("SubjectKeyId has %d bytes, expected 20", len(c.SubjectKeyId))
			}
			if !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
				t.Errorf("AuthorityKeyId=%x, expected the SubjectKeyId %x", c.AuthorityKeyId, c.SubjectKeyId)
			}
		})
	}
}

func TestNewCSCDIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{KeyP256, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			csc := newTestCSC(t, testHandle, kt, t0)

			if csc.DID.Method != "key" {
				t.Fatalf("DID method %q, expected key", csc.DID.Method)
			}
			parsed, err := handle.ParseDID(csc.DID.String())
			if err != nil {
				t.Fatalf("ParseDID(%s): %v", csc.DID, err)
			}
			pub, err := parsed.PublicKey()
			if err != nil {
				t.Fatalf("PublicKey: %v", err)
			}
			if !csc.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Errorf("did:key public key differs from the CSC key")
			}
			if csc.Handle != testHandle {
				t.Errorf("Handle=%q, expected %q", csc.Handle, testHandle)
			}
		})
	}
}

func TestNewCSCValidityAndSerial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		validity time.Duration
		want     time.Duration
	}{
		{"default", 0, DefaultCSCValidity},
		{"ninety days", 90 * 24 * time.Hour, 90 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			csc, err := NewCSC(rand.Reader, testHandle, CSCOptions{Validity: tt.validity, Now: clockAt(t0)})
			if err != nil {
				t.Fatal(err)
			}
			c := csc.Certificate
			if !c.NotBefore.Equal(t0.Add(-ClockSkew)) {
				t.Errorf("NotBefore=%s, expected %s", c.NotBefore, t0.Add(-ClockSkew))
			}
			if !c.NotAfter.Equal(t0.Add(tt.want)) {
				t.Errorf("NotAfter=%s, expected %s", c.NotAfter, t0.Add(tt.want))
			}
			if n := c.SerialNumber.BitLen(); n < 64 || n > 128 {
				t.Errorf("serial has %d bits, expected at most 128 and rarely fewer than 64", n)
			}
		})
	}
}

func TestNewCSCRenewKeepsDID(t *testing.T) {
	t.Parallel()
	first := newTestCSC(t, testHandle, KeyEd25519, t0)
	renewed, err := NewCSC(rand.Reader, testHandle, CSCOptions{Key: first.Key, Now: clockAt(t0.Add(700 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if renewed.DID != first.DID {
		t.Errorf("renewed DID %s, expected %s", renewed.DID, first.DID)
	}
	if SPKIFingerprint(renewed.Certificate) != SPKIFingerprint(first.Certificate) {
		t.Errorf("renewed SPKI differs, so the TLSA record would change")
	}
	if renewed.Certificate.SerialNumber.Cmp(first.Certificate.SerialNumber) == 0 {
		t.Errorf("renewed CSC reuses the serial number")
	}
}

func TestNewCSCErrors(t *testing.T) {
	t.Parallel()
	rsaKey := rsa2048Key()
	p384, err := NewDeviceKey(KeyP384)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		handle handle.Handle
		opts   CSCOptions
		option string // expected OptionError.Option; "" expects a KeyTypeError
	}{
		{"upper case handle", "Alice.test", CSCOptions{}, "handle"},
		{"reserved TLD", "alice.example", CSCOptions{}, "handle"},
		{"single label", "alice", CSCOptions{}, "handle"},
		{"negative validity", testHandle, CSCOptions{Validity: -time.Hour}, "Validity"},
		{"RSA key", testHandle, CSCOptions{Key: rsaKey}, "Key"},
		{"P-384 key", testHandle, CSCOptions{Key: p384}, "Key"},
		{"P-384 key type", testHandle, CSCOptions{KeyType: KeyP384}, ""},
		{"unknown key type", testHandle, CSCOptions{KeyType: "dsa"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewCSC(rand.Reader, tt.handle, tt.opts)
			if tt.option == "" {
				kte := asError[*KeyTypeError](t, err)
				if kte.KeyType != tt.opts.KeyType {
					t.Errorf("KeyTypeError.KeyType=%q, expected %q", kte.KeyType, tt.opts.KeyType)
				}
				return
			}
			oe := asError[*OptionError](t, err)
			if oe.Option != tt.option {
				t.Errorf("OptionError.Option=%q, expected %q (%v)", oe.Option, tt.option, err)
			}
		})
	}
}

func TestLoadCSC(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	other := newTestCSC(t, testHandle, KeyP256, t0)
	leaf, leafKey := issueTestDevice(t, csc, t0)
	pathLenOne := craftCSC(t, testHandle, t0, func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 1, false })

	t.Run("round trip", func(t *testing.T) {
		loaded, err := LoadCSC(csc.Certificate, csc.Key)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.DID != csc.DID || loaded.Handle != csc.Handle {
			t.Errorf("loaded DID %s handle %s, expected %s %s", loaded.DID, loaded.Handle, csc.DID, csc.Handle)
		}
	})

	tests := []struct {
		name  string
		cert  *x509.Certificate
		key   crypto.Signer
		field string
	}{
		{"wrong key", csc.Certificate, other.Key, "key"},
		{"device certificate", leaf, leafKey, "issuer"},
		{"path length one", pathLenOne.Certificate, pathLenOne.Key, StepPathLength},
		{"nil key", csc.Certificate, nil, "input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadCSC(tt.cert, tt.key)
			pe := asError[*ProfileError](t, err)
			if pe.Field != tt.field {
				t.Errorf("ProfileError.Field=%q, expected %q (%v)", pe.Field, tt.field, err)
			}
		})
	}
}

func TestMarkerName(t *testing.T) {
	t.Parallel()
	a := MarkerName()
	a[len(a)-1] ^= 0xff
	if bytes.Equal(a, MarkerName()) {
		t.Errorf("MarkerName returns shared bytes that callers can change")
	}
}
