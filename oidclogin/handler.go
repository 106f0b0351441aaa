package oidclogin

import (
	"errors"
	"net/http"
	"net/url"
)

// maxFormBody bounds the body of the login and logout forms, in bytes.
const maxFormBody = 16 << 10

// Handler returns the handler of LoginPath, CallbackPath and LogoutPath.
// Mount it at the root of Config.BaseURL (or strip BaseURL's path before
// it). Other paths get 404 and other methods 405. POST requests from
// other origins are rejected with 403 (http.CrossOriginProtection).
func (l *Login) Handler() http.Handler {
	csrf := http.NewCrossOriginProtection()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LoginPath, l.serveLoginPage)
	mux.Handle("POST "+LoginPath, csrf.Handler(http.HandlerFunc(l.serveStart)))
	mux.HandleFunc("GET "+CallbackPath, l.serveCallback)
	mux.Handle("POST "+LogoutPath, csrf.Handler(http.HandlerFunc(l.serveLogout)))
	mux.HandleFunc("GET "+LogoutPath, l.serveLogoutReturn)
	return mux
}

// LoginURL returns the path of the login form that returns to returnPath
// after the login, for links and for verify.RequireIdentity's challenge.
// A returnPath that is not a local path is left out.
func (l *Login) LoginURL(returnPath string) string {
	target := l.base.Path + LoginPath
	if ret, err := checkReturnPath(returnPath); err == nil && ret != "/" {
		target += "?" + url.Values{"return": {ret}}.Encode()
	}
	return target
}

// serveLoginPage shows the form. The query may preset the handle and the
// return path.
func (l *Login) serveLoginPage(w http.ResponseWriter, r *http.Request) {
	page := l.newLoginPage(r)
	page.Handle = r.URL.Query().Get("handle")
	ret, err := checkReturnPath(r.URL.Query().Get("return"))
	if err != nil {
		l.fail(w, r, &Error{Step: StepInput, Err: err})
		return
	}
	page.Return = ret
	renderPage(w, http.StatusOK, "login", page)
}

func (l *Login) newLoginPage(r *http.Request) *loginPage {
	page := &loginPage{
		Action:       l.base.Path + LoginPath,
		LogoutAction: l.base.Path + LogoutPath,
		Return:       "/",
	}
	if id, ok := l.Identity(r); ok {
		page.Signed = id.Handle.Display()
	}
	return page
}

// serveStart starts a login for the handle in the form and redirects the
// browser to the provider.
func (l *Login) serveStart(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "400 Bad Request: the form could not be read", http.StatusBadRequest)
		return
	}
	input, returnPath := r.PostForm.Get("handle"), r.PostForm.Get("return")

	authURL, pending, err := l.start(r.Context(), input, returnPath)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Step == StepInput || e.Step == StepResolve) {
			// The person can fix these by typing again, so the form
			// comes back with the message beside the field.
			l.report(r, err)
			page := l.newLoginPage(r)
			page.Handle, page.Error, page.Advice = input, e.Err.Error(), advice(e)
			if ret, retErr := checkReturnPath(returnPath); retErr == nil {
				page.Return = ret
			}
			renderPage(w, statusCode(e), "login", page)
			return
		}
		l.fail(w, r, err)
		return
	}

	now := l.now()
	http.SetCookie(w, l.cookies.cookie(l.cookies.pending, l.cookies.encodePending(pending), now.Add(PendingLifetime), now))
	setPageHeaders(w)
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

// serveCallback finishes a login, sets the session cookie and redirects
// to the return path. The pending login is cleared either way, so a
// browser cannot use one authorization response twice. The session keeps
// the client and the ID token for a logout at the provider.
func (l *Login) serveCallback(w http.ResponseWriter, r *http.Request) {
	done, err := l.finish(r.Context(), r)
	if _, cookieErr := r.Cookie(l.cookies.pending.name); cookieErr == nil {
		http.SetCookie(w, l.cookies.clear(l.cookies.pending))
	}
	if err != nil {
		l.fail(w, r, err)
		return
	}

	now := l.now()
	expires := now.Add(l.lifetime)
	ps := providerSession{ClientID: done.pending.ClientID, IDToken: done.idToken}
	value := l.cookies.encodeSession(done.identity, done.pending.Issuer, expires, ps)
	http.SetCookie(w, l.cookies.cookie(l.cookies.session, value, expires, now))
	setPageHeaders(w)
	http.Redirect(w, r, done.pending.Return, http.StatusSeeOther)
}

// fail reports err and writes the error page.
func (l *Login) fail(w http.ResponseWriter, r *http.Request, err error) {
	l.report(r, err)
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Step: StepAuthorize, Err: err}
	}
	renderPage(w, statusCode(e), "error", &errorPage{
		Title:   title(e),
		Problem: e.Err.Error(),
		Advice:  advice(e),
		Retry:   l.base.Path + LoginPath,
	})
}

// report passes a failed login to Config.OnError.
func (l *Login) report(r *http.Request, err error) {
	if l.onError != nil {
		l.onError(r, err)
	}
}
