package proxy

import (
	"context"
	"net/http"
	"net/http/httputil"
	"slices"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/verify"
)

// The identity headers the proxy sets on upstream requests.
const (
	// HeaderHandle carries the handle, for example "alice.dhp.test".
	HeaderHandle = "DNS-Handle"
	// HeaderDID carries the permanent identifier. It is left out when the
	// identity has none.
	HeaderDID = "DNS-Handle-DID"
	// HeaderDevice carries the lowercase hex SHA-256 of the device's
	// SubjectPublicKeyInfo. It is left out for OIDC logins.
	HeaderDevice = "DNS-Handle-Device"
	// HeaderMethod carries the login method, "tls" or "oidc".
	HeaderMethod = "DNS-Handle-Method"
)

// identityHeaderPrefix is the normalized prefix of the header names that
// only the proxy may set.
const identityHeaderPrefix = "dns-handle"

// requestState is the per-request record of the proxy: the identity it
// forwarded and the error of a failed certificate.
type requestState struct {
	start     time.Time
	id        *verify.Identity
	verifyErr error
}

type stateKey struct{}

func withState(ctx context.Context, st *requestState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// rewrite builds the upstream request: the upstream URL, X-Forwarded-*
// headers, the client's identity headers and session cookies removed, and
// the proxy's identity headers set.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.cfg.Upstream)
	pr.SetXForwarded()

	stripIdentityHeaders(pr.Out.Header)
	stripIdentityHeaders(pr.Out.Trailer)
	stripCookies(pr.Out.Header, p.cfg.SessionCookies)

	if id, ok := verify.FromContext(pr.In.Context()); ok {
		setIdentityHeaders(pr.Out.Header, id)
	}
}

// isIdentityHeader reports whether a header name is one the proxy owns. The
// comparison ignores letter case and treats "_" as "-", because CGI-style
// servers map both spellings to the same variable (HTTP_DNS_HANDLE).
func isIdentityHeader(name string) bool {
	normalized := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	return strings.HasPrefix(normalized, identityHeaderPrefix)
}

// stripIdentityHeaders removes every header that isIdentityHeader matches,
// with all its values.
func stripIdentityHeaders(h http.Header) {
	for name := range h {
		if isIdentityHeader(name) {
			delete(h, name)
		}
	}
}

// setIdentityHeaders sets the identity headers for id.
func setIdentityHeaders(h http.Header, id *verify.Identity) {
	h.Set(HeaderHandle, string(id.Handle))
	if id.DID != "" {
		h.Set(HeaderDID, id.DID)
	}
	if id.Device != "" {
		h.Set(HeaderDevice, id.Device)
	}
	h.Set(HeaderMethod, id.Method)
}

// sessionCookiePrefix begins the names of the cookies that the proxy and
// its sign-in handler own.
const sessionCookiePrefix = "dnshandle_"

// isSessionCookie reports whether a cookie name begins with
// sessionCookiePrefix, after an optional "__Host-" or "__Secure-" prefix
// (RFC 6265bis, section 4.1.3).
func isSessionCookie(name string) bool {
	name = strings.TrimPrefix(name, "__Host-")
	name = strings.TrimPrefix(name, "__Secure-")
	return strings.HasPrefix(name, sessionCookiePrefix)
}

// stripCookies removes from the Cookie headers the named cookies and those
// isSessionCookie matches, and drops a Cookie header that becomes empty.
func stripCookies(h http.Header, names []string) {
	if len(h.Values("Cookie")) == 0 {
		return
	}
	var kept []string
	for _, line := range h.Values("Cookie") {
		var parts []string
		for part := range strings.SplitSeq(line, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if slices.Contains(names, name) || isSessionCookie(name) {
				continue
			}
			if strings.TrimSpace(part) != "" {
				parts = append(parts, strings.TrimSpace(part))
			}
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	h.Del("Cookie")
	for _, line := range kept {
		h.Add("Cookie", line)
	}
}

// wantsHTML reports whether the client accepts an HTML page, which browsers
// state in their Accept header on navigation. A missing Accept header or
// */* alone counts as an API client.
func wantsHTML(r *http.Request) bool {
	for _, value := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(value, ",") {
			mediaType, _, _ := strings.Cut(part, ";")
			mediaType = strings.ToLower(strings.TrimSpace(mediaType))
			if mediaType == "text/html" || mediaType == "application/xhtml+xml" {
				return true
			}
		}
	}
	return false
}
