package handle

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
)

// inputProfile converts typed names to A-labels and A-labels back to Unicode.
// It follows the IDNA 2008 lookup rules of RFC 5891, section 5, with the UTS
// #46 mapping (case folding, width mapping, normalization). Processing is
// nontransitional, so "ß" stays "ß". The profile applies the STD3 ASCII
// rules, the hyphen and joiner checks and the Bidi rule of RFC 5893. It does
// not check lengths, because Parse checks them afterwards and names the label
// that is too long.
//
// The profile accepts code points that UTS #46 allows but IDNA 2008 does not,
// such as symbols and emoji, so checkIDNA2008 runs on its output.
var inputProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
)

// ParseInput is the lenient parser for handles that people type. It trims
// surrounding white space, removes one leading "@", folds case, converts
// Unicode labels to A-labels with IDNA 2008 and then calls Parse. For example
// " @Bücher.TEST " becomes "xn--bcher-kva.test". Input of only ASCII skips
// the IDNA step, so ParseInput(string(h)) returns h for every handle h that
// Parse accepts. Errors are *SyntaxError (which wraps the IDNA error when the
// conversion failed) or *ReservedTLDError.
func ParseInput(s string) (Handle, error) {
	name := strings.TrimSpace(s)
	name = strings.TrimPrefix(name, "@")
	if isASCII(name) {
		return Parse(name)
	}

	ascii, err := inputProfile.ToASCII(name)
	if err != nil {
		return "", idnaSyntaxError(name, err)
	}
	// ToUnicode of the profile's own output returns the mapped U-labels.
	unicodeName, err := inputProfile.ToUnicode(ascii)
	if err != nil {
		return "", idnaSyntaxError(name, err)
	}
	if label, reason := checkIDNA2008(unicodeName); reason != "" {
		return "", &SyntaxError{Input: name, Label: label, Reason: reason}
	}
	return Parse(ascii)
}

// idnaSyntaxError wraps an error of the idna package for the input name.
func idnaSyntaxError(name string, err error) *SyntaxError {
	reason := "is not a valid internationalized domain name (IDNA 2008): " +
		strings.TrimPrefix(err.Error(), "idna: ")
	return &SyntaxError{Input: name, Reason: reason, err: err}
}

// Display returns the handle as people read it: "@" followed by the name,
// with A-labels shown as Unicode U-labels, for example "@bücher.test" for
// "xn--bcher-kva.test". Display shows the ASCII form instead when a label
// does not decode to a U-label that ParseInput would accept, or when the
// Unicode form would not convert back to exactly h. So two different handles
// never have the same Display string, although homographs can look alike.
// Display returns "" for the zero Handle.
func (h Handle) Display() string {
	if h == "" {
		return ""
	}
	ascii := string(h)
	if !strings.Contains(ascii, "xn--") {
		return "@" + ascii
	}

	unicodeName, err := inputProfile.ToUnicode(ascii)
	if err != nil {
		return "@" + ascii
	}
	if _, reason := checkIDNA2008(unicodeName); reason != "" {
		return "@" + ascii
	}
	back, err := inputProfile.ToASCII(unicodeName)
	if err != nil || back != ascii {
		return "@" + ascii
	}
	return "@" + unicodeName
}

// checkIDNA2008 returns the 1-based number of the first label of name that
// contains a code point outside IDNA 2008, and the reason, or 0 and "".
//
// It computes the derived property of RFC 5892, section 3, from Go's Unicode
// tables for the code points that the UTS #46 mapping lets through. Letters,
// digits and marks (section 2.1) are allowed, and so are the PVALID
// exceptions of section 2.6. Symbols, punctuation, the blocks of section 2.4
// and old Hangul jamo (section 2.9) are rejected. The contextual rules of RFC
// 5892, appendix A, are checked for the CONTEXTO code points. Two kinds of
// rules are left to inputProfile: the joiner rules (CONTEXTJ), and the rules
// against mixing Arabic-Indic with Extended Arabic-Indic digits (appendix
// A.8 and A.9), which the Bidi rule of RFC 5893, section 2, already enforces.
//
// NOTE: Go's Unicode tables and the IDNA tables of golang.org/x/net may have
// different Unicode versions. A code point assigned in only one of them is
// rejected.
func checkIDNA2008(name string) (int, string) {
	for i, label := range strings.Split(name, ".") {
		runes := []rune(label)
		for j, r := range runes {
			if r < 0x80 {
				continue
			}
			if reason := checkCodePoint(runes, j); reason != "" {
				return i + 1, reason
			}
		}
	}
	return 0, ""
}

// Code points that RFC 5892, section 2.6, classifies apart from their general
// category.
var (
	idnaExceptionsValid      = []rune{0x00DF, 0x03C2, 0x06FD, 0x06FE, 0x0F0B, 0x3007}
	idnaExceptionsDisallowed = []rune{0x0640, 0x07FA, 0x302E, 0x302F, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303B}
)

// idnaIgnorableBlocks are the blocks of RFC 5892, section 2.4.
var idnaIgnorableBlocks = [][2]rune{
	{0x20D0, 0x20FF},   // Combining Diacritical Marks for Symbols
	{0x1D100, 0x1D1FF}, // Musical Symbols
	{0x1D200, 0x1D24F}, // Ancient Greek Musical Notation
}

// idnaOldHangulJamo are the blocks that hold the conjoining Hangul jamo of
// RFC 5892, section 2.9 (Hangul_Syllable_Type L, V or T).
var idnaOldHangulJamo = [][2]rune{
	{0x1100, 0x11FF},
	{0xA960, 0xA97F},
	{0xD7B0, 0xD7FF},
}

// checkCodePoint returns why runes[i] is not allowed in an IDNA 2008 label,
// or "".
func checkCodePoint(runes []rune, i int) string {
	r := runes[i]
	disallowed := fmt.Sprintf("contains %q (%U), which IDNA 2008 does not allow in domain names", r, r)

	if context, ok := contextRules[r]; ok {
		if !context(runes, i) {
			return fmt.Sprintf("contains %q (%U) in a position that IDNA 2008 does not allow (RFC 5892, appendix A)", r, r)
		}
		return ""
	}
	switch {
	case containsRune(idnaExceptionsValid, r):
		return ""
	case containsRune(idnaExceptionsDisallowed, r),
		inRanges(idnaIgnorableBlocks, r),
		inRanges(idnaOldHangulJamo, r):
		return disallowed
	case unicode.In(r, unicode.Ll, unicode.Lu, unicode.Lo, unicode.Nd, unicode.Lm, unicode.Mn, unicode.Mc):
		return ""
	default:
		return disallowed
	}
}

// contextRules are the CONTEXTO rules of RFC 5892, appendix A.3 to A.7. Each
// function reports whether the label runes may contain runes[i] at index i.
var contextRules = map[rune]func(runes []rune, i int) bool{
	0x00B7: func(runes []rune, i int) bool { // MIDDLE DOT, only in "l·l"
		return i > 0 && i+1 < len(runes) && runes[i-1] == 'l' && runes[i+1] == 'l'
	},
	0x0375: func(runes []rune, i int) bool { // GREEK LOWER NUMERAL SIGN, before Greek
		return i+1 < len(runes) && unicode.Is(unicode.Greek, runes[i+1])
	},
	0x05F3: afterHebrew, // HEBREW PUNCTUATION GERESH
	0x05F4: afterHebrew, // HEBREW PUNCTUATION GERSHAYIM
	0x30FB: func(runes []rune, _ int) bool { // KATAKANA MIDDLE DOT, with kana or Han
		for _, r := range runes {
			if r != 0x30FB && unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
				return true
			}
		}
		return false
	},
}

func afterHebrew(runes []rune, i int) bool {
	return i > 0 && unicode.Is(unicode.Hebrew, runes[i-1])
}

func inRanges(ranges [][2]rune, r rune) bool {
	for _, span := range ranges {
		if span[0] <= r && r <= span[1] {
			return true
		}
	}
	return false
}

func containsRune(list []rune, r rune) bool {
	for _, v := range list {
		if v == r {
			return true
		}
	}
	return false
}
