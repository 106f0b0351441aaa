package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testKEK is a fixed key for tests.
var testKEK = bytes.Repeat([]byte{0x5a, 0xc3}, KEKSize/2)

func newTestSealer(t testing.TB) *Sealer {
	t.Helper()
	s, err := NewSealer(testKEK)
	if err != nil {
		t.Fatalf("NewSealer: %v", err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t)
	for _, plaintext := range [][]byte{nil, []byte("k"), bytes.Repeat([]byte("pkcs8"), 100)} {
		sealed, err := s.Seal(plaintext, "csc:alice.dhp.test")
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if len(plaintext) >= 8 && bytes.Contains(sealed, plaintext) {
			t.Errorf("sealed value contains the plaintext")
		}
		got, err := s.Open(sealed, "csc:alice.dhp.test")
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Errorf("Open returned %q, want %q", got, plaintext)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t)
	a, err := s.Seal([]byte("same"), "zsk:dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seal([]byte("same"), "zsk:dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are equal, want different nonces")
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t)
	sealed, err := s.Seal([]byte("secret key"), "csc:alice.dhp.test")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := NewSealer(bytes.Repeat([]byte{1}, KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	version2 := bytes.Clone(sealed)
	version2[0] = 2

	cases := []struct {
		name    string
		sealer  *Sealer
		sealed  []byte
		purpose string
		reason  string
	}{
		{"OtherPurpose", s, sealed, "csc:bob.dhp.test", "authentication failed"},
		{"OtherKey", otherKey, sealed, "csc:alice.dhp.test", "authentication failed"},
		{"ChangedByte", s, flipped, "csc:alice.dhp.test", "authentication failed"},
		{"UnknownVersion", s, version2, "csc:alice.dhp.test", "version 2"},
		{"Empty", s, nil, "csc:alice.dhp.test", "empty"},
		{"Short", s, sealed[:20], "csc:alice.dhp.test", "fewer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.sealer.Open(tc.sealed, tc.purpose)
			var sealedErr *SealedValueError
			if !errors.As(err, &sealedErr) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Open: error %v, want a *SealedValueError about %q", err, tc.reason)
			}
		})
	}
}

func TestSealRejectsEmptyPurpose(t *testing.T) {
	t.Parallel()
	if _, err := newTestSealer(t).Seal([]byte("x"), ""); err == nil {
		t.Error("Seal with an empty purpose succeeded, want an error")
	}
}

func TestNewSealerKeySize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer with a %d-byte key succeeded, want an error", n)
		}
	}
}

func TestSealerFormatHidesKey(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t)
	keyHex := hex.EncodeToString(testKEK)
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		for _, value := range []any{s, *s} {
			out := fmt.Sprintf(format, value)
			if strings.Contains(out, keyHex) || strings.Contains(out, string(testKEK)) || strings.Contains(out, fmt.Sprint(testKEK)) {
				t.Errorf("fmt.Sprintf(%q, %T) shows the key: %s", format, value, out)
			}
		}
	}
}

// FuzzSealerOpen checks that Open rejects any input but a sealed value with
// a typed error and never panics.
func FuzzSealerOpen(f *testing.F) {
	s := newTestSealer(f)
	f.Fuzz(func(t *testing.T, sealed []byte, purpose string) {
		plaintext, err := s.Open(sealed, purpose)
		var sealedErr *SealedValueError
		if err != nil && !errors.As(err, &sealedErr) {
			t.Fatalf("Open: error %v of type %T, want *SealedValueError", err, err)
		}
		if err == nil {
			again, err := s.Seal(plaintext, purpose)
			if err != nil || len(again) != len(sealed) {
				t.Fatalf("Open accepted a value that Seal does not produce: %x", sealed)
			}
		}
	})
}
