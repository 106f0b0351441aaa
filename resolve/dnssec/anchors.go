package dnssec

import (
	"encoding/hex"
	"fmt"
	"io"

	"github.com/miekg/dns"
)

// AnchorError reports a trust anchor that cannot be used. Match it with
// errors.As.
type AnchorError struct {
	// Record is the 1-based position of the record in the input, or 0
	// when the input as a whole is wrong (syntax errors, no records).
	Record int

	// Text is the record in presentation format, when it parsed.
	Text string

	// Reason is the problem and how to fix it.
	Reason string

	// Err is the parser's error, when there was one.
	Err error
}

func (e *AnchorError) Error() string {
	switch {
	case e.Record > 0:
		return fmt.Sprintf("invalid trust anchor %d (%s): %s", e.Record, e.Text, e.Reason)
	case e.Err != nil:
		return fmt.Sprintf("invalid trust anchors: %s: %v", e.Reason, e.Err)
	}
	return "invalid trust anchors: " + e.Reason
}

func (e *AnchorError) Unwrap() error { return e.Err }

// maxAnchors bounds the records ParseAnchors accepts, since trust anchor
// files hold a handful.
const maxAnchors = 1000

// ParseAnchors reads trust anchors in DNS zone-file format, the format of
// unbound's trust-anchor-file. The input contains one DS or DNSKEY record
// a line. Owner names should be absolute, and relative ones are taken
// relative to the root. Comments after ";" and the $TTL and $ORIGIN
// directives are allowed, but $INCLUDE is rejected.
//
// Every record must be usable: class IN, a DNSSEC algorithm this package
// verifies, and for DS a SHA-1, SHA-256 or SHA-384 digest of the right
// length; for DNSKEY the zone key flag and protocol 3. Any other record,
// or input with no records, returns an *AnchorError.
func ParseAnchors(r io.Reader) ([]dns.RR, error) {
	zp := dns.NewZoneParser(r, ".", "")
	zp.SetIncludeAllowed(false)
	zp.SetDefaultTTL(3600)

	var anchors []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if len(anchors) == maxAnchors {
			return nil, &AnchorError{Reason: fmt.Sprintf("too many records (more than %d): a trust anchor file contains a few DS or DNSKEY records", maxAnchors)}
		}
		if why := checkAnchor(rr); why != "" {
			return nil, &AnchorError{Record: len(anchors) + 1, Text: rr.String(), Reason: why}
		}
		anchors = append(anchors, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, &AnchorError{Reason: "the text is not in zone-file format", Err: err}
	}
	if len(anchors) == 0 {
		return nil, &AnchorError{Reason: "no DS or DNSKEY records found"}
	}
	return anchors, nil
}

// checkAnchor returns "" when rr is a usable trust anchor, or what is wrong.
func checkAnchor(rr dns.RR) string {
	if rr.Header().Class != dns.ClassINET {
		return fmt.Sprintf("class %s is not IN", dns.Class(rr.Header().Class))
	}

	switch a := rr.(type) {
	case *dns.DS:
		if !supportedAlgorithm(a.Algorithm) {
			return fmt.Sprintf("algorithm %s is not supported; use a DS for a key with algorithm 8, 13, 14 or 15", algorithmName(a.Algorithm))
		}
		want := map[uint8]int{dns.SHA1: 20, dns.SHA256: 32, dns.SHA384: 48}[a.DigestType]
		if want == 0 {
			return fmt.Sprintf("digest type %d is not supported; use 2 (SHA-256)", a.DigestType)
		}
		digest, err := hex.DecodeString(a.Digest)
		if err != nil || len(digest) != want {
			return fmt.Sprintf("digest type %d needs %d bytes (%d hex digits), got %q", a.DigestType, want, 2*want, a.Digest)
		}
		return ""

	case *dns.DNSKEY:
		if a.Flags&dns.ZONE == 0 {
			return "the zone key flag (256) is not set, so the key cannot sign a zone"
		}
		if a.Flags&dns.REVOKE != 0 {
			return "the key is revoked (flag 128)"
		}
		if a.Protocol != 3 {
			return fmt.Sprintf("protocol %d is not 3", a.Protocol)
		}
		if !supportedAlgorithm(a.Algorithm) {
			return fmt.Sprintf("algorithm %s is not supported; use 8, 13, 14 or 15", algorithmName(a.Algorithm))
		}
		if a.ToDS(dns.SHA256) == nil {
			return "the public key does not encode"
		}
		return ""
	}
	return fmt.Sprintf("type %s is not a trust anchor; use DS or DNSKEY records", typeName(rr.Header().Rrtype))
}
