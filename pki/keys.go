package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
)

// KeyType names a kind of key pair that this package can generate.
// The zero value "" means KeyP256.
type KeyType string

// Key types. A CSC supports only KeyP256 and KeyEd25519, the two key types
// that did:key identifiers in this project encode. Device keys may use any.
const (
	KeyP256    KeyType = "p256"
	KeyP384    KeyType = "p384"
	KeyEd25519 KeyType = "ed25519"
	KeyRSA2048 KeyType = "rsa2048"
	KeyRSA3072 KeyType = "rsa3072"
)

// Limits on RSA device keys, in bits of the modulus.
const (
	MinRSABits = 2048
	// MaxRSABits bounds the cost of verifying a signature made with a key
	// from outside.
	MaxRSABits = 8192
)

var deviceKeyTypes = []KeyType{KeyP256, KeyP384, KeyEd25519, KeyRSA2048, KeyRSA3072}

// NewDeviceKey generates a private key of type t ("" means KeyP256) for a
// device. Since Go 1.26 the key generators of the standard library always
// read crypto/rand, so this function takes no random source.
// It returns a *KeyTypeError for an unknown type.
func NewDeviceKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case "", KeyP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyEd25519:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, &KeyTypeError{KeyType: t, Supported: deviceKeyTypes}
	}
}

// describeKey names the type and size of a public key for error messages.
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == nil {
			return "ECDSA with no curve"
		}
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		if k.N == nil {
			return "RSA with no modulus"
		}
		return fmt.Sprintf("RSA %d-bit", k.N.BitLen())
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// checkDeviceKey returns the reason a public key is not acceptable for a
// device certificate, or "" when it is: ECDSA P-256 or P-384, Ed25519, or
// RSA with a modulus of MinRSABits to MaxRSABits bits.
func checkDeviceKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return ""
		}
		return "ECDSA keys must use curve P-256 or P-384"
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return ""
		}
		return "Ed25519 public key has the wrong length"
	case *rsa.PublicKey:
		if k.N == nil {
			return "RSA key has no modulus"
		}
		bits := k.N.BitLen()
		if bits < MinRSABits {
			return fmt.Sprintf("RSA keys must have at least %d bits", MinRSABits)
		}
		if bits > MaxRSABits {
			return fmt.Sprintf("RSA keys must have at most %d bits", MaxRSABits)
		}
		return ""
	default:
		return "key type not supported: use ECDSA P-256 or P-384, Ed25519, or RSA of at least 2048 bits"
	}
}

// publicKeyBits returns the content of the subjectPublicKey BIT STRING of
// pub's SubjectPublicKeyInfo.
func publicKeyBits(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, err
	}
	return info.PublicKey.Bytes, nil
}

// subjectKeyID computes a key identifier with method 1 of RFC 7093,
// section 2: the leftmost 160 bits of the SHA-256 hash of the
// subjectPublicKey BIT STRING value.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	bits, err := publicKeyBits(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(bits)
	return sum[:20], nil
}

// KeyFingerprint returns the SHA-256 digest of the DER SubjectPublicKeyInfo
// of pub, in lowercase hex. The project uses it as the device id, and it is
// the association data of a "3 1 1" TLSA record for that key.
// It returns an error for a key that crypto/x509 cannot marshal, such as an
// unsupported type.
func KeyFingerprint(pub crypto.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("fingerprint of %s key: %w", describeKey(pub), err)
	}
	sum := sha256.Sum256(spki)
	return hex.EncodeToString(sum[:]), nil
}

// SPKIFingerprint returns the SHA-256 digest of cert's DER
// SubjectPublicKeyInfo in lowercase hex: the same value as KeyFingerprint of
// cert.PublicKey, read from the certificate bytes as they were signed.
func SPKIFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// serialBytes is the length of random serial numbers: 128 bits. As a
// positive INTEGER this encodes in at most 17 octets, within the 20 that
// RFC 5280, section 4.1.2.2 allows.
const serialBytes = 16

// randomSerial returns a positive random serial number read from r.
func randomSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, serialBytes)
	for range 4 {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("read random serial number: %w", err)
		}
		n := new(big.Int).SetBytes(b)
		if n.Sign() > 0 {
			return n, nil
		}
	}
	return nil, fmt.Errorf("read random serial number: source returned only zero bytes")
}

// randOrDefault returns r, or crypto/rand.Reader when r is nil.
func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
