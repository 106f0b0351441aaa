package handle

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of the AT Protocol handle syntax. RFC 1035, section 2.3.4, limits a
// label to 63 octets and a name to 255 octets in wire format, which is 253
// characters in text form without the trailing dot.
const (
	maxHandleLength = 253
	maxLabelLength  = 63
)

// checkSyntax returns the first AT Protocol syntax rule that s breaks, or nil.
// The rules are checked in a fixed order so that each input gets one stable
// reason: whole-name rules first, then each label from the left, then the
// rule for the last label.
func checkSyntax(s string) *SyntaxError {
	fail := func(label int, reason string) *SyntaxError {
		return &SyntaxError{Input: s, Label: label, Reason: reason}
	}

	switch {
	case s == "":
		return fail(0, "is empty")
	case len(s) > maxHandleLength:
		return fail(0, fmt.Sprintf("is %d bytes long; the maximum is %d", len(s), maxHandleLength))
	case s[len(s)-1] == '.':
		return fail(0, "ends with a dot; remove the trailing dot")
	}

	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return fail(0, "has only one label; a handle needs at least two, such as alice.example.com")
	}

	for i, label := range labels {
		if reason := checkLabel(label); reason != "" {
			return fail(i+1, reason)
		}
	}

	// A numeric top-level label would make "127.0.0.1" a handle. RFC 1123,
	// section 2.1, keeps host names and dotted IP addresses apart the same way.
	if last := labels[len(labels)-1]; isDigit(last[0]) {
		return fail(len(labels), "starts with a digit; the last label (the top-level domain) must start with a letter")
	}
	return nil
}

// checkLabel returns the rule that one label breaks, or "".
func checkLabel(label string) string {
	if label == "" {
		return "is empty"
	}
	if len(label) > maxLabelLength {
		return fmt.Sprintf("is %d bytes long; the maximum is %d", len(label), maxLabelLength)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if isLetter(c) || isDigit(c) || c == '-' {
			continue
		}
		return describeInvalidCharacter(label[i:])
	}
	if label[0] == '-' {
		return "starts with a hyphen"
	}
	if label[len(label)-1] == '-' {
		return "ends with a hyphen"
	}
	return ""
}

// describeInvalidCharacter returns the reason for the character at the start
// of rest, which is not a letter, digit or hyphen.
func describeInvalidCharacter(rest string) string {
	if rest[0] < utf8.RuneSelf {
		return fmt.Sprintf("contains %q; only letters a-z, digits 0-9 and hyphens are allowed", rest[0])
	}
	r, size := utf8.DecodeRuneInString(rest)
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("contains the byte 0x%02x, which is not valid UTF-8", rest[0])
	}
	return fmt.Sprintf("contains the non-ASCII character %q (%U); write the label as an A-label (xn--...) or parse it with ParseInput", r, r)
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// toLowerASCII lowercases the letters A-Z and leaves every other byte as is.
// It returns s itself when s has no upper case letter.
func toLowerASCII(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return s
	}

	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// isASCII reports whether s contains only bytes below 0x80.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
