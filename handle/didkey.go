package handle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/binary"
	"fmt"
	"math/big"
)

// Multicodec codes of the supported did:key key types, from the multicodec
// table of the multiformats project.
const (
	multicodecP256Pub    = 0x1200 // compressed P-256 point, 33 bytes
	multicodecEd25519Pub = 0xed   // Ed25519 public key, 32 bytes
)

const (
	p256CompressedLength = 33

	// maxDIDKeyIDLength is far above the 48 (Ed25519) and 49 (P-256)
	// characters of a supported identifier. It bounds the base58 decoding work
	// for hostile input.
	maxDIDKeyIDLength = 128
)

// PublicKey returns the public key that a did:key DID encodes: an
// *ecdsa.PublicKey on P-256 or an ed25519.PublicKey. It decodes d.ID again,
// so it also validates a DID that was not made by ParseDID. Errors are
// *DIDError, also for DIDs of other methods, whose keys are in DID documents.
func (d DID) PublicKey() (crypto.PublicKey, error) {
	if d.Method != "key" {
		return nil, &DIDError{Input: d.String(), Reason: fmt.Sprintf("did:%s does not contain a key; resolve its DID document instead", d.Method)}
	}
	pub, reason := decodeDIDKey(d.ID)
	if reason != "" {
		return nil, &DIDError{Input: d.String(), Reason: reason}
	}
	return pub, nil
}

// DIDKeyFromPublicKey returns the did:key DID of pub, which must be a P-256
// *ecdsa.PublicKey or an ed25519.PublicKey. P-256 keys are encoded as 33-byte
// compressed points, the form in the did:key method's test vectors. The
// result converts back to an equal key with PublicKey. Errors are *KeyError.
func DIDKeyFromPublicKey(pub crypto.PublicKey) (DID, error) {
	var code uint64
	var key []byte

	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		compressed, err := compressP256(k)
		if err != nil {
			return DID{}, err
		}
		code, key = multicodecP256Pub, compressed
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return DID{}, &KeyError{Type: "ed25519.PublicKey", Reason: fmt.Sprintf("key is %d bytes long; it must be %d", len(k), ed25519.PublicKeySize)}
		}
		if !isEd25519Point(k) {
			return DID{}, &KeyError{Type: "ed25519.PublicKey", Reason: "key is not a valid Ed25519 point encoding"}
		}
		code, key = multicodecEd25519Pub, k
	default:
		return DID{}, &KeyError{Type: fmt.Sprintf("%T", pub), Reason: "only P-256 *ecdsa.PublicKey and ed25519.PublicKey are supported"}
	}

	data := binary.AppendUvarint(nil, code)
	data = append(data, key...)
	return DID{Method: "key", ID: "z" + base58Encode(data)}, nil
}

// compressP256 returns the 33-byte compressed form of a P-256 key: 0x02 or
// 0x03 for the parity of y, then x.
func compressP256(k *ecdsa.PublicKey) ([]byte, error) {
	const keyType = "*ecdsa.PublicKey"
	if k == nil || k.Curve == nil {
		return nil, &KeyError{Type: keyType, Reason: "key is nil or has no curve"}
	}
	if k.Curve != elliptic.P256() {
		return nil, &KeyError{Type: keyType, Reason: fmt.Sprintf("curve %s is not supported; use P-256 or Ed25519", k.Curve.Params().Name)}
	}
	uncompressed, err := k.Bytes()
	if err != nil {
		return nil, &KeyError{Type: keyType, Reason: "key is not a valid P-256 point: " + err.Error()}
	}

	// uncompressed is 0x04, then x and y with 32 bytes each.
	out := make([]byte, p256CompressedLength)
	out[0] = 0x02 | uncompressed[64]&1
	copy(out[1:], uncompressed[1:33])
	return out, nil
}

// decodeDIDKey returns the public key in a did:key identifier, or the reason
// why id does not contain a supported key.
func decodeDIDKey(id string) (crypto.PublicKey, string) {
	if id == "" {
		return nil, "has an empty method-specific identifier"
	}
	if id[0] != 'z' {
		return nil, `multibase prefix must be "z" (base58btc)`
	}
	if len(id) > maxDIDKeyIDLength {
		return nil, fmt.Sprintf("did:key identifier is %d characters long, more than any supported key type needs", len(id))
	}
	data, err := base58Decode(id[1:])
	if err != nil {
		return nil, "base58btc text after the \"z\" " + err.Error()
	}

	code, n := binary.Uvarint(data)
	if n <= 0 {
		return nil, "multicodec prefix is not a valid unsigned varint"
	}
	// The multiformats unsigned varint must use the fewest bytes. Without this
	// check two identifiers would encode the same key.
	if n != len(binary.AppendUvarint(nil, code)) {
		return nil, "multicodec prefix is not minimally encoded"
	}
	key := data[n:]

	switch code {
	case multicodecP256Pub:
		return decodeP256(key)
	case multicodecEd25519Pub:
		return decodeEd25519(key)
	default:
		return nil, fmt.Sprintf("multicodec 0x%x is not supported; use p256-pub (0x1200) or ed25519-pub (0xed)", code)
	}
}

// decodeP256 returns the P-256 key of a 33-byte compressed point.
func decodeP256(key []byte) (crypto.PublicKey, string) {
	if len(key) != p256CompressedLength {
		return nil, fmt.Sprintf("p256-pub key is %d bytes long; a compressed P-256 point is %d", len(key), p256CompressedLength)
	}
	if key[0] != 0x02 && key[0] != 0x03 {
		return nil, fmt.Sprintf("p256-pub key starts with 0x%02x; a compressed point starts with 0x02 or 0x03", key[0])
	}

	// UnmarshalCompressed rejects an x that is not below the field prime or
	// that has no y on the curve.
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), key)
	if x == nil {
		return nil, "p256-pub key is not a point on the P-256 curve"
	}
	uncompressed := make([]byte, 1+2*32)
	uncompressed[0] = 0x04
	x.FillBytes(uncompressed[1:33])
	y.FillBytes(uncompressed[33:])

	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), uncompressed)
	if err != nil {
		return nil, "p256-pub key is not a valid P-256 public key: " + err.Error()
	}
	return pub, ""
}

// decodeEd25519 returns the Ed25519 key in key after checking that it encodes
// a curve point.
func decodeEd25519(key []byte) (crypto.PublicKey, string) {
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Sprintf("ed25519-pub key is %d bytes long; it must be %d", len(key), ed25519.PublicKeySize)
	}
	if !isEd25519Point(key) {
		return nil, "ed25519-pub key is not a valid Ed25519 point encoding"
	}
	return ed25519.PublicKey(append([]byte(nil), key...)), ""
}

// Constants of edwards25519: the field prime p = 2^255 - 19 and the curve
// constant d = -121665/121666 mod p (RFC 8032, section 5.1).
var (
	ed25519P = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	ed25519D = func() *big.Int {
		d := new(big.Int).ModInverse(big.NewInt(121666), ed25519P)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, ed25519P)
	}()
)

// isEd25519Point reports whether the 32 bytes of key decode to a point on
// edwards25519 under the rules of RFC 8032, section 5.1.3. Unlike
// crypto/ed25519 (Go 1.26), it rejects the non-canonical encodings, which
// have y >= p or x = 0 with the sign bit set. So each key has one did:key
// form.
func isEd25519Point(key []byte) bool {
	// The encoding is y in little-endian order, with the sign of x in the top
	// bit of the last byte.
	bigEndian := make([]byte, len(key))
	for i, b := range key {
		bigEndian[len(key)-1-i] = b
	}
	xSign := bigEndian[0] >> 7
	bigEndian[0] &= 0x7f

	y := new(big.Int).SetBytes(bigEndian)
	if y.Cmp(ed25519P) >= 0 {
		return false
	}

	// x^2 = (y^2 - 1) / (d*y^2 + 1). The denominator is never zero because
	// -1/d is not a square mod p.
	y2 := new(big.Int).Mul(y, y)
	y2.Mod(y2, ed25519P)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	u.Mod(u, ed25519P)
	v := new(big.Int).Mul(ed25519D, y2)
	v.Add(v, big.NewInt(1))
	v.Mod(v, ed25519P)
	x2 := v.ModInverse(v, ed25519P)
	x2.Mul(x2, u)
	x2.Mod(x2, ed25519P)

	if x2.Sign() == 0 {
		// x = 0 has no negative form, so a set sign bit is invalid.
		return xSign == 0
	}
	return big.Jacobi(x2, ed25519P) == 1
}
