package pki

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func TestCertificatesPEMRoundTrip(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	leaf, _ := issueTestDevice(t, csc, t0)

	data := append([]byte("chain for alice.test\n"), EncodeCertificates(leaf, csc.Certificate)...)
	certs, err := DecodeCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !bytes.Equal(certs[0].Raw, leaf.Raw) || !bytes.Equal(certs[1].Raw, csc.Certificate.Raw) {
		t.Errorf("decoded %d certificates, expected leaf then CSC", len(certs))
	}
}

func TestDecodeCertificatesErrors(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	key, err := EncodePrivateKey(csc.Key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		data  []byte
		block int
	}{
		{"empty", nil, 0},
		{"key block", append(EncodeCertificates(csc.Certificate), key...), 2},
		{"garbage certificate", pem.EncodeToMemory(&pem.Block{Type: PEMCertificate, Bytes: []byte{0x30, 0x00}}), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeCertificates(tt.data)
			pe := asError[*PEMError](t, err)
			if pe.Block != tt.block {
				t.Errorf("PEMError.Block=%d, expected %d (%v)", pe.Block, tt.block, err)
			}
		})
	}
}

func TestPrivateKeyPEMRoundTrip(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{KeyP256, KeyP384, KeyEd25519, KeyRSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			key := newKey(t, kt)
			data, err := EncodePrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodePrivateKey(data)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Errorf("decoded key differs")
			}
		})
	}
}

func TestDecodePrivateKeyErrors(t *testing.T) {
	t.Parallel()
	csc := newTestCSC(t, testHandle, KeyP256, t0)
	tests := map[string][]byte{
		"empty":       nil,
		"certificate": EncodeCertificates(csc.Certificate),
		"EC block":    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0x00}}),
		"garbage":     pem.EncodeToMemory(&pem.Block{Type: PEMPrivateKey, Bytes: []byte{0x30, 0x00}}),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodePrivateKey(data)
			asError[*PEMError](t, err)
		})
	}
}

func TestCSRPEMRoundTrip(t *testing.T) {
	t.Parallel()
	csr := handleCSR(t, newKey(t, KeyEd25519))
	back, err := DecodeCSR(EncodeCSR(csr.Raw))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Raw, csr.Raw) {
		t.Errorf("decoded CSR differs")
	}
	old := pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: csr.Raw})
	if _, err := DecodeCSR(old); err != nil {
		t.Errorf("DecodeCSR of a NEW CERTIFICATE REQUEST block: %v", err)
	}
	_, err = DecodeCSR(EncodeCertificates(newTestCSC(t, testHandle, KeyP256, t0).Certificate))
	asError[*PEMError](t, err)
}

func TestPrivateKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "device.key")
	// A key file left readable by everyone is replaced by one with mode 0600.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := newKey(t, KeyP256)
	if err := WritePrivateKeyFile(path, key); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode %o, expected 600", mode)
	}
	back, err := ReadPrivateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		t.Errorf("key read back differs")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, expected only the key file", len(entries))
	}
	if _, err := ReadPrivateKeyFile(filepath.Join(dir, "missing.key")); err == nil {
		t.Errorf("ReadPrivateKeyFile of a missing file: got no error")
	}
}
