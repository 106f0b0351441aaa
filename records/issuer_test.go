package records

import (
	"errors"
	"testing"
)

func TestParseOAuthIssuer(t *testing.T) {
	t.Parallel()
	valid := []struct {
		name, in, want string
	}{
		{"bare host", "dhp.example", "https://dhp.example"},
		{"https URL", "https://dhp.example", "https://dhp.example"},
		{"trailing slash", "https://dhp.example/", "https://dhp.example"},
		{"path", "https://idp.example/tenant/a", "https://idp.example/tenant/a"},
		{"port", "https://idp.example:8443", "https://idp.example:8443"},
		{"upper-case host", "https://IDP.Example", "https://idp.example"},
		{"loopback", "https://127.0.0.1:9443", "https://127.0.0.1:9443"},
		{"localhost", "localhost:8443", "https://localhost:8443"},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseOAuthIssuer(tc.in)
			if err != nil {
				t.Fatalf("ParseOAuthIssuer(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseOAuthIssuer(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}

	invalid := []struct{ name, in string }{
		{"empty", ""},
		{"http scheme", "http://dhp.example"},
		{"query", "https://dhp.example/?x=1"},
		{"empty query", "https://dhp.example/?"},
		{"fragment", "https://dhp.example/#top"},
		{"user info", "https://user@dhp.example"},
		{"white space", "https://dhp.example/a b"},
		{"single label", "https://intranet"},
		{"bad host", "https://-dhp.example"},
		{"opaque", "https:dhp.example"},
		{"empty path segment", "0.a//"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseOAuthIssuer(tc.in)
			var ie *IssuerError
			if !errors.As(err, &ie) {
				t.Fatalf("ParseOAuthIssuer(%q) = %q, %v; want *IssuerError", tc.in, got, err)
			}
			if ie.Input != tc.in {
				t.Errorf("IssuerError.Input = %q, want %q", ie.Input, tc.in)
			}
		})
	}
}

func FuzzParseOAuthIssuer(f *testing.F) {
	for _, seed := range []string{"dhp.example", "https://idp.example/a/", "http://x.test", "https://u@h.test", "https://[::1]:1/"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		issuer, err := ParseOAuthIssuer(in)
		if err != nil {
			return
		}
		again, err := ParseOAuthIssuer(issuer)
		if err != nil {
			t.Fatalf("ParseOAuthIssuer(%q) = %q, which does not parse again: %v", in, issuer, err)
		}
		if again != issuer {
			t.Fatalf("ParseOAuthIssuer is not stable: %q -> %q -> %q", in, issuer, again)
		}
	})
}
