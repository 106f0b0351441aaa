package acme

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// fuzzNonceKey is the nonce key of the fuzz target and its seed corpus.
var fuzzNonceKey = bytes.Repeat([]byte{0x5a}, NonceKeySize)

// fuzzNonceTime and fuzzNonceRandom make the valid nonce of the seed
// corpus (testdata/fuzz/FuzzVerifySharedNonce/valid).
var (
	fuzzNonceTime   = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	fuzzNonceRandom = [nonceRandomSize]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
)

func TestSharedNonceFormat(t *testing.T) {
	t.Parallel()
	issued := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	nonce := mintSharedNonce(fuzzNonceKey, issued, fuzzNonceRandom)

	got, ok := verifySharedNonce(fuzzNonceKey, nonce)
	if !ok {
		t.Fatalf("minted nonce %q is rejected", nonce)
	}
	if want := issued.Truncate(time.Second); !got.Equal(want) {
		t.Errorf("issue time = %v, want %v", got, want)
	}
	if other := mintSharedNonce(fuzzNonceKey, issued, [nonceRandomSize]byte{}); other == nonce {
		t.Errorf("nonces with other random bytes are equal: %q", nonce)
	}

	// The last character carries 2 bits of data and 4 unused bits, which a
	// lenient decoder ignores: setting the lowest one spells the same bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, nonce[len(nonce)-1])
	respelled := nonce[:len(nonce)-1] + string(alphabet[last|1])
	lenient, err := base64.RawURLEncoding.DecodeString(respelled)
	if strict, _ := nonceEncoding.DecodeString(nonce); err != nil || !bytes.Equal(lenient, strict) {
		t.Fatalf("respelled nonce %q does not decode to the bytes of %q: %v", respelled, nonce, err)
	}

	rejected := []struct {
		name  string
		key   []byte
		nonce string
	}{
		{"OtherKey", bytes.Repeat([]byte{0x5b}, NonceKeySize), nonce},
		{"FirstCharacterChanged", fuzzNonceKey, flipCharacter(nonce, 0)},
		{"MACCharacterChanged", fuzzNonceKey, flipCharacter(nonce, len(nonce)-3)},
		{"OtherSpelling", fuzzNonceKey, respelled},
		{"Truncated", fuzzNonceKey, nonce[:len(nonce)-1]},
		{"Extended", fuzzNonceKey, nonce + "A"},
		{"Padded", fuzzNonceKey, nonce + "=="},
		{"StandardAlphabet", fuzzNonceKey, strings.NewReplacer("-", "+", "_", "/").Replace(nonce) + "+"},
		{"Empty", fuzzNonceKey, ""},
		{"MemoryNonce", fuzzNonceKey, "bm90LWEtbm9uY2U"},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			if tc.nonce == nonce && bytes.Equal(tc.key, fuzzNonceKey) {
				t.Fatal("test case does not change the nonce or the key")
			}
			if _, ok := verifySharedNonce(tc.key, tc.nonce); ok {
				t.Errorf("verifySharedNonce accepted %q", tc.nonce)
			}
		})
	}
}

// flipCharacter replaces the character at i by another base64url
// character.
func flipCharacter(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// FuzzVerifySharedNonce checks that verifySharedNonce never panics and
// accepts only the one spelling of a nonce that the key authenticates.
func FuzzVerifySharedNonce(f *testing.F) {
	f.Add(mintSharedNonce(fuzzNonceKey, fuzzNonceTime, fuzzNonceRandom))
	f.Add("")
	f.Fuzz(func(t *testing.T, nonce string) {
		issued, ok := verifySharedNonce(fuzzNonceKey, nonce)
		if !ok {
			return
		}
		raw, err := nonceEncoding.DecodeString(nonce)
		if err != nil {
			t.Fatalf("accepted %q, which does not decode: %v", nonce, err)
		}
		var random [nonceRandomSize]byte
		copy(random[:], raw[nonceTimeSize:])
		if again := mintSharedNonce(fuzzNonceKey, issued, random); again != nonce {
			t.Fatalf("accepted %q, but the nonce of its time and random bytes is %q", nonce, again)
		}
	})
}
