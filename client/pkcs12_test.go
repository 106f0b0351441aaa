package client

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// testPKCS12Password is long enough for MinPKCS12PasswordLength.
const testPKCS12Password = "correct horse"

func TestEncodePKCS12MinimumPassword(t *testing.T) {
	t.Parallel()
	id := newTestIdentity(t, "alice.dhp.test")
	key, leaf := id.issue(t, "laptop")
	chain := []*x509.Certificate{leaf, id.csc.Certificate}

	// The length counts characters, not bytes: eight two-byte characters
	// pass, seven do not.
	if _, err := EncodePKCS12(key, chain, strings.Repeat("ä", MinPKCS12PasswordLength), PKCS12Modern); err != nil {
		t.Errorf("a password of %d characters: %v", MinPKCS12PasswordLength, err)
	}
	_, err := EncodePKCS12(key, chain, strings.Repeat("ä", MinPKCS12PasswordLength-1), PKCS12Modern)
	var ee *ExportError
	if !errors.As(err, &ee) {
		t.Errorf("a password of %d characters = %v, want an *ExportError", MinPKCS12PasswordLength-1, err)
	}
}

func TestExportPKCS12RoundTrip(t *testing.T) {
	t.Parallel()
	id := newTestIdentity(t, "alice.dhp.test")
	dev := id.enroll(t, t.TempDir(), "laptop")

	for _, encoding := range []PKCS12Encoding{PKCS12Modern, PKCS12Legacy} {
		t.Run(encoding.String(), func(t *testing.T) {
			t.Parallel()
			data, err := dev.ExportPKCS12("correct horse", encoding)
			if err != nil {
				t.Fatal(err)
			}

			key, leaf, cas, err := pkcs12.DecodeChain(data, "correct horse")
			if err != nil {
				t.Fatalf("DecodeChain: %v", err)
			}
			if !bytes.Equal(leaf.Raw, dev.Leaf().Raw) {
				t.Error("the decoded leaf is not the device certificate")
			}
			if len(cas) != 1 || !bytes.Equal(cas[0].Raw, id.csc.Certificate.Raw) {
				t.Errorf("decoded %d CA certificates, want the CSC alone", len(cas))
			}
			signer, ok := key.(crypto.Signer)
			if !ok {
				t.Fatalf("decoded key %T is not a crypto.Signer", key)
			}
			pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
			if !ok || !pub.Equal(dev.Leaf().PublicKey) {
				t.Error("the decoded key does not match the device certificate")
			}

			if _, _, _, err := pkcs12.DecodeChain(data, "wrong password"); err == nil {
				t.Error("the file decodes with a wrong password")
			}
		})
	}
}

func TestEncodePKCS12Rejects(t *testing.T) {
	t.Parallel()
	id := newTestIdentity(t, "alice.dhp.test")
	key, leaf := id.issue(t, "laptop")
	otherKey, _ := id.issue(t, "phone")
	chain := []*x509.Certificate{leaf, id.csc.Certificate}

	cases := []struct {
		name     string
		key      crypto.Signer
		chain    []*x509.Certificate
		password string
		encoding PKCS12Encoding
		want     string
	}{
		{"empty password", key, chain, "", PKCS12Modern, "password is empty"},
		{"short password", key, chain, "pässwör", PKCS12Modern, "the password is too short (7 characters): use at least 8"},
		{"no chain", key, nil, testPKCS12Password, PKCS12Modern, "leaf certificate are required"},
		{"no key", nil, chain, testPKCS12Password, PKCS12Modern, "private key"},
		{"key of another device", otherKey, chain, testPKCS12Password, PKCS12Modern, "does not match"},
		{"nil CA", key, []*x509.Certificate{leaf, nil}, testPKCS12Password, PKCS12Modern, "certificate 1 of the chain is nil"},
		{"unknown encoding", key, chain, testPKCS12Password, PKCS12Encoding(9), "unknown encoding 9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := EncodePKCS12(tc.key, tc.chain, tc.password, tc.encoding)
			var ee *ExportError
			if !errors.As(err, &ee) {
				t.Fatalf("EncodePKCS12 = %v, want *ExportError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestExportPKCS12RevokedDevice(t *testing.T) {
	t.Parallel()
	id := newTestIdentity(t, "alice.dhp.test")
	dev := id.enroll(t, t.TempDir(), "laptop")
	dev.Revoked = time.Now()
	_, err := dev.ExportPKCS12("pw", PKCS12Modern)
	var ee *ExportError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("export of a revoked device = %v, want an *ExportError about revocation", err)
	}
}
