package verify

import (
	"crypto/tls"
	"net/http"
	"strings"
)

// remember stores the Identity verified in a handshake under the key of
// its connection, until ConnectionTTL passes or the leaf expires.
func (v *Verifier) remember(cs *tls.ConnectionState, id *Identity) {
	key, ok := connectionKey(cs)
	if !ok {
		return
	}
	ttl := v.ConnectionTTL
	if ttl <= 0 {
		ttl = DefaultConnectionTTL
	}
	max := v.MaxConnections
	if max <= 0 {
		max = DefaultMaxConnections
	}

	expires := v.now().Add(ttl)
	if notAfter := cs.PeerCertificates[0].NotAfter; notAfter.Before(expires) {
		expires = notAfter
	}
	v.conns.put(key, id, expires, max)
}

// identityForRequest returns the Identity of the request's TLS client: the
// one recorded in the handshake while it is fresh, otherwise the result of
// verifying the chain again. It returns nil when the client presented no
// certificate or the chain fails.
func (v *Verifier) identityForRequest(r *http.Request) *Identity {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	if key, ok := connectionKey(r.TLS); ok {
		if id := v.conns.get(key, v.now()); id != nil {
			return id
		}
	}

	id, err := v.VerifyConnectionState(r.Context(), *r.TLS)
	if err != nil {
		if v.RequestError != nil {
			v.RequestError(r, err)
		}
		return nil
	}
	v.remember(r.TLS, id)
	return id
}

// Middleware puts the Identity of the request's TLS client into the request
// context (read it with FromContext) and calls next. A request without a
// client certificate, or whose chain no longer verifies, goes to next
// unchanged. Wrap the handlers that need a login in RequireIdentity.
//
// The Identity comes from the verification during the handshake when the
// server uses ServerConfig with the same Verifier: it is found by the
// connection's exported keying material (RFC 5705 exporter, unique per TLS
// 1.3 connection) and reused for ConnectionTTL. Past that, or for a
// connection the handshake did not record, the chain in r.TLS is verified
// again under the request's context. Safe for concurrent use.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := v.identityForRequest(r); id != nil {
			// Each request gets its own copy, so a handler that changes
			// it cannot change what later requests of the connection see.
			own := *id
			r = r.WithContext(NewContext(r.Context(), &own))
		}
		next.ServeHTTP(w, r)
	})
}

// AuthScheme is the HTTP authentication scheme of the login challenge.
const AuthScheme = "DNSHandle"

// RequireIdentity calls next only for requests whose context carries an
// Identity (see Middleware and NewContext). Other requests get
// 401 Unauthorized with the challenge
//
//	WWW-Authenticate: DNSHandle realm="<realm>", login="<loginURL>"
//
// which gives the client the URL to log in at, and a short plain-text
// body. The
// login parameter is left out when loginURL is empty.
func RequireIdentity(realm, loginURL string, next http.Handler) http.Handler {
	challenge := Challenge(realm, loginURL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", challenge)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "401 Unauthorized: log in with a DNS handle", http.StatusUnauthorized)
	})
}

// Challenge returns the value of the WWW-Authenticate header that
// RequireIdentity sends, with both parameters written as quoted-strings
// (RFC 9110, section 11.2).
func Challenge(realm, loginURL string) string {
	value := AuthScheme + " realm=" + quoteString(realm)
	if loginURL != "" {
		value += ", login=" + quoteString(loginURL)
	}
	return value
}

// quoteString writes s as an HTTP quoted-string (RFC 9110, section 5.6.4):
// a backslash before '"' and '\'. Control characters other than HTAB
// cannot appear in a quoted-string even when escaped, so each becomes a
// space, which also keeps CR and LF out of the header.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t':
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
