package handle

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// Each case breaks exactly one rule, so the expected Label and Reason pin
// down which check fired.
func TestParseSyntaxRules(t *testing.T) {
	t.Parallel()

	longLabel := strings.Repeat("a", 64)
	// 4 labels of 63 plus 3 dots is 255 bytes, over the 253 limit.
	tooLong := strings.Join([]string{strings.Repeat("a", 63), strings.Repeat("b", 63), strings.Repeat("c", 63), strings.Repeat("d", 63)}, ".")

	tests := []struct {
		name   string
		input  string
		label  int
		reason string
	}{
		{"empty", "", 0, "is empty"},
		{"too long", tooLong, 0, "is 255 bytes long; the maximum is 253"},
		{"trailing dot", "john.test.", 0, "ends with a dot; remove the trailing dot"},
		{"only a dot", ".", 0, "ends with a dot; remove the trailing dot"},
		{"one label", "john", 0, "has only one label; a handle needs at least two, such as alice.example.com"},
		{"leading dot", ".john.test", 1, "is empty"},
		{"empty middle label", "john..test", 2, "is empty"},
		{"label too long", "short." + longLabel + ".test", 2, "is 64 bytes long; the maximum is 63"},
		{"underscore", "jo_hn.test", 1, "contains '_'; only letters a-z, digits 0-9 and hyphens are allowed"},
		{"space", "john .test", 1, "contains ' '; only letters a-z, digits 0-9 and hyphens are allowed"},
		{"at sign", "@john.test", 1, "contains '@'; only letters a-z, digits 0-9 and hyphens are allowed"},
		{"colon in last label", "john.te:st", 2, "contains ':'; only letters a-z, digits 0-9 and hyphens are allowed"},
		{"non-ASCII letter", "bücher.test", 1, "contains the non-ASCII character 'ü' (U+00FC); write the label as an A-label (xn--...) or parse it with ParseInput"},
		{"invalid UTF-8", "b\xffcher.test", 1, "contains the byte 0xff, which is not valid UTF-8"},
		{"starts with hyphen", "-john.test", 1, "starts with a hyphen"},
		{"ends with hyphen", "john-.test", 1, "ends with a hyphen"},
		{"last label ends with hyphen", "john.tes-", 2, "ends with a hyphen"},
		{"last label starts with digit", "john.0aa", 2, "starts with a digit; the last label (the top-level domain) must start with a letter"},
		{"IPv4 address", "127.0.0.1", 4, "starts with a digit; the last label (the top-level domain) must start with a letter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h, err := ParseSyntax(tt.input)
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("ParseSyntax(%q) = %q, %v; want *SyntaxError", tt.input, h, err)
			}
			if h != "" {
				t.Errorf("ParseSyntax(%q) returned handle %q along with an error", tt.input, h)
			}
			if syntaxErr.Input != tt.input {
				t.Errorf("Input = %q, want %q", syntaxErr.Input, tt.input)
			}
			if syntaxErr.Label != tt.label {
				t.Errorf("Label = %d, want %d", syntaxErr.Label, tt.label)
			}
			if syntaxErr.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", syntaxErr.Reason, tt.reason)
			}
		})
	}
}

func TestParseSyntaxNormalizes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		input string
		want  Handle
	}{
		{"lowercase stays", "alice.example.com", "alice.example.com"},
		{"uppercase folds", "A.ISI.EDU", "a.isi.edu"},
		{"mixed case folds", "Alice.Example.COM", "alice.example.com"},
		{"digits and hyphens", "j0-h0.a1", "j0-h0.a1"},
		{"numeric first label", "4chan.org", "4chan.org"},
		{"A-label", "XN--BCHER-KVA.test", "xn--bcher-kva.test"},
		{"reserved TLD kept", "laptop.local", "laptop.local"},
		{"63-byte label", strings.Repeat("o", 63) + ".test", Handle(strings.Repeat("o", 63) + ".test")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParseSyntax(tt.input)
			if err != nil {
				t.Fatalf("ParseSyntax(%q) error: %v", tt.input, err)
			}
			if got != tt.want {
				t.Errorf("ParseSyntax(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestParseSyntaxMaxLength(t *testing.T) {
	t.Parallel()

	// 3 labels of 63, one of 61, and 3 dots: exactly 253 bytes.
	name := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	if len(name) != 253 {
		t.Fatalf("test name is %d bytes, want 253", len(name))
	}
	if _, err := ParseSyntax(name); err != nil {
		t.Errorf("ParseSyntax of a 253-byte name: %v", err)
	}
	if _, err := ParseSyntax(name + "d"); err == nil {
		t.Error("ParseSyntax of a 254-byte name succeeded, want an error")
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"label rule", "john-.test", `invalid handle "john-.test": label 1 ends with a hyphen`},
		{"whole-name rule", "john", `invalid handle "john": the name has only one label; a handle needs at least two, such as alice.example.com`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := ParseSyntax(tt.input)
			if err == nil {
				t.Fatalf("ParseSyntax(%q) succeeded, want an error", tt.input)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSyntaxErrorMessageCutsLongInput(t *testing.T) {
	t.Parallel()

	input := strings.Repeat("a", 10000)
	_, err := ParseSyntax(input)
	var syntaxErr *SyntaxError
	if !errors.As(err, &syntaxErr) {
		t.Fatalf("ParseSyntax(10000 bytes) = %v, want *SyntaxError", err)
	}
	if syntaxErr.Input != input {
		t.Error("Input field does not hold the whole input")
	}
	if msg := err.Error(); len(msg) > 500 || !strings.Contains(msg, `..."`) {
		t.Errorf("Error() is %d bytes and should be cut with ...: %.80q", len(msg), msg)
	}
}

func TestQuotableCutsAtRuneBoundary(t *testing.T) {
	t.Parallel()

	// "ü" is 2 bytes, so byte 300 falls inside a rune after "a".
	input := "a" + strings.Repeat("ü", 200)
	got := quotable(input)
	if !strings.HasSuffix(got, "...") {
		t.Fatalf("quotable did not cut: %d bytes", len(got))
	}
	cut := strings.TrimSuffix(got, "...")
	if !utf8.ValidString(cut) || len(cut) > maxQuotedInput || !strings.HasPrefix(input, cut) {
		t.Errorf("quotable cut inside a rune or changed the text: %q", cut)
	}
}
