package handle

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks the handle parsers on arbitrary input. None may panic,
// each error must be one of the package's types, and an accepted handle must
// be canonical: lowercase ASCII that Parse and ParseInput both return
// unchanged.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"alice.example.com", "@Alice.Test", " @bücher.test ", "john-.test", "laptop.local", "xn--ls8h.test", "127.0.0.1", ""} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		checkHandleError(t, "Parse", s, err)
		if err == nil {
			checkCanonical(t, "Parse", s, h)
		}

		if _, err := ParseSyntax(s); err != nil {
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("ParseSyntax(%q) error %T, want *SyntaxError", s, err)
			}
		}

		typed, err := ParseInput(s)
		checkHandleError(t, "ParseInput", s, err)
		if err == nil {
			checkCanonical(t, "ParseInput", s, typed)
		}
	})
}

func checkHandleError(t *testing.T, parser, input string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var syntaxErr *SyntaxError
	var reservedErr *ReservedTLDError
	if !errors.As(err, &syntaxErr) && !errors.As(err, &reservedErr) {
		t.Fatalf("%s(%q) error %T (%v), want *SyntaxError or *ReservedTLDError", parser, input, err, err)
	}
}

func checkCanonical(t *testing.T, parser, input string, h Handle) {
	t.Helper()
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			t.Fatalf("%s(%q) = %q contains byte %q, want lowercase ASCII", parser, input, h, c)
		}
	}
	again, err := Parse(string(h))
	if err != nil || again != h {
		t.Fatalf("Parse(%q) = %q, %v; want the same handle back", h, again, err)
	}
	typed, err := ParseInput(string(h))
	if err != nil || typed != h {
		t.Fatalf("ParseInput(%q) = %q, %v; want the same handle back", h, typed, err)
	}
	if display := h.Display(); !strings.HasPrefix(display, "@") {
		t.Fatalf("Display() of %q = %q, want a leading @", h, display)
	}
}

// FuzzParseDID checks ParseDID on arbitrary input. It must not panic, errors
// must be *DIDError, an accepted DID must print as its input, and a did:key
// must survive the trip through PublicKey and DIDKeyFromPublicKey unchanged.
// Random text rarely forms a valid key, so each input is also tried as the
// key bytes of a P-256 and an Ed25519 did:key.
func FuzzParseDID(f *testing.F) {
	for _, seed := range []string{
		"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
		"did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
		"did:web:example.com%3A8443:users:alice",
		"did:plc:ewvi7nxzyoun6zhxrhs64oiz",
		"did:key:x",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, s string) {
		checkDIDRoundTrip(t, s)
		for _, code := range []uint64{multicodecP256Pub, multicodecEd25519Pub} {
			checkDIDRoundTrip(t, "did:key:z"+base58Encode(prefixed(code, []byte(s))))
		}
	})
}

func checkDIDRoundTrip(t *testing.T, s string) {
	t.Helper()

	d, err := ParseDID(s)
	if err != nil {
		var didErr *DIDError
		if !errors.As(err, &didErr) {
			t.Fatalf("ParseDID(%q) error %T (%v), want *DIDError", s, err, err)
		}
		return
	}
	if d.String() != s {
		t.Fatalf("ParseDID(%q).String() = %q", s, d.String())
	}
	if d.Method != "key" {
		return
	}

	pub, err := d.PublicKey()
	if err != nil {
		t.Fatalf("PublicKey() of accepted %q: %v", s, err)
	}
	back, err := DIDKeyFromPublicKey(pub)
	if err != nil {
		t.Fatalf("DIDKeyFromPublicKey of the key in %q: %v", s, err)
	}
	if back.String() != s {
		t.Fatalf("round trip of %q gave %q", s, back.String())
	}
}
