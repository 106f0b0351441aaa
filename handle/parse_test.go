package handle

import (
	"errors"
	"testing"
)

func TestParseReservedTLDs(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		input string
		tld   string
	}{
		{"alt", "name.alt", "alt"},
		{"arpa", "1.0.0.127.in-addr.arpa", "arpa"},
		{"example", "alice.example", "example"},
		{"internal", "host.corp.internal", "internal"},
		{"invalid", "nobody.invalid", "invalid"},
		{"local", "laptop.local", "local"},
		{"localhost", "app.localhost", "localhost"},
		{"onion", "expyuzz4wqqyqhjn.onion", "onion"},
		{"uppercase is folded first", "LAPTOP.LOCAL", "local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h, err := Parse(tt.input)
			var reservedErr *ReservedTLDError
			if !errors.As(err, &reservedErr) {
				t.Fatalf("Parse(%q) = %q, %v; want *ReservedTLDError", tt.input, h, err)
			}
			if reservedErr.TLD != tt.tld {
				t.Errorf("TLD = %q, want %q", reservedErr.TLD, tt.tld)
			}
			if reservedErr.Handle == "" {
				t.Error("Handle field is empty")
			}
		})
	}
}

func TestParseAllowsNonReserved(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		input string
	}{
		{"test TLD", "alice.test"},
		{"reserved word as inner label", "laptop.local.test"},
		{"example as second-level domain", "alice.example.com"},
		{"TLD that contains a reserved word", "shop.locals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h, err := Parse(tt.input)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.input, err)
			}
			if string(h) != tt.input {
				t.Errorf("Parse(%q) = %q", tt.input, h)
			}
		})
	}
}

func TestParseReturnsSyntaxErrorFirst(t *testing.T) {
	t.Parallel()

	// A broken name under a reserved TLD reports the syntax rule.
	_, err := Parse("-x.local")
	var syntaxErr *SyntaxError
	if !errors.As(err, &syntaxErr) {
		t.Fatalf("Parse(-x.local) = %v, want *SyntaxError", err)
	}
	if syntaxErr.Label != 1 || syntaxErr.Reason != "starts with a hyphen" {
		t.Errorf("SyntaxError{Label: %d, Reason: %q}, want label 1 starts with a hyphen", syntaxErr.Label, syntaxErr.Reason)
	}
}

func TestReservedTLDErrorMessage(t *testing.T) {
	t.Parallel()

	_, err := Parse("laptop.local")
	want := `handle "laptop.local" uses reserved TLD .local: choose a name under a registrable domain (.test is allowed for testing)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(laptop.local) error = %v, want %q", err, want)
	}
}

func TestParseInputAccepts(t *testing.T) {
	t.Parallel()

	// The A-labels come from published examples (the AT Protocol vectors and
	// the IDNA 2008 form of "straße"). Cases without a published A-label
	// check the Unicode form that Display shows instead.
	tests := []struct {
		name    string
		input   string
		want    Handle
		display string
	}{
		{"at sign and mixed case", "@Alice.Example.COM", "alice.example.com", "@alice.example.com"},
		{"spaces around Unicode", " @bücher.test ", "xn--bcher-kva.test", "@bücher.test"},
		{"uppercase Unicode", "BÜCHER.TEST", "xn--bcher-kva.test", "@bücher.test"},
		{"uppercase Polish", "@MASEŁKOWSKI.PL", "xn--masekowski-d0b.pl", "@masełkowski.pl"},
		{"tab and newline", "\t@alice.test\n", "alice.test", "@alice.test"},
		{"ideographic space and full stop", "\u3000bücher\u3002test", "xn--bcher-kva.test", "@bücher.test"},
		{"fullwidth letters", "ａｌｉｃｅ.test", "alice.test", "@alice.test"},
		{"sharp s stays", "straße.test", "xn--strae-oqa.test", "@straße.test"},
		{"A-label input unchanged", "xn--bcher-kva.test", "xn--bcher-kva.test", "@bücher.test"},
		{"uppercase Greek", "ΣΊΣΥΦΟΣ.test", "", "@σίσυφοσ.test"},
		{"middle dot between l", "l·l.test", "", "@l·l.test"},
		{"Katakana middle dot with Katakana", "カ・カ.test", "", "@カ・カ.test"},
		{"Greek numeral sign before Greek", "͵α.test", "", "@͵α.test"},
		{"Hebrew geresh after Hebrew", "א׳.test", "", "@א׳.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParseInput(tt.input)
			if err != nil {
				t.Fatalf("ParseInput(%q) error: %v", tt.input, err)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("ParseInput(%q) = %q, want %q", tt.input, got, tt.want)
			}
			if !isASCII(string(got)) {
				t.Errorf("ParseInput(%q) = %q, which is not ASCII", tt.input, got)
			}
			if display := got.Display(); display != tt.display {
				t.Errorf("ParseInput(%q).Display() = %q, want %q", tt.input, display, tt.display)
			}
		})
	}
}

func TestParseInputRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		input     string
		label     int
		reason    string
		wrapsIDNA bool
	}{
		{"two at signs", "@@x.test", 1, "contains '@'; only letters a-z, digits 0-9 and hyphens are allowed", false},
		{"only an at sign", "@", 0, "is empty", false},
		{"space inside", "al ice.test", 1, "contains ' '; only letters a-z, digits 0-9 and hyphens are allowed", false},
		{"leading hyphen in U-label", "-bücher.test", 0, `is not a valid internationalized domain name (IDNA 2008): invalid label "-bücher"`, true},
		{"zero width joiner", "a\u200db.test", 0, `is not a valid internationalized domain name (IDNA 2008): invalid label "a\u200db"`, true},
		{"symbol", "b♥.test", 1, "contains '♥' (U+2665), which IDNA 2008 does not allow in domain names", false},
		{"emoji", "x.💩.test", 2, "contains '💩' (U+1F4A9), which IDNA 2008 does not allow in domain names", false},
		{"Arabic tatweel", "بـب.test", 1, "contains 'ـ' (U+0640), which IDNA 2008 does not allow in domain names", false},
		{"combining mark for symbols", "a\u20d0.test", 1, "contains '\u20d0' (U+20D0), which IDNA 2008 does not allow in domain names", false},
		{"old Hangul jamo", "\u11a8a.test", 1, "contains 'ᆨ' (U+11A8), which IDNA 2008 does not allow in domain names", false},
		{"middle dot not between l", "a·b.test", 1, "contains '·' (U+00B7) in a position that IDNA 2008 does not allow (RFC 5892, appendix A)", false},
		{"mixed Arabic-Indic digits", "ب٠۰.test", 0, `is not a valid internationalized domain name (IDNA 2008): invalid label "ب٠۰.test"`, true},
		{"Greek numeral sign at the end", "α͵.test", 1, "contains '͵' (U+0375) in a position that IDNA 2008 does not allow (RFC 5892, appendix A)", false},
		{"Hebrew geresh at the start", "׳א.test", 1, "contains '׳' (U+05F3) in a position that IDNA 2008 does not allow (RFC 5892, appendix A)", false},
		{"Katakana middle dot alone", "a・b.test", 1, "contains '・' (U+30FB) in a position that IDNA 2008 does not allow (RFC 5892, appendix A)", false},
		{"trailing dot after conversion", "bücher.test.", 0, "ends with a dot; remove the trailing dot", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h, err := ParseInput(tt.input)
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("ParseInput(%q) = %q, %v; want *SyntaxError", tt.input, h, err)
			}
			if syntaxErr.Label != tt.label {
				t.Errorf("Label = %d, want %d", syntaxErr.Label, tt.label)
			}
			if syntaxErr.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", syntaxErr.Reason, tt.reason)
			}
			if wraps := errors.Unwrap(err) != nil; wraps != tt.wrapsIDNA {
				t.Errorf("error wraps an IDNA error = %v, want %v", wraps, tt.wrapsIDNA)
			}
		})
	}
}

func TestParseInputReservedTLD(t *testing.T) {
	t.Parallel()

	_, err := ParseInput("@Bücher.LOCAL")
	var reservedErr *ReservedTLDError
	if !errors.As(err, &reservedErr) {
		t.Fatalf("ParseInput(@Bücher.LOCAL) = %v, want *ReservedTLDError", err)
	}
	if reservedErr.Handle != "xn--bcher-kva.local" || reservedErr.TLD != "local" {
		t.Errorf("ReservedTLDError{Handle: %q, TLD: %q}", reservedErr.Handle, reservedErr.TLD)
	}
}

func TestDisplay(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		handle Handle
		want   string
	}{
		{"ASCII", "alice.example.com", "@alice.example.com"},
		{"A-label", "xn--bcher-kva.test", "@bücher.test"},
		{"A-labels in every position", "xn--fiqa61au8b7zsevnm8ak20mc4a87e.xn--fiqs8s", "@中国互联网络信息中心.中国"},
		{"punycode that is no A-label", "xn--stackoverflow.com", "@xn--stackoverflow.com"},
		{"hyphen rule broken after decoding", "xn--a.test", "@xn--a.test"},
		{"emoji outside IDNA 2008", "xn--ls8h.test", "@xn--ls8h.test"},
		{"zero value", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := tt.handle.Display(); got != tt.want {
				t.Errorf("Handle(%q).Display() = %q, want %q", tt.handle, got, tt.want)
			}
		})
	}
}

func TestIsSubdomainOf(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		handle Handle
		suffix Handle
		want   bool
	}{
		{"equal", "dhp.test", "dhp.test", true},
		{"one level below", "alice.dhp.test", "dhp.test", true},
		{"two levels below", "phone.alice.dhp.test", "dhp.test", true},
		{"partial label", "malice.test", "alice.test", false},
		{"parent is not below child", "dhp.test", "alice.dhp.test", false},
		{"unrelated", "alice.example.com", "dhp.test", false},
		{"empty suffix", "alice.test", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := tt.handle.IsSubdomainOf(tt.suffix); got != tt.want {
				t.Errorf("%q.IsSubdomainOf(%q) = %v, want %v", tt.handle, tt.suffix, got, tt.want)
			}
		})
	}
}

func TestHandleString(t *testing.T) {
	t.Parallel()

	h, err := ParseInput("@Alice.Test")
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != "alice.test" {
		t.Errorf("String() = %q, want %q", h.String(), "alice.test")
	}
}
