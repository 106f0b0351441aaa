package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "__Host-dnshandle_session"

// Sign-in methods recorded in a session.
const (
	MethodPassword    = "password"
	MethodCertificate = "certificate"
)

// clockSkew is how far in the future a session's times may lie, for
// replicas whose clocks differ a little.
const clockSkew = time.Minute

// session is the content of the session cookie. Times are Unix seconds.
type session struct {
	// ID names the session in the store's list of signed-out sessions:
	// 16 random bytes, base64url.
	ID string `json:"sid"`
	// Account is the store ID of the signed-in account.
	Account int64 `json:"acct"`
	// PasswordTag is passwordTag of the account's password hash at sign-in,
	// so that a new password ends every older session.
	PasswordTag string `json:"pwt"`
	// Method is MethodPassword or MethodCertificate.
	Method string `json:"m"`
	// Issued is the time of sign-in and Active the time of the latest
	// request that renewed the cookie.
	Issued int64 `json:"iat"`
	Active int64 `json:"act"`
	// CSRF is the synchronizer token of the session's forms: 32 random
	// bytes, base64url.
	CSRF string `json:"csrf"`
}

// SessionError reports a session cookie that opened but is no longer
// valid.
type SessionError struct {
	// Reason describes why the session is not valid.
	Reason string
}

// Error returns a message with the reason.
func (e *SessionError) Error() string {
	return "session is not valid: " + e.Reason + ": sign in again"
}

// randomToken returns n random bytes in unpadded base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error since Go 1.24.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Lengths of the random values of a session, in base64url characters.
var (
	sessionIDLength = len(randomToken(16))
	csrfTokenLength = len(randomToken(32))
)

// passwordTag is a short digest of a password hash. It changes whenever
// the hash changes, and reveals nothing useful about the hash.
func passwordTag(hash string) string {
	sum := sha256.Sum256([]byte("dnshandle session password tag\x00" + hash))
	return hex.EncodeToString(sum[:8])
}

// checkTimes checks the form of s and its times against now and the
// configured lifetimes.
func (s *session) checkTimes(now time.Time, lifetime, idle time.Duration) error {
	switch {
	case len(s.ID) != sessionIDLength:
		return &SessionError{Reason: "malformed session ID"}
	case len(s.CSRF) != csrfTokenLength:
		return &SessionError{Reason: "malformed CSRF token"}
	case s.Account <= 0:
		return &SessionError{Reason: "no account"}
	case s.Method != MethodPassword && s.Method != MethodCertificate:
		return &SessionError{Reason: fmt.Sprintf("unknown sign-in method %q", s.Method)}
	}
	issued, active := time.Unix(s.Issued, 0), time.Unix(s.Active, 0)
	switch {
	case s.Issued <= 0 || active.Before(issued):
		return &SessionError{Reason: "malformed times"}
	case active.After(now.Add(clockSkew)):
		return &SessionError{Reason: "times lie in the future"}
	case now.Sub(issued) >= lifetime:
		return &SessionError{Reason: fmt.Sprintf("signed in more than %v ago", lifetime)}
	case now.Sub(active) >= idle:
		return &SessionError{Reason: fmt.Sprintf("idle for more than %v", idle)}
	}
	return nil
}

// sessionKey is the context key of the verified session of a request.
type sessionKey struct{}

// signedInSession is a verified session with its account.
type signedInSession struct {
	s    *session
	acct *store.Account
}

// currentSession returns the request's valid session and its account, from the
// request context when signedIn or KeepSession put it there.
func (w *Web) currentSession(r *http.Request) (*session, *store.Account, bool) {
	if v, ok := r.Context().Value(sessionKey{}).(signedInSession); ok {
		return v.s, v.acct, true
	}
	s, acct, err := w.readSession(r)
	if err != nil {
		return nil, nil, false
	}
	return s, acct, true
}

// readSession opens and checks the session cookie of r and loads its
// account. It returns nil and an error for a request without a valid
// session.
func (w *Web) readSession(r *http.Request) (*session, *store.Account, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, nil, err
	}
	s := &session{}
	if err := w.open(SessionCookie, c.Value, s); err != nil {
		return nil, nil, err
	}
	if err := s.checkTimes(w.now(), w.cfg.SessionLifetime, w.cfg.IdleTimeout); err != nil {
		return nil, nil, err
	}
	revoked, err := w.cfg.Store.WebSessionRevoked(r.Context(), s.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("revocation of the session: %w", err)
	}
	if revoked {
		return nil, nil, &SessionError{Reason: "signed out"}
	}
	acct, err := w.cfg.Store.AccountByID(r.Context(), s.Account)
	if err != nil {
		return nil, nil, fmt.Errorf("account of the session: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(passwordTag(acct.PasswordHash)), []byte(s.PasswordTag)) != 1 {
		return nil, nil, &SessionError{Reason: "the account's password changed"}
	}
	return s, acct, nil
}

// withSession returns r with the verified session in its context.
func withSession(r *http.Request, s *session, acct *store.Account) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, signedInSession{s: s, acct: acct}))
}

// Account returns the account signed in on the request, and false when
// the request has no valid session cookie. It reads the account from the
// store, so the result reflects the current account.
func (w *Web) Account(r *http.Request) (*store.Account, bool) {
	_, acct, ok := w.currentSession(r)
	return acct, ok
}

// SignedInAt returns the time at which the person signed in to the
// request's session, with a precision of one second, and false when the
// request has no valid session cookie. Renewing the cookie keeps this
// time, and every new sign-in starts a session with a new one.
func (w *Web) SignedInAt(r *http.Request) (time.Time, bool) {
	s, _, ok := w.currentSession(r)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(s.Issued, 0), true
}

// SignInURL returns the path of the sign-in page that returns to next
// after sign-in: "/signin?next=<next, query-escaped>". A next that is not
// a local path (see localPath), or is "/", gives "/signin".
func (w *Web) SignInURL(next string) string {
	p, ok := localPath(next)
	if !ok || p == "/" {
		return "/signin"
	}
	return "/signin?next=" + url.QueryEscape(p)
}

// ReauthenticateURL returns the path of the sign-in page that asks the
// person to sign in again even when the request has a valid session, and
// then returns to next as SignInURL does:
// "/signin?next=<next, query-escaped>&reauth=1". The new sign-in starts a
// new session, with a new SignedInAt time, and ends the session it
// replaces.
func (w *Web) ReauthenticateURL(next string) string {
	u := w.SignInURL(next)
	if strings.Contains(u, "?") {
		return u + "&" + reauthParam + "=1"
	}
	return u + "?" + reauthParam + "=1"
}

// reauthParam is the query parameter of the sign-in page that shows the
// form to a signed-in person (see ReauthenticateURL).
const reauthParam = "reauth"

// KeepSession renews the session cookie of signed-in requests, so that
// the idle timeout counts them as activity, and calls next. Wrap the
// OpenID provider's handler with it. The pages of Handler do this
// themselves.
func (w *Web) KeepSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if s, acct, ok := w.currentSession(r); ok {
			w.renew(rw, s)
			r = withSession(r, s, acct)
		}
		next.ServeHTTP(rw, r)
	})
}

// startSession signs acct in with a new session and sets its cookie. It
// ends the session of r that the new one replaces, if any, and the
// pre-session, whose token served the sign-in form.
func (w *Web) startSession(rw http.ResponseWriter, r *http.Request, acct *store.Account, method string) error {
	if old, _, ok := w.currentSession(r); ok {
		if err := w.revokeSession(r.Context(), old); err != nil {
			return err
		}
	}
	now := w.now().Unix()
	s := &session{
		ID: randomToken(16), Account: acct.ID, PasswordTag: passwordTag(acct.PasswordHash),
		Method: method, Issued: now, Active: now, CSRF: randomToken(32),
	}
	if err := w.setSessionCookie(rw, s); err != nil {
		return err
	}
	http.SetCookie(rw, &http.Cookie{Name: preSessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

func (w *Web) setSessionCookie(rw http.ResponseWriter, s *session) error {
	value, err := w.seal(SessionCookie, s)
	if err != nil {
		return err
	}
	left := time.Unix(s.Issued, 0).Add(w.cfg.SessionLifetime).Sub(w.now())
	http.SetCookie(rw, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: max(int(left.Seconds()), 1),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// renewEvery returns the age of a session's Active time at which a
// request writes a new cookie: a minute, or a quarter of the idle timeout
// when that is shorter.
func (w *Web) renewEvery() time.Duration {
	return min(time.Minute, w.cfg.IdleTimeout/4)
}

// renew moves the Active time of s to now and sends the new cookie, when
// the old Active time is older than renewEvery.
func (w *Web) renew(rw http.ResponseWriter, s *session) {
	now := w.now()
	if now.Sub(time.Unix(s.Active, 0)) < w.renewEvery() {
		return
	}
	renewed := *s
	renewed.Active = now.Unix()
	if err := w.setSessionCookie(rw, &renewed); err != nil {
		w.cfg.Logger.Error("renewing a session cookie failed", "err", err)
	}
}

// SignOut ends the session of r, as the sign-out button does, for the
// OpenID provider's end-session endpoint. It lists the session in the
// store as signed out, so that no process on the store accepts its
// cookie again, and deletes the cookie through rw. It returns nil when r
// has no valid session, and the store's error when the sign-out could
// not be recorded. The cookie is deleted either way. It is safe for
// concurrent use.
func (w *Web) SignOut(rw http.ResponseWriter, r *http.Request) error {
	s, _, ok := w.currentSession(r)
	if !ok {
		return nil
	}
	return w.endSession(r.Context(), rw, s)
}

// endSession revokes s and deletes the session cookie. The cookie is
// deleted even when the revocation fails, and the error is returned.
func (w *Web) endSession(ctx context.Context, rw http.ResponseWriter, s *session) error {
	err := w.revokeSession(ctx, s)
	http.SetCookie(rw, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return err
}

// revokeSession lists s in the store as signed out until it would have
// expired anyway, so that no process on the store accepts its cookie
// again. In the same transaction it deletes the entries of sessions that
// expired.
func (w *Web) revokeSession(ctx context.Context, s *session) error {
	now := w.now()
	until := time.Unix(s.Issued, 0).Add(w.cfg.SessionLifetime + clockSkew)
	err := w.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.DeleteExpiredWebSessions(ctx, now); err != nil {
			return err
		}
		return tx.RevokeWebSession(ctx, s.ID, until)
	})
	if err != nil {
		return fmt.Errorf("sign out session of account %d: %w", s.Account, err)
	}
	return nil
}
