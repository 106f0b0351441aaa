package handle

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// Test vectors of the did:key method specification, from test-vectors/
// nist-curves.json and test-vectors/ed25519-x25519.json in the
// w3c-ccg/did-method-key repository. P-256 keys are given there as JWK
// coordinates (base64url), Ed25519 keys by the seed of the private key.
func TestDIDKeyPublishedVectors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		did  string
		key  func(t *testing.T) crypto.PublicKey
	}{
		{
			name: "P-256 first",
			did:  "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
			key:  p256FromJWK("igrFmi0whuihKnj9R3Om1SoMph72wUGeFaBbzG2vzns", "efsX5b10x8yjyrj4ny3pGfLcY7Xby1KzgqOdqnsrJIM"),
		},
		{
			name: "P-256 second",
			did:  "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",
			key:  p256FromJWK("fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI", "hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU"),
		},
		{
			name: "Ed25519 seed 0",
			did:  "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
			key:  ed25519FromSeed("0000000000000000000000000000000000000000000000000000000000000000"),
		},
		{
			name: "Ed25519 seed 1",
			did:  "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
			key:  ed25519FromSeed("0000000000000000000000000000000000000000000000000000000000000001"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := tt.key(t)

			d, err := DIDKeyFromPublicKey(key)
			if err != nil {
				t.Fatalf("DIDKeyFromPublicKey error: %v", err)
			}
			if d.String() != tt.did {
				t.Errorf("DIDKeyFromPublicKey = %s, want %s", d, tt.did)
			}

			parsed, err := ParseDID(tt.did)
			if err != nil {
				t.Fatalf("ParseDID(%s) error: %v", tt.did, err)
			}
			decoded, err := parsed.PublicKey()
			if err != nil {
				t.Fatalf("PublicKey() error: %v", err)
			}
			if !key.(interface{ Equal(crypto.PublicKey) bool }).Equal(decoded) {
				t.Errorf("PublicKey() = %v, want the vector's key", decoded)
			}
		})
	}
}

// The Ed25519 vectors also list the raw key as publicKeyBase58, which checks
// the base58 decoder on its own.
func TestDIDKeyVectorBase58Keys(t *testing.T) {
	t.Parallel()

	tests := []struct {
		seed   string
		base58 string
	}{
		{"0000000000000000000000000000000000000000000000000000000000000000", "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS"},
		{"0000000000000000000000000000000000000000000000000000000000000001", "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt"},
	}
	for _, tt := range tests {
		key := ed25519FromSeed(tt.seed)(t).(ed25519.PublicKey)
		got, err := base58Decode(tt.base58)
		if err != nil {
			t.Fatalf("base58Decode(%s) error: %v", tt.base58, err)
		}
		if !bytes.Equal(got, key) {
			t.Errorf("base58Decode(%s) = %x, want %x", tt.base58, got, []byte(key))
		}
	}
}

func TestDIDKeyRoundTripGeneratedKeys(t *testing.T) {
	t.Parallel()

	for i := 0; i < 20; i++ {
		ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		edPub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}

		for _, pub := range []crypto.PublicKey{&ecKey.PublicKey, edPub} {
			d, err := DIDKeyFromPublicKey(pub)
			if err != nil {
				t.Fatalf("DIDKeyFromPublicKey(%T) error: %v", pub, err)
			}
			parsed, err := ParseDID(d.String())
			if err != nil {
				t.Fatalf("ParseDID(%s) error: %v", d, err)
			}
			got, err := parsed.PublicKey()
			if err != nil {
				t.Fatalf("PublicKey() of %s error: %v", d, err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(got) {
				t.Errorf("%s decodes to a different key", d)
			}
		}
	}
}

func TestDIDKeyPrefixes(t *testing.T) {
	t.Parallel()

	// The multicodec prefix and the key length fix the first letters, which is
	// why the did:key test vectors start with "zDn" (P-256) and "z6Mk" (Ed25519).
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256DID, _ := DIDKeyFromPublicKey(&ecKey.PublicKey)
	edDID, _ := DIDKeyFromPublicKey(edPub)
	if !strings.HasPrefix(p256DID.ID, "zDn") {
		t.Errorf("P-256 did:key %s does not start with zDn", p256DID)
	}
	if !strings.HasPrefix(edDID.ID, "z6Mk") {
		t.Errorf("Ed25519 did:key %s does not start with z6Mk", edDID)
	}
}

func TestDecodeDIDKeyRejects(t *testing.T) {
	t.Parallel()

	p := elliptic.P256().Params().P
	offCurveX := p256XWithoutPoint(t)
	edP := make([]byte, 32) // 2^255 - 19 in little-endian order
	edP[0] = 0xed
	for i := 1; i < 31; i++ {
		edP[i] = 0xff
	}
	edP[31] = 0x7f
	// y = 1 gives x = 0, whose sign bit must be clear.
	edNegativeZero := make([]byte, 32)
	edNegativeZero[0] = 1
	edNegativeZero[31] = 0x80

	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"secp256k1", prefixed(0xe7, make([]byte, 33)), "multicodec 0xe7 is not supported; use p256-pub (0x1200) or ed25519-pub (0xed)"},
		{"P-384", prefixed(0x1201, make([]byte, 49)), "multicodec 0x1201 is not supported; use p256-pub (0x1200) or ed25519-pub (0xed)"},
		{"varint not minimal", append([]byte{0xed, 0x81, 0x00}, make([]byte, 32)...), "multicodec prefix is not minimally encoded"},
		{"varint cut off", []byte{0xed}, "multicodec prefix is not a valid unsigned varint"},
		{"Ed25519 too short", prefixed(0xed, make([]byte, 31)), "ed25519-pub key is 31 bytes long; it must be 32"},
		{"Ed25519 y not below p", prefixed(0xed, edP), "ed25519-pub key is not a valid Ed25519 point encoding"},
		{"Ed25519 negative zero x", prefixed(0xed, edNegativeZero), "ed25519-pub key is not a valid Ed25519 point encoding"},
		{"P-256 uncompressed", prefixed(0x1200, append([]byte{0x04}, make([]byte, 64)...)), "p256-pub key is 65 bytes long; a compressed P-256 point is 33"},
		{"P-256 bad tag", prefixed(0x1200, append([]byte{0x05}, make([]byte, 32)...)), "p256-pub key starts with 0x05; a compressed point starts with 0x02 or 0x03"},
		{"P-256 x not below p", prefixed(0x1200, append([]byte{0x02}, p.Bytes()...)), "p256-pub key is not a point on the P-256 curve"},
		{"P-256 x without a point", prefixed(0x1200, append([]byte{0x03}, offCurveX...)), "p256-pub key is not a point on the P-256 curve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			input := "did:key:z" + base58Encode(tt.data)
			_, err := ParseDID(input)
			var didErr *DIDError
			if !errors.As(err, &didErr) {
				t.Fatalf("ParseDID(%s) = %v, want *DIDError", input, err)
			}
			if didErr.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", didErr.Reason, tt.reason)
			}

			// PublicKey validates a hand-made DID the same way.
			_, err = DID{Method: "key", ID: "z" + base58Encode(tt.data)}.PublicKey()
			if !errors.As(err, &didErr) || didErr.Reason != tt.reason {
				t.Errorf("PublicKey() error = %v, want reason %q", err, tt.reason)
			}
		})
	}
}

// isEd25519Point must agree with crypto/ed25519 on every canonical encoding.
// crypto/ed25519 reports a key that is not a curve point as "bad public key"
// before it looks at the signature.
func TestIsEd25519PointMatchesStandardLibrary(t *testing.T) {
	t.Parallel()

	valid, invalid := 0, 0
	for i := 0; i < 2000; i++ {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			t.Fatal(err)
		}
		key[31] &= 0x7f // keep y < 2^255 and the x sign clear, so the encoding is canonical in practice

		err := ed25519.VerifyWithOptions(key, nil, make([]byte, ed25519.SignatureSize), &ed25519.Options{})
		stdValid := err == nil || !strings.Contains(err.Error(), "bad public key")
		if got := isEd25519Point(key); got != stdValid {
			t.Fatalf("isEd25519Point(%x) = %v, crypto/ed25519 says %v (%v)", key, got, stdValid, err)
		}
		if stdValid {
			valid++
		} else {
			invalid++
		}
	}
	// About half of all y values have a point, so both kinds must occur.
	if valid == 0 || invalid == 0 {
		t.Errorf("valid = %d, invalid = %d; the comparison did not cover both kinds", valid, invalid)
	}
}

func TestDIDKeyFromPublicKeyRejects(t *testing.T) {
	t.Parallel()

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edInvalid := make([]byte, 32)
	edInvalid[31] = 0x7f
	for i := range 31 {
		edInvalid[i] = 0xff
	}

	tests := []struct {
		name    string
		key     crypto.PublicKey
		keyType string
		reason  string
	}{
		{"P-384", &p384.PublicKey, "*ecdsa.PublicKey", "curve P-384 is not supported; use P-256 or Ed25519"},
		{"nil ECDSA key", (*ecdsa.PublicKey)(nil), "*ecdsa.PublicKey", "key is nil or has no curve"},
		{"ECDSA key by value", p256.PublicKey, "ecdsa.PublicKey", "only P-256 *ecdsa.PublicKey and ed25519.PublicKey are supported"},
		{"RSA", &rsaKey.PublicKey, "*rsa.PublicKey", "only P-256 *ecdsa.PublicKey and ed25519.PublicKey are supported"},
		{"Ed25519 short", ed25519.PublicKey(make([]byte, 31)), "ed25519.PublicKey", "key is 31 bytes long; it must be 32"},
		{"Ed25519 y not below p", ed25519.PublicKey(edInvalid), "ed25519.PublicKey", "key is not a valid Ed25519 point encoding"},
		{"nil", nil, "<nil>", "only P-256 *ecdsa.PublicKey and ed25519.PublicKey are supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			d, err := DIDKeyFromPublicKey(tt.key)
			var keyErr *KeyError
			if !errors.As(err, &keyErr) {
				t.Fatalf("DIDKeyFromPublicKey = %v, %v; want *KeyError", d, err)
			}
			if keyErr.Type != tt.keyType {
				t.Errorf("Type = %q, want %q", keyErr.Type, tt.keyType)
			}
			if keyErr.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", keyErr.Reason, tt.reason)
			}
		})
	}
}

// p256FromJWK returns the P-256 key with the given base64url coordinates.
func p256FromJWK(x, y string) func(t *testing.T) crypto.PublicKey {
	return func(t *testing.T) crypto.PublicKey {
		t.Helper()
		xBytes, err := base64.RawURLEncoding.DecodeString(x)
		if err != nil {
			t.Fatal(err)
		}
		yBytes, err := base64.RawURLEncoding.DecodeString(y)
		if err != nil {
			t.Fatal(err)
		}
		uncompressed := append(append([]byte{0x04}, xBytes...), yBytes...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), uncompressed)
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
}

// ed25519FromSeed returns the public key of the private key with the given
// hex seed.
func ed25519FromSeed(seedHex string) func(t *testing.T) crypto.PublicKey {
	return func(t *testing.T) crypto.PublicKey {
		t.Helper()
		seed, err := hex.DecodeString(seedHex)
		if err != nil {
			t.Fatal(err)
		}
		return ed25519.NewKeyFromSeed(seed).Public()
	}
}

// prefixed returns key behind the unsigned varint of a multicodec code.
func prefixed(code uint64, key []byte) []byte {
	return append(binary.AppendUvarint(nil, code), key...)
}

// p256XWithoutPoint returns a 32-byte x for which x^3 - 3x + b is not a
// square mod p, so that no point on P-256 has this x. It computes this with
// math/big, apart from the code under test.
func p256XWithoutPoint(t *testing.T) []byte {
	t.Helper()
	params := elliptic.P256().Params()
	for i := int64(1); i < 1000; i++ {
		x := big.NewInt(i)
		rhs := new(big.Int).Exp(x, big.NewInt(3), params.P)
		rhs.Sub(rhs, new(big.Int).Mul(big.NewInt(3), x))
		rhs.Add(rhs, params.B)
		rhs.Mod(rhs, params.P)
		if big.Jacobi(rhs, params.P) == -1 {
			return x.FillBytes(make([]byte, 32))
		}
	}
	t.Fatal("no x without a point below 1000")
	return nil
}

func TestKeyErrorMessage(t *testing.T) {
	t.Parallel()

	_, err := DIDKeyFromPublicKey(ed25519.PublicKey(make([]byte, 31)))
	want := "cannot encode ed25519.PublicKey as did:key: key is 31 bytes long; it must be 32"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}
