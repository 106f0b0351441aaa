package records

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

// IssuerError reports an oauth= value that names no usable OAuth/OIDC
// issuer.
type IssuerError struct {
	// Input is the value as given.
	Input string
	// Reason says which rule the value breaks.
	Reason string
}

func (e *IssuerError) Error() string {
	return fmt.Sprintf("invalid oauth issuer %q: %s (use a host name such as dhp.example or an https:// URL)", e.Input, e.Reason)
}

// ParseOAuthIssuer checks the value of an oauth= attribute and returns the
// issuer URL it names. The value is either a bare host name, read as
// "https://<host>", or an https URL with an optional path and port and no
// query, fragment or user information, as an OpenID Connect issuer
// identifier must be (OpenID Connect Discovery 1.0, section 2). A trailing
// slash is removed so that two spellings of one issuer compare equal.
//
// The host must follow the handle syntax but may use a reserved TLD, so
// that a provider on loopback or under .localhost can be named in
// development; "localhost" and IP literals are accepted for the same
// reason. Errors are *IssuerError.
func ParseOAuthIssuer(s string) (string, error) {
	if s == "" {
		return "", &IssuerError{Input: s, Reason: "empty value"}
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", &IssuerError{Input: s, Reason: "contains white space or control characters"}
	}
	raw := s
	if !strings.Contains(s, "://") {
		raw = "https://" + s
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", &IssuerError{Input: s, Reason: "not a URL"}
	}
	switch {
	case u.Scheme != "https":
		return "", &IssuerError{Input: s, Reason: fmt.Sprintf("scheme %q is not https", u.Scheme)}
	case u.User != nil:
		return "", &IssuerError{Input: s, Reason: "user information is not allowed"}
	case u.RawQuery != "" || u.ForceQuery:
		return "", &IssuerError{Input: s, Reason: "a query is not allowed"}
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", &IssuerError{Input: s, Reason: "a fragment is not allowed"}
	case u.Opaque != "":
		return "", &IssuerError{Input: s, Reason: "not a hierarchical URL"}
	case strings.Contains(u.EscapedPath(), "//"):
		return "", &IssuerError{Input: s, Reason: "the path has an empty segment"}
	}

	host := u.Hostname()
	if !isLoopbackHost(host) {
		if _, err := handle.ParseSyntax(host); err != nil {
			return "", &IssuerError{Input: s, Reason: fmt.Sprintf("host %q is not a valid DNS name", host)}
		}
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func isLoopbackHost(host string) bool {
	switch host {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return strings.HasPrefix(host, "127.")
}
