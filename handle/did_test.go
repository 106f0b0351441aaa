package handle

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDIDAccepts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		input  string
		method string
		id     string
	}{
		{"plc", "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "plc", "ewvi7nxzyoun6zhxrhs64oiz"},
		{"web host", "did:web:w3c-ccg.github.io", "web", "w3c-ccg.github.io"},
		{"web path", "did:web:w3c-ccg.github.io:user:alice", "web", "w3c-ccg.github.io:user:alice"},
		{"web port", "did:web:example.com%3A3000", "web", "example.com%3A3000"},
		{"web port lowercase hex and path", "did:web:example.com%3a3000:user", "web", "example.com%3a3000:user"},
		{"web percent-encoded path", "did:web:dhp.test:users:alice%40home", "web", "dhp.test:users:alice%40home"},
		{"web max port", "did:web:example.com%3A65535", "web", "example.com%3A65535"},
		{"key ed25519", "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "key", "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
		{"key p256", "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv", "key", "zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			d, err := ParseDID(tt.input)
			if err != nil {
				t.Fatalf("ParseDID(%q) error: %v", tt.input, err)
			}
			if d.Method != tt.method || d.ID != tt.id {
				t.Errorf("ParseDID(%q) = %+v, want {Method: %q, ID: %q}", tt.input, d, tt.method, tt.id)
			}
			if d.String() != tt.input {
				t.Errorf("String() = %q, want the input %q", d.String(), tt.input)
			}
		})
	}
}

func TestParseDIDRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		input  string
		reason string
	}{
		{"empty", "", `must start with "did:"`},
		{"uppercase scheme", "DID:plc:ewvi7nxzyoun6zhxrhs64oiz", `must start with "did:"`},
		{"no identifier", "did:plc", `has no method-specific identifier; expected "did:<method>:<identifier>"`},
		{"empty identifier", "did:web:", "has an empty method-specific identifier"},
		{"unsupported method", "did:example:123456789abcdefghi", `method "example" is not supported; use did:key, did:web or did:plc`},
		{"uppercase method", "did:PLC:ewvi7nxzyoun6zhxrhs64oiz", `method "PLC" is not supported; use did:key, did:web or did:plc`},
		{"too long", "did:web:" + strings.Repeat("a", 2100), "is 2108 bytes long; the maximum is 2048"},

		{"plc too short", "did:plc:ewvi7nxzyoun6zhxrhs64oi", "did:plc identifier is 23 characters long; it must be 24"},
		{"plc too long", "did:plc:ewvi7nxzyoun6zhxrhs64oizz", "did:plc identifier is 25 characters long; it must be 24"},
		{"plc uppercase", "did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ", "did:plc identifier contains 'E' at offset 0; only a-z and 2-7 (lowercase base32) are allowed"},
		{"plc digit outside base32", "did:plc:ewvi7nxzyoun6zhxrhs64oi8", "did:plc identifier contains '8' at offset 23; only a-z and 2-7 (lowercase base32) are allowed"},
		{"plc fragment", "did:plc:ewvi7nxzyoun6zhxrhs6#4oi", "did:plc identifier contains '#' at offset 20; only a-z and 2-7 (lowercase base32) are allowed"},

		{"web uppercase host", "did:web:Example.com", `did:web host "Example.com" must be lowercase`},
		{"web IPv4 host", "did:web:127.0.0.1", `did:web host "127.0.0.1" is not a valid host name: label 4 starts with a digit; the last label (the top-level domain) must start with a letter`},
		{"web one-label host", "did:web:localhost", `did:web host "localhost" is not a valid host name: the name has only one label; a handle needs at least two, such as alice.example.com`},
		{"web slash path", "did:web:example.com/user", `did:web host "example.com/user" is not a valid host name: label 2 contains '/'; only letters a-z, digits 0-9 and hyphens are allowed`},
		{"web fragment", "did:web:example.com#key-1", `did:web host "example.com#key-1" is not a valid host name: label 2 contains '#'; only letters a-z, digits 0-9 and hyphens are allowed`},
		{"web empty host before port", "did:web:%3A443", "did:web host is empty"},
		{"web empty port", "did:web:example.com%3A", `did:web port is empty`},
		{"web port zero", "did:web:example.com%3A0", `did:web port "0" is not a number from 1 to 65535`},
		{"web port too large", "did:web:example.com%3A65536", `did:web port "65536" is not a number from 1 to 65535`},
		{"web port leading zero", "did:web:example.com%3A0443", `did:web port "0443" is not a number from 1 to 65535`},
		{"web port not numeric", "did:web:example.com%3Ahttps", `did:web port "https" is not a number from 1 to 65535`},
		{"web trailing colon", "did:web:example.com:", "did:web path ends with an empty segment"},
		{"web empty segment", "did:web:example.com::alice", "did:web path segment 1 is empty"},
		{"web dot-dot segment", "did:web:example.com:users:..", `did:web path segment 2 is "..", which would leave the directory of the DID document`},
		{"web slash in segment", "did:web:example.com:a/b", "did:web path segment 1 contains '/'; only letters, digits, '.', '-', '_' and percent-encoded bytes are allowed"},
		{"web broken percent", "did:web:example.com:a%4", "did:web path segment 1 has a % at offset 1 that is not followed by two hex digits"},

		{"key not base58btc", "did:key:x", `multibase prefix must be "z" (base58btc)`},
		{"key uppercase Z", "did:key:Z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", `multibase prefix must be "z" (base58btc)`},
		{"key only prefix", "did:key:z", "multicodec prefix is not a valid unsigned varint"},
		{"key character outside alphabet", "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooW0", `base58btc text after the "z" contains '0' at offset 46, which is not in the base58btc alphabet`},
		{"key too long", "did:key:z" + strings.Repeat("1", 200), "did:key identifier is 201 characters long, more than any supported key type needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			d, err := ParseDID(tt.input)
			var didErr *DIDError
			if !errors.As(err, &didErr) {
				t.Fatalf("ParseDID(%q) = %+v, %v; want *DIDError", tt.input, d, err)
			}
			if didErr.Input != tt.input {
				t.Errorf("Input = %q, want %q", didErr.Input, tt.input)
			}
			if didErr.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", didErr.Reason, tt.reason)
			}
			if d != (DID{}) {
				t.Errorf("ParseDID returned %+v along with an error", d)
			}
		})
	}
}

func TestDIDErrorMessage(t *testing.T) {
	t.Parallel()

	_, err := ParseDID("did:key:x")
	want := `invalid DID "did:key:x": multibase prefix must be "z" (base58btc)`
	if err == nil || err.Error() != want {
		t.Errorf("ParseDID(did:key:x) error = %v, want %q", err, want)
	}
}

func TestPublicKeyOfEmptyDIDKey(t *testing.T) {
	t.Parallel()

	_, err := DID{Method: "key"}.PublicKey()
	var didErr *DIDError
	if !errors.As(err, &didErr) {
		t.Fatalf("PublicKey() of did:key without identifier = %v, want *DIDError", err)
	}
	if didErr.Reason != "has an empty method-specific identifier" {
		t.Errorf("Reason = %q", didErr.Reason)
	}
}

func TestPublicKeyRejectsOtherMethods(t *testing.T) {
	t.Parallel()

	for _, input := range []string{"did:web:example.com", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"} {
		d, err := ParseDID(input)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := d.PublicKey()
		var didErr *DIDError
		if !errors.As(err, &didErr) {
			t.Errorf("%s: PublicKey() = %v, %v; want *DIDError", input, pub, err)
		}
	}
}
