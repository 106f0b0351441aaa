package records

import (
	"fmt"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

// DefaultTTL is the TTL in seconds that ZoneText writes when
// HandleRecords.TTL is 0.
const DefaultTTL uint32 = 3600

// maxCharacterString is the longest character-string of a TXT record in
// bytes, RFC 1035, section 3.3.
const maxCharacterString = 255

// HandleRecords holds every record of one handle, as its owner publishes
// them.
type HandleRecords struct {
	// Handle is the handle, parsed by package handle.
	Handle handle.Handle
	// TTL is the TTL of every record in seconds. Zero means DefaultTTL.
	TTL uint32
	// TLSA are the records at the handle, written in this order.
	TLSA []TLSA
	// DID is the value of the did= attribute. An empty DID writes no record.
	DID string
	// OAuth is the value of the oauth= attribute. An empty OAuth writes no
	// record.
	OAuth string
}

// InvalidRecordError reports a field of HandleRecords that cannot be
// published.
type InvalidRecordError struct {
	// Field is "handle", "tlsa", "did" or "oauth".
	Field string
	// Value is the offending value, in presentation form for a TLSA record.
	Value string
	// Reason describes what is wrong and what to do.
	Reason string
}

func (e *InvalidRecordError) Error() string {
	return fmt.Sprintf("invalid %s record %q: %s", e.Field, e.Value, e.Reason)
}

// Validate checks that the records can be published and read back: the
// handle passes handle.Parse, every TLSA record is usable, and DID and
// OAuth hold no white space or control characters (white space would split
// the TXT attribute in ParseATProto). It returns *InvalidRecordError for
// the first problem, or the error of handle.Parse for the handle.
func (r HandleRecords) Validate() error {
	if _, err := handle.Parse(string(r.Handle)); err != nil {
		return fmt.Errorf("records of handle %q: %w", string(r.Handle), err)
	}
	for _, t := range r.TLSA {
		if reason := t.unusableReason(); reason != "" {
			return &InvalidRecordError{Field: "tlsa", Value: t.String(), Reason: reason + ": a relying party would ignore it"}
		}
	}
	for _, attr := range []struct{ key, value string }{{KeyDID, r.DID}, {KeyOAuth, r.OAuth}} {
		if i := strings.IndexFunc(attr.value, isSpaceOrControl); i >= 0 {
			return &InvalidRecordError{Field: attr.key, Value: attr.value,
				Reason: fmt.Sprintf("byte %d is white space or a control character, which would split the TXT attribute: remove it", i)}
		}
	}
	return nil
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}

// ZoneText returns the records as RFC 1035 master-file lines, one RR per
// line, with absolute owner names, the TTL and class IN, fields separated
// by tabs:
//
//	alice.example.	3600	IN	TLSA	2 1 1 <hex>
//	_atproto.alice.example.	3600	IN	TXT	"did=did:plc:..."
//	_atproto.alice.example.	3600	IN	TXT	"oauth=https://idp.example"
//
// Each TXT attribute gets its own RR, the AT Protocol form. ZoneText does
// not validate the records, so call Validate first.
func (r HandleRecords) ZoneText() string {
	ttl := r.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}

	var b strings.Builder
	for _, t := range r.TLSA {
		fmt.Fprintf(&b, "%s\t%d\tIN\tTLSA\t%s\n", OwnerTLSA(r.Handle), ttl, t)
	}
	for _, attr := range []struct{ key, value string }{{KeyDID, r.DID}, {KeyOAuth, r.OAuth}} {
		if attr.value == "" {
			continue
		}
		fmt.Fprintf(&b, "%s\t%d\tIN\tTXT\t%s\n", OwnerATProto(r.Handle), ttl, txtRDATA(attr.key+"="+attr.value))
	}
	return b.String()
}

// txtRDATA returns text as quoted character-strings of at most 255 bytes
// each, separated by spaces.
func txtRDATA(text string) string {
	parts := splitCharacterStrings(text)
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = quoteCharacterString(p)
	}
	return strings.Join(quoted, " ")
}

// splitCharacterStrings cuts text into pieces of at most 255 bytes. A cut
// moves back by one byte while the next piece would begin with "did=" or
// "oauth=", because ParseATProto reads such a piece as a new attribute.
func splitCharacterStrings(text string) []string {
	var parts []string
	for len(text) > maxCharacterString {
		cut := maxCharacterString
		for cut > 1 && startsKnownAttribute(text[cut:]) {
			cut--
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	return append(parts, text)
}

// quoteCharacterString writes s as a quoted character-string, RFC 1035,
// section 5.1: '"' and '\' are escaped with a backslash, and bytes outside
// printable ASCII as \DDD with three decimal digits.
func quoteCharacterString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
