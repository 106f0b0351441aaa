package web

import (
	"crypto/subtle"
	"net/http"
	"time"
)

// preSessionCookie carries the CSRF token of the sign-in and sign-up forms
// before there is a session. The __Host- prefix makes browsers accept it
// only from this host over HTTPS with Path=/ and no Domain attribute, so a
// sibling domain cannot plant its own.
const preSessionCookie = "__Host-dnshandle_presession"

// preSessionLifetime is how long a sign-in or sign-up form stays valid.
const preSessionLifetime = 2 * time.Hour

// CSRFField is the name of the form field that carries the CSRF token.
const CSRFField = "csrf"

// preSession is the content of the pre-session cookie. Issued is in Unix
// seconds.
type preSession struct {
	CSRF   string `json:"csrf"`
	Issued int64  `json:"iat"`
}

// CSRFError reports a form that fails CheckCSRF.
type CSRFError struct {
	// Reason describes which check failed.
	Reason string
}

// Error returns a message with the reason.
func (e *CSRFError) Error() string {
	return "CSRF check failed: " + e.Reason + ": reload the page and submit the form again"
}

// readPreSession returns the CSRF token of a valid pre-session cookie.
func (w *Web) readPreSession(r *http.Request) (string, bool) {
	c, err := r.Cookie(preSessionCookie)
	if err != nil {
		return "", false
	}
	p := &preSession{}
	if err := w.open(preSessionCookie, c.Value, p); err != nil {
		return "", false
	}
	issued := time.Unix(p.Issued, 0)
	now := w.now()
	if len(p.CSRF) != csrfTokenLength || issued.After(now.Add(clockSkew)) || now.Sub(issued) >= preSessionLifetime {
		return "", false
	}
	return p.CSRF, true
}

// CSRFToken returns the value for the hidden form field "csrf" (CSRFField)
// of a page served to r: the token of the session, or before sign-in the
// token of the pre-session cookie. It returns "" when r carries neither,
// and a form with that value fails CheckCSRF. The sign-in and sign-up
// pages of this package set the pre-session cookie.
func (w *Web) CSRFToken(r *http.Request) string {
	if s, _, ok := w.currentSession(r); ok {
		return s.CSRF
	}
	token, _ := w.readPreSession(r)
	return token
}

// formToken is CSRFToken for a page of this package that shows a form. It
// sets a new pre-session cookie when r has neither a session nor a valid
// pre-session, and returns its token.
func (w *Web) formToken(rw http.ResponseWriter, r *http.Request) string {
	if token := w.CSRFToken(r); token != "" {
		return token
	}
	p := &preSession{CSRF: randomToken(32), Issued: w.now().Unix()}
	value, err := w.seal(preSessionCookie, p)
	if err != nil {
		w.cfg.Logger.Error("sealing a pre-session cookie failed", "err", err)
		return ""
	}
	http.SetCookie(rw, &http.Cookie{
		Name: preSessionCookie, Value: value, Path: "/", MaxAge: int(preSessionLifetime.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return p.CSRF
}

// CheckCSRF checks the form of a POST request in two steps. First, the
// browser must not have sent it from another origin, which
// http.CrossOriginProtection decides from Sec-Fetch-Site and Origin.
// Second, its field "csrf" must equal the token of the request's session,
// or of its pre-session when it has no session, compared in constant
// time. CheckCSRF parses the form when the caller did not. It returns nil
// when the form is good and a *CSRFError otherwise.
func (w *Web) CheckCSRF(r *http.Request) error {
	if err := w.origins.Check(r); err != nil {
		return &CSRFError{Reason: "cross-origin request: " + err.Error()}
	}
	if err := r.ParseForm(); err != nil {
		return &CSRFError{Reason: "the form does not parse: " + err.Error()}
	}
	got := r.PostForm.Get(CSRFField)
	if got == "" {
		return &CSRFError{Reason: "the form has no csrf field"}
	}

	want := ""
	if s, _, ok := w.currentSession(r); ok {
		want = s.CSRF
	} else if token, ok := w.readPreSession(r); ok {
		want = token
	}
	if want == "" {
		return &CSRFError{Reason: "the request carries no valid session or pre-session cookie"}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return &CSRFError{Reason: "the csrf field does not match the session"}
	}
	return nil
}
