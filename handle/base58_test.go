package handle

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// "Hello World!" and the leading zero bytes are the Bitcoin wiki's base58
// examples, and "hello world" is the example in the documentation of the
// ppad-base58 Haskell package. The single bytes follow from the alphabet.
func TestBase58Vectors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		dataHex string
		encoded string
	}{
		{"empty", "", ""},
		{"Hello World!", hex.EncodeToString([]byte("Hello World!")), "2NEpo7TZRRrLZSi2U"},
		{"hello world", hex.EncodeToString([]byte("hello world")), "StV1DL6CwTryKyV"},
		{"leading zero bytes", "00000000287fb4cd", "1111233QC4"},
		{"single zero", "00", "1"},
		{"single 57", "39", "z"},
		{"single 58", "3a", "21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			data, err := hex.DecodeString(tt.dataHex)
			if err != nil {
				t.Fatal(err)
			}
			if got := base58Encode(data); got != tt.encoded {
				t.Errorf("base58Encode(%x) = %q, want %q", data, got, tt.encoded)
			}
			decoded, err := base58Decode(tt.encoded)
			if err != nil {
				t.Fatalf("base58Decode(%q) error: %v", tt.encoded, err)
			}
			if !bytes.Equal(decoded, data) {
				t.Errorf("base58Decode(%q) = %x, want %x", tt.encoded, decoded, data)
			}
		})
	}
}

func TestBase58RejectsCharacters(t *testing.T) {
	t.Parallel()

	for _, input := range []string{"0", "O", "I", "l", "abc+", "2NEpo7TZRRrLZSi2U ", "ü"} {
		if got, err := base58Decode(input); err == nil {
			t.Errorf("base58Decode(%q) = %x, want an error", input, got)
		}
	}
}

func TestBase58RoundTripRandom(t *testing.T) {
	t.Parallel()

	for n := 0; n < 80; n++ {
		data := make([]byte, n)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		// Leading zeros need their own "1" digits, so force some.
		for i := 0; i < n && i < n%4; i++ {
			data[i] = 0
		}
		encoded := base58Encode(data)
		decoded, err := base58Decode(encoded)
		if err != nil {
			t.Fatalf("base58Decode(%q) error: %v", encoded, err)
		}
		if !bytes.Equal(decoded, data) {
			t.Fatalf("round trip of %x gave %x", data, decoded)
		}
	}
}
