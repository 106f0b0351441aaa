package handle

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxDIDLength caps the length of a DID in bytes. The supported methods need
// far less, and the cap keeps oversized input out of the parsers.
const maxDIDLength = 2048

// DID is a decentralized identifier of one of the methods that handles are
// bound to: "key", "web" or "plc". ParseDID returns only valid values, and
// String reproduces the parsed input exactly.
type DID struct {
	// Method is "key", "web" or "plc".
	Method string

	// ID is the method-specific identifier, the part after "did:<method>:".
	ID string
}

// String returns the DID in its text form, for example "did:plc:ewvi7nxzyoun6zhxrhs64oiz".
func (d DID) String() string {
	return "did:" + d.Method + ":" + d.ID
}

// ParseDID parses a DID of one of the supported methods:
//
//   - did:key with a multibase base58btc ("z") identifier that encodes a
//     P-256 public key (multicodec p256-pub, 0x1200) as a 33-byte compressed
//     point, or an Ed25519 public key (multicodec ed25519-pub, 0xed) of 32
//     bytes. The key must be a point on its curve.
//   - did:web with a lowercase host name, an optional port written as
//     "%3A<port>" and an optional path of colon-separated segments, as the
//     did:web method specification defines it. The host must follow the
//     handle syntax, so it has at least two labels and is no IP address. It
//     may use a reserved top-level domain.
//   - did:plc with an identifier of exactly 24 characters from [a-z2-7]
//     (lowercase base32).
//
// The text must be the DID alone: DID URLs with a path, query or fragment
// are rejected. Errors are *DIDError.
func ParseDID(s string) (DID, error) {
	d, reason := parseDID(s)
	if reason != "" {
		return DID{}, &DIDError{Input: s, Reason: reason}
	}
	return d, nil
}

// parseDID returns the DID in s, or the reason why s is not a valid DID.
func parseDID(s string) (DID, string) {
	if len(s) > maxDIDLength {
		return DID{}, fmt.Sprintf("is %d bytes long; the maximum is %d", len(s), maxDIDLength)
	}
	rest, ok := strings.CutPrefix(s, "did:")
	if !ok {
		return DID{}, `must start with "did:"`
	}
	method, id, ok := strings.Cut(rest, ":")
	if !ok {
		return DID{}, `has no method-specific identifier; expected "did:<method>:<identifier>"`
	}
	if id == "" {
		return DID{}, "has an empty method-specific identifier"
	}

	var reason string
	switch method {
	case "key":
		_, reason = decodeDIDKey(id)
	case "web":
		reason = checkDIDWeb(id)
	case "plc":
		reason = checkDIDPLC(id)
	default:
		reason = fmt.Sprintf("method %q is not supported; use did:key, did:web or did:plc", method)
	}
	if reason != "" {
		return DID{}, reason
	}
	return DID{Method: method, ID: id}, ""
}

// plcIDLength is the length of a did:plc identifier in characters of
// lowercase base32, which is 120 bits.
const plcIDLength = 24

// checkDIDPLC returns why id is not a did:plc identifier, or "".
func checkDIDPLC(id string) string {
	if len(id) != plcIDLength {
		return fmt.Sprintf("did:plc identifier is %d characters long; it must be %d", len(id), plcIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if ('a' <= c && c <= 'z') || ('2' <= c && c <= '7') {
			continue
		}
		return fmt.Sprintf("did:plc identifier contains %q at offset %d; only a-z and 2-7 (lowercase base32) are allowed", c, i)
	}
	return ""
}

// checkDIDWeb returns why id is not a did:web identifier, or "". The did:web
// method specification writes the port colon as "%3A" so that it cannot be
// mistaken for the colons that separate path segments.
func checkDIDWeb(id string) string {
	hostPort, path, _ := strings.Cut(id, ":")
	host, port, hasPort := cutPortColon(hostPort)

	if reason := checkWebHost(host); reason != "" {
		return reason
	}
	if hasPort {
		if err := checkPort(port); err != nil {
			return "did:web port " + err.Error()
		}
	}
	if path == "" {
		if strings.HasSuffix(id, ":") {
			return "did:web path ends with an empty segment"
		}
		return ""
	}
	for i, segment := range strings.Split(path, ":") {
		if reason := checkWebPathSegment(segment); reason != "" {
			return fmt.Sprintf("did:web path segment %d %s", i+1, reason)
		}
	}
	return ""
}

// cutPortColon splits s around the first "%3A" or "%3a", the percent-encoded
// colon before a did:web port.
func cutPortColon(s string) (host, port string, found bool) {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && s[i+1] == '3' && (s[i+2] == 'A' || s[i+2] == 'a') {
			return s[:i], s[i+3:], true
		}
	}
	return s, "", false
}

// checkWebHost returns why host is not a lowercase DNS host name, or "". The
// host follows the handle syntax, which also keeps IP addresses out because
// the last label must start with a letter.
func checkWebHost(host string) string {
	if host == "" {
		return "did:web host is empty"
	}
	if toLowerASCII(host) != host {
		return fmt.Sprintf("did:web host %q must be lowercase", host)
	}
	var syntaxErr *SyntaxError
	if _, err := ParseSyntax(host); errors.As(err, &syntaxErr) {
		subject := "the name"
		if syntaxErr.Label > 0 {
			subject = fmt.Sprintf("label %d", syntaxErr.Label)
		}
		return fmt.Sprintf("did:web host %q is not a valid host name: %s %s", host, subject, syntaxErr.Reason)
	}
	return ""
}

// checkPort returns an error unless port is a decimal TCP port from 1 to
// 65535 without leading zeros.
func checkPort(port string) error {
	if port == "" {
		return errors.New("is empty")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || port[0] == '0' {
		return fmt.Errorf("%q is not a number from 1 to 65535", port)
	}
	return nil
}

// checkWebPathSegment returns why segment is not a did:web path segment, or
// "". Segments use the DID syntax's idchar set: letters, digits, ".", "-",
// "_" and percent-encoded bytes. The segments "." and ".." are rejected
// because they would change the path of the URL that the DID resolves to.
func checkWebPathSegment(segment string) string {
	if segment == "" {
		return "is empty"
	}
	if segment == "." || segment == ".." {
		return fmt.Sprintf("is %q, which would leave the directory of the DID document", segment)
	}
	for i := 0; i < len(segment); i++ {
		c := segment[i]
		switch {
		case isLetter(c) || isDigit(c) || c == '.' || c == '-' || c == '_':
		case c == '%' && i+2 < len(segment) && isHex(segment[i+1]) && isHex(segment[i+2]):
			i += 2
		case c == '%':
			return fmt.Sprintf("has a %% at offset %d that is not followed by two hex digits", i)
		default:
			return fmt.Sprintf("contains %q; only letters, digits, '.', '-', '_' and percent-encoded bytes are allowed", c)
		}
	}
	return ""
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
