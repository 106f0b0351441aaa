package records

import (
	"fmt"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

// Attribute keys read from the TXT records at _atproto.<handle>.
const (
	// KeyDID names the handle's permanent identifier, as in the AT Protocol.
	KeyDID = "did"
	// KeyOAuth names the issuer of the handle's OAuth/OIDC provider.
	KeyOAuth = "oauth"
)

// knownKeys lists the keys whose "key=" prefix starts a new attribute at
// the start of a character-string (see joinCharacterStrings).
var knownKeys = []string{KeyDID, KeyOAuth}

// ATProto is the set of attributes read from the TXT RRset at
// _atproto.<handle>. A field is empty when no record carries the attribute.
// Values are the raw text after "key=". The caller checks DID syntax and
// the issuer URL (handle.ParseDID, the OAuth client).
type ATProto struct {
	// DID is the value of did=, for example "did:plc:ewvi7nxzyoun6zhxrhs64oiz".
	DID string
	// OAuth is the value of oauth=, a host name or an https:// URL.
	OAuth string
}

// AmbiguousError reports an RRset with two or more different values for
// one key. A relying party must not pick one of them, so resolution of the
// handle fails.
type AmbiguousError struct {
	// Key is the attribute key without "=", KeyDID or KeyOAuth.
	Key string
	// Values are the distinct values in the order they were read.
	Values []string
}

func (e *AmbiguousError) Error() string {
	quoted := make([]string, len(e.Values))
	for i, v := range e.Values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("_atproto TXT records hold %d different %s= values (%s), so the handle is ambiguous: publish exactly one %s= value",
		len(e.Values), e.Key, strings.Join(quoted, ", "), e.Key)
}

// ParseATProto reads the attributes of the TXT RRset at _atproto.<handle>.
// Each element of txts holds the character-strings of one TXT RR, as raw
// bytes (wire form), not the zone-file form with backslash escapes.
//
// The rules, applied to each RR on its own:
//
//  1. The character-strings are concatenated, because a value longer than
//     255 bytes has to be split across several strings.
//  2. A string that begins with a known key and "=" ("did=", "oauth=")
//     starts a new attribute even when the string before it does not end
//     in white space. This reads the two-string form of
//     draft-hallambaker-dns-dance, "oauth=idp.example" "did=did:plc:...",
//     as two attributes instead of "oauth=idp.exampledid=did:plc:...".
//  3. The joined text is split on ASCII white space into key=value
//     attributes. Keys are case-sensitive. Unknown keys, words without "="
//     and attributes with an empty value are ignored.
//
// A valid DID contains no "=", so rule 2 never cuts one. An oauth= URL
// whose continuation string begins with "did=" or "oauth=" would be cut, so
// a publisher must split such a URL elsewhere, as ZoneText does.
//
// Repeats of one value are harmless. Two or more different values for did=
// or for oauth=, in one RR or across RRs, return *AmbiguousError (the did=
// conflict is reported first). An RRset without the attributes returns an
// empty ATProto and no error.
func ParseATProto(txts [][]string) (ATProto, error) {
	values := map[string][]string{}
	for _, rr := range txts {
		for _, word := range strings.FieldsFunc(joinCharacterStrings(rr), isSpace) {
			key, value, found := strings.Cut(word, "=")
			if !found || value == "" || !isKnownKey(key) {
				continue
			}
			values[key] = appendDistinct(values[key], value)
		}
	}

	for _, key := range knownKeys {
		if len(values[key]) > 1 {
			return ATProto{}, &AmbiguousError{Key: key, Values: values[key]}
		}
	}

	var attrs ATProto
	if v := values[KeyDID]; len(v) == 1 {
		attrs.DID = v[0]
	}
	if v := values[KeyOAuth]; len(v) == 1 {
		attrs.OAuth = v[0]
	}
	return attrs, nil
}

// joinCharacterStrings concatenates the character-strings of one RR and
// inserts a space before a string that starts a known attribute, unless
// white space already separates the two strings.
func joinCharacterStrings(parts []string) string {
	var b strings.Builder
	for i, part := range parts {
		if i > 0 && startsKnownAttribute(part) && !endsInSpace(parts[i-1]) {
			b.WriteByte(' ')
		}
		b.WriteString(part)
	}
	return b.String()
}

func startsKnownAttribute(s string) bool {
	for _, key := range knownKeys {
		if strings.HasPrefix(s, key+"=") {
			return true
		}
	}
	return false
}

func isKnownKey(key string) bool {
	for _, k := range knownKeys {
		if key == k {
			return true
		}
	}
	return false
}

func endsInSpace(s string) bool {
	return s != "" && isSpace(rune(s[len(s)-1]))
}

// isSpace reports ASCII white space only, so that bytes of other encodings
// inside a value never split it.
func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func appendDistinct(values []string, v string) []string {
	for _, have := range values {
		if have == v {
			return values
		}
	}
	return append(values, v)
}

// OwnerATProto returns the absolute owner name of the TXT RRset of h,
// "_atproto.<h>.". The handle must come from package handle's parsers.
func OwnerATProto(h handle.Handle) string {
	return "_atproto." + string(h) + "."
}

// OwnerTLSA returns the absolute owner name of the TLSA RRset of h, "<h>.".
// The TLSA records live at the handle itself, with no _port._proto labels,
// because the handle is the client's name in DANCE terms.
func OwnerTLSA(h handle.Handle) string {
	return string(h) + "."
}
