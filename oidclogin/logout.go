package oidclogin

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"time"
)

// serveLogout ends the session at this site and sends the browser on.
// When the session's provider advertises an end_session_endpoint and the
// session kept its ID token, the browser goes there to end the session at
// the provider too (OpenID Connect RP-Initiated Logout 1.0, section 2).
// Otherwise it goes to the form's return path, or to "/" when the form
// has none or it is not local.
func (l *Login) serveLogout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	returnPath := "/"
	if err := r.ParseForm(); err == nil {
		if ret, err := checkReturnPath(r.PostForm.Get("return")); err == nil {
			returnPath = ret
		}
	}
	session := l.sessionData(r)
	if session != nil && session.ID != "" {
		l.ended.add(session.ID, time.Unix(session.Expires, 0), l.now())
	}
	http.SetCookie(w, l.cookies.clear(l.cookies.session))
	setPageHeaders(w)

	target := returnPath
	if session != nil {
		endURL, pending, err := l.endSessionURL(r.Context(), session, returnPath)
		switch {
		case err != nil:
			l.report(r, &Error{Step: StepLogout, Handle: session.Handle, Issuer: session.Issuer, Err: err})
		case endURL != "":
			target = endURL
		}
		if err == nil && pending != nil {
			expires := time.Unix(pending.Expires, 0)
			http.SetCookie(w, l.cookies.cookie(l.cookies.logout, l.cookies.encodeLogout(pending), expires, l.now()))
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// sessionData returns the content of the request's valid session cookie,
// or nil.
func (l *Login) sessionData(r *http.Request) *sessionData {
	c, err := r.Cookie(l.cookies.session.name)
	if err != nil {
		return nil
	}
	s, _, err := l.cookies.decodeSessionData(c.Value, l.now())
	if err != nil || (s.ID != "" && l.ended.has(s.ID)) {
		return nil
	}
	return s
}

// endSessionURL returns the URL of the provider's end_session_endpoint
// with the logout request for session s: id_token_hint and client_id and,
// when the client registered this site's post_logout_redirect_uri, that
// URI and a new state. The pending logout to keep in the browser's cookie
// is nil without a post_logout_redirect_uri. It returns "" when the
// session has no ID token or the provider advertises no
// end_session_endpoint. Errors come from fetching the discovery document.
func (l *Login) endSessionURL(ctx context.Context, s *sessionData, returnPath string) (string, *logoutData, error) {
	if s.IDToken == "" || s.ClientID == "" || s.Issuer == "" {
		return "", nil, nil
	}
	p, err := l.provider(ctx, s.Issuer)
	if err != nil {
		return "", nil, err
	}
	if p.meta.EndSessionEndpoint == "" {
		return "", nil, nil
	}
	// checkMetadata accepted the endpoint as an absolute https URL.
	u, err := url.Parse(p.meta.EndSessionEndpoint)
	if err != nil {
		return "", nil, &MetadataError{URL: s.Issuer + wellKnownPath, Field: "end_session_endpoint", Reason: "is not a URL"}
	}

	query := u.Query()
	query.Set("id_token_hint", s.IDToken)
	query.Set("client_id", s.ClientID)
	var pending *logoutData
	if l.postLogoutRegistered(p, s.ClientID) {
		pending = &logoutData{State: randomToken(32), Return: returnPath, Expires: l.now().Add(PendingLifetime).Unix()}
		query.Set("post_logout_redirect_uri", l.logoutURL)
		query.Set("state", pending.State)
	}
	u.RawQuery = query.Encode()
	return u.String(), pending, nil
}

// postLogoutRegistered reports whether the client clientID at the provider
// has this site's LogoutPath registered as a post_logout_redirect_uri: a
// static client marked PostLogoutRedirect, or a dynamically registered
// client whose registration response listed the URI.
func (l *Login) postLogoutRegistered(p *provider, clientID string) bool {
	if static, ok := l.staticClients[p.meta.Issuer]; ok {
		return static.ID == clientID && static.PostLogoutRedirect
	}
	c, ok := l.registry.lookup(p.meta.Issuer, l.callbackURL, l.now())
	return ok && c.ID == clientID && c.PostLogoutRedirectURI == l.logoutURL
}

// serveLogoutReturn receives the browser back from the provider's
// end_session_endpoint at the post_logout_redirect_uri. A state that
// matches the pending-logout cookie sends the browser on to the return
// path of the logout form. Any other request goes to "/", so that the
// query never chooses where the browser goes. The one exception is a
// signed-in person without a pending logout, who probably typed the
// address: LoginPath has the sign-out button, because a logout needs a
// POST with the form's CSRF token. The pending logout is cleared either
// way.
func (l *Login) serveLogoutReturn(w http.ResponseWriter, r *http.Request) {
	target := "/"
	c, err := r.Cookie(l.cookies.logout.name)
	if err != nil && l.sessionData(r) != nil {
		target = l.base.Path + LoginPath
	}
	if err == nil {
		http.SetCookie(w, l.cookies.clear(l.cookies.logout))
		pending, err := l.cookies.decodeLogout(c.Value, l.now())
		states := r.URL.Query()["state"]
		switch {
		case err != nil:
			l.report(r, &Error{Step: StepLogout, Err: err})
		case len(states) != 1 || subtle.ConstantTimeCompare([]byte(states[0]), []byte(pending.State)) != 1:
			l.report(r, &Error{Step: StepLogout, Err: &LogoutStateError{Problem: StateMismatch}})
		default:
			target = pending.Return
		}
	}
	setPageHeaders(w)
	http.Redirect(w, r, target, http.StatusSeeOther)
}
