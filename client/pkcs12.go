package client

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"unicode/utf8"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/dnshandle/dnshandle/pki"
)

// PKCS12Encoding selects the algorithms of a PKCS #12 export.
type PKCS12Encoding int

const (
	// PKCS12Modern encrypts key and certificates with PBES2
	// (PBKDF2-HMAC-SHA-256, AES-256-CBC) and protects the file with an
	// HMAC-SHA-256 MAC: go-pkcs12's Modern2023 encoder. NSS (Chromium,
	// Firefox), OpenSSL 1.1.1 and later, and Java 12 and later read it.
	PKCS12Modern PKCS12Encoding = iota
	// PKCS12Legacy uses PBE with SHA-1 and 3DES and an HMAC-SHA-1 MAC:
	// go-pkcs12's Legacy encoder. Use it only for software that cannot
	// read PKCS12Modern, because its encryption is weak.
	PKCS12Legacy
)

// String returns "modern" or "legacy".
func (e PKCS12Encoding) String() string {
	switch e {
	case PKCS12Modern:
		return "modern"
	case PKCS12Legacy:
		return "legacy"
	}
	return fmt.Sprintf("PKCS12Encoding(%d)", int(e))
}

// MinPKCS12PasswordLength is the minimum number of characters (Unicode
// code points) of a PKCS #12 password. The file holds the device key and
// its key derivation is cheap, so a shorter password is rejected.
const MinPKCS12PasswordLength = 8

// ExportError reports a device that cannot be exported as PKCS #12.
type ExportError struct {
	// Reason describes what is wrong.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *ExportError) Error() string {
	msg := "PKCS #12 export: " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ExportError) Unwrap() error { return e.Err }

// EncodePKCS12 returns a PKCS #12 file (RFC 7292) that holds key, the leaf
// chain[0] and the CA certificates chain[1:] (the CSC), encrypted and
// MAC-protected with password. Browsers import such a file into their
// certificate store, for example with NSS's pk12util.
//
// password must have at least MinPKCS12PasswordLength characters. The key
// derivation runs 2048 iterations, which protects a weak password poorly:
// use a long random one, and keep the file only as long as the import
// takes, because it holds the device key. Errors are *ExportError.
func EncodePKCS12(key crypto.Signer, chain []*x509.Certificate, password string, encoding PKCS12Encoding) ([]byte, error) {
	if key == nil || len(chain) == 0 || chain[0] == nil {
		return nil, &ExportError{Reason: "a private key and at least the leaf certificate are required"}
	}
	if password == "" {
		return nil, &ExportError{Reason: "the password is empty: give a password that the importing program will ask for"}
	}
	if n := utf8.RuneCountInString(password); n < MinPKCS12PasswordLength {
		return nil, &ExportError{Reason: fmt.Sprintf("the password is too short (%d characters): use at least %d, because the file holds the device key", n, MinPKCS12PasswordLength)}
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, &ExportError{Reason: "the private key does not match the leaf certificate"}
	}
	for i, c := range chain {
		if c == nil {
			return nil, &ExportError{Reason: fmt.Sprintf("certificate %d of the chain is nil", i)}
		}
	}

	var encoder *pkcs12.Encoder
	switch encoding {
	case PKCS12Modern:
		encoder = pkcs12.Modern2023
	case PKCS12Legacy:
		encoder = pkcs12.Legacy
	default:
		return nil, &ExportError{Reason: fmt.Sprintf("unknown encoding %d: use PKCS12Modern or PKCS12Legacy", int(encoding))}
	}
	data, err := encoder.Encode(key, chain[0], chain[1:], password)
	if err != nil {
		return nil, &ExportError{Reason: "encoding failed", Err: err}
	}
	return data, nil
}

// ExportPKCS12 reads the device key and returns EncodePKCS12 of the key
// and the stored chain [device certificate, CSC]. Errors are *ExportError,
// or the error of reading the key file.
func (d *Device) ExportPKCS12(password string, encoding PKCS12Encoding) ([]byte, error) {
	if !d.Revoked.IsZero() {
		return nil, &ExportError{Reason: fmt.Sprintf("the device certificate of %s is revoked: enroll again before exporting", d.Handle.Display())}
	}
	key, err := pki.ReadPrivateKeyFile(filepath.Join(d.Dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("read the device key: %w", err)
	}
	return EncodePKCS12(key, d.Chain, password, encoding)
}
