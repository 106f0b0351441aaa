package oidclogin

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// sessionData is the content of the session cookie.
type sessionData struct {
	// ID names the session in the list of signed-out sessions. Sessions
	// of older versions have none.
	ID      string `json:"n,omitempty"`
	Handle  string `json:"h"`
	DID     string `json:"d"`
	DNSSEC  int    `json:"s"`
	Issuer  string `json:"i"`
	Expires int64  `json:"e"` // Unix seconds
	providerSession
}

// providerSession holds the client of the login and its ID token, which a
// logout sends to the provider's end_session_endpoint as client_id and
// id_token_hint (OpenID Connect RP-Initiated Logout 1.0). Both are "" in
// sessions of older versions, and the ID token is "" when it would make
// the cookie too large.
type providerSession struct {
	ClientID string `json:"c,omitempty"`
	IDToken  string `json:"t,omitempty"`
}

// logoutData is the content of the pending-logout cookie: the state sent
// to the provider's end_session_endpoint and the local path to return to
// when the provider sends the browser back with it.
type logoutData struct {
	State   string `json:"st"`
	Return  string `json:"r"`
	Expires int64  `json:"e"` // Unix seconds
}

// pendingData is the content of the pending-login cookie: everything the
// callback needs to finish the login that this browser started.
type pendingData struct {
	Handle    string `json:"h"`
	Issuer    string `json:"i"`
	ClientID  string `json:"c"`
	State     string `json:"st"`
	Nonce     string `json:"n"`
	Verifier  string `json:"v"`
	DPoPKey   []byte `json:"k,omitempty"` // raw P-256 private key, nil without DPoP
	DPoPNonce string `json:"dn,omitempty"`
	DNSSEC    int    `json:"s"`
	Return    string `json:"r"`
	Expires   int64  `json:"e"` // Unix seconds
}

// errSessionContent is the cause of a session cookie that opens but does
// not hold a valid session.
var errSessionContent = errors.New("session cookie contains no valid identity")

// encodeSession seals the identity and the provider session into a
// session cookie value. When the value would be longer than
// maxCookieValue, which a large ID token can cause, it leaves the ID token
// out, so that the cookie still opens and a logout ends at this site only.
func (c cookieCodec) encodeSession(id *verify.Identity, issuer string, expires time.Time, ps providerSession) string {
	s := sessionData{
		ID:              randomToken(16),
		Handle:          string(id.Handle),
		DID:             id.DID,
		DNSSEC:          int(id.DNSSEC),
		Issuer:          issuer,
		Expires:         expires.Unix(),
		providerSession: ps,
	}
	data, _ := json.Marshal(s)
	value := c.session.seal(data)
	if len(value) <= maxCookieValue {
		return value
	}
	s.IDToken = ""
	data, _ = json.Marshal(s)
	return c.session.seal(data)
}

// decodeSession opens a session cookie value and returns its identity when
// the value is authentic, well formed and not expired at now.
func (c cookieCodec) decodeSession(value string, now time.Time) (*verify.Identity, error) {
	_, id, err := c.decodeSessionData(value, now)
	return id, err
}

// decodeSessionData is decodeSession that also returns the content of the
// cookie.
func (c cookieCodec) decodeSessionData(value string, now time.Time) (*sessionData, *verify.Identity, error) {
	plaintext, err := c.session.open(value)
	if err != nil {
		return nil, nil, err
	}
	return parseSessionData(plaintext, now)
}

// parseSession checks the content of an opened session cookie.
func parseSession(plaintext []byte, now time.Time) (*verify.Identity, error) {
	_, id, err := parseSessionData(plaintext, now)
	return id, err
}

// parseSessionData checks the content of an opened session cookie and
// returns it with its identity.
func parseSessionData(plaintext []byte, now time.Time) (*sessionData, *verify.Identity, error) {
	var s sessionData
	if err := json.Unmarshal(plaintext, &s); err != nil {
		return nil, nil, errSessionContent
	}
	if !now.Before(time.Unix(s.Expires, 0)) {
		return nil, nil, errSessionContent
	}
	h, err := handle.Parse(s.Handle)
	if err != nil || string(h) != s.Handle {
		return nil, nil, errSessionContent
	}
	if _, err := handle.ParseDID(s.DID); err != nil {
		return nil, nil, errSessionContent
	}
	status := resolve.Status(s.DNSSEC)
	if status != resolve.Secure && status != resolve.Insecure && status != resolve.Indeterminate {
		return nil, nil, errSessionContent
	}
	return &s, &verify.Identity{
		Handle: h,
		DID:    s.DID,
		Device: "",
		DNSSEC: status,
		Method: MethodOIDC,
	}, nil
}

// encodePending seals a pending login into a cookie value.
func (c cookieCodec) encodePending(p *pendingData) string {
	data, _ := json.Marshal(p)
	return c.pending.seal(data)
}

// decodePending opens a pending-login cookie value. Errors are *StateError.
func (c cookieCodec) decodePending(value string, now time.Time) (*pendingData, error) {
	plaintext, err := c.pending.open(value)
	if err != nil {
		return nil, &StateError{Problem: StateInvalid}
	}
	return parsePending(plaintext, now)
}

// parsePending checks the content of an opened pending-login cookie.
func parsePending(plaintext []byte, now time.Time) (*pendingData, error) {
	var p pendingData
	if err := json.Unmarshal(plaintext, &p); err != nil {
		return nil, &StateError{Problem: StateInvalid}
	}
	if p.State == "" || p.Nonce == "" || p.Verifier == "" || p.Issuer == "" || p.ClientID == "" {
		return nil, &StateError{Problem: StateInvalid}
	}
	if h, err := handle.Parse(p.Handle); err != nil || string(h) != p.Handle {
		return nil, &StateError{Problem: StateInvalid}
	}
	if _, err := checkReturnPath(p.Return); err != nil {
		return nil, &StateError{Problem: StateInvalid}
	}
	if !now.Before(time.Unix(p.Expires, 0)) {
		return nil, &StateError{Problem: StateExpired}
	}
	return &p, nil
}

// encodeLogout seals a pending logout into a cookie value.
func (c cookieCodec) encodeLogout(p *logoutData) string {
	data, _ := json.Marshal(p)
	return c.logout.seal(data)
}

// decodeLogout opens a pending-logout cookie value and checks its content.
// Errors are *LogoutStateError.
func (c cookieCodec) decodeLogout(value string, now time.Time) (*logoutData, error) {
	plaintext, err := c.logout.open(value)
	if err != nil {
		return nil, &LogoutStateError{Problem: StateInvalid}
	}
	var p logoutData
	if err := json.Unmarshal(plaintext, &p); err != nil || p.State == "" {
		return nil, &LogoutStateError{Problem: StateInvalid}
	}
	if _, err := checkReturnPath(p.Return); err != nil {
		return nil, &LogoutStateError{Problem: StateInvalid}
	}
	if !now.Before(time.Unix(p.Expires, 0)) {
		return nil, &LogoutStateError{Problem: StateExpired}
	}
	return &p, nil
}

// Identity returns the identity of the request's session cookie and
// whether there is a valid one. It does no I/O: a session is trusted for
// its lifetime without resolving the handle again.
func (l *Login) Identity(r *http.Request) (*verify.Identity, bool) {
	c, err := r.Cookie(l.cookies.session.name)
	if err != nil {
		return nil, false
	}
	s, id, err := l.cookies.decodeSessionData(c.Value, l.now())
	if err != nil || (s.ID != "" && l.ended.has(s.ID)) {
		return nil, false
	}
	return id, true
}

// Middleware puts the identity of the request's session into the request
// context with verify.NewContext (read it with verify.FromContext) and
// calls next. A request without a valid session goes to next unchanged,
// and so does a request whose context already carries an identity, for
// example from verify.Verifier.Middleware for a TLS client certificate.
// Guard the handlers that need a login with verify.RequireIdentity.
func (l *Login) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := verify.FromContext(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		if id, ok := l.Identity(r); ok {
			r = r.WithContext(verify.NewContext(r.Context(), id))
		}
		next.ServeHTTP(w, r)
	})
}
