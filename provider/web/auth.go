package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/dnshandle/dnshandle/provider/store"
)

// badCredentials is the one message of a failed password sign-in, the
// same whether the account exists or not.
const badCredentials = "The account name or the password is not correct."

// signInView is the page-specific content of the sign-in page.
type signInView struct {
	// Next is the local path to return to after sign-in, "" for home.
	Next string
	// Certificate shows the certificate sign-in button.
	Certificate bool
}

// signUpView is the page-specific content of the sign-up page.
type signUpView struct {
	// Next is the local path to return to after sign-up, "" for home.
	Next string
}

func (w *Web) signUpPage(rw http.ResponseWriter, r *http.Request) {
	next, _ := localPath(r.URL.Query().Get("next"))
	if _, ok := w.Account(r); ok {
		seeOther(rw, orHome(next))
		return
	}
	w.render(rw, r, http.StatusOK, "signup", &page{Title: "Create an account", Data: signUpView{Next: next}})
}

func (w *Web) signUp(rw http.ResponseWriter, r *http.Request) {
	f, errs := parseSignUp(r.PostForm)
	kept := url.Values{"name": {f.Name}}
	show := func(errs fieldErrors) {
		w.render(rw, r, http.StatusUnprocessableEntity, "signup", &page{Title: "Create an account", Form: kept, Errors: errs, Data: signUpView{Next: f.Next}})
	}
	if len(errs) > 0 {
		show(errs)
		return
	}
	if ok, wait := w.perClient.Allow(clientKey(r), w.now()); !ok {
		w.tooManyRequests(rw, r, wait)
		return
	}

	acct, err := w.cfg.Provider.CreateAccount(r.Context(), f.Name, f.Password)
	if errors.Is(err, store.ErrConflict) {
		errs["name"] = "This account name is taken. Choose another."
		show(errs)
		return
	}
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("create account %q: %w", f.Name, err))
		return
	}
	w.cfg.Logger.InfoContext(r.Context(), "account created", "account", f.Name, "remote_addr", r.RemoteAddr)
	if err := w.startSession(rw, r, acct, MethodPassword); err != nil {
		w.internalError(rw, r, err)
		return
	}
	seeOther(rw, orHome(f.Next))
}

// signInPage shows the sign-in form. A signed-in person goes on to next
// at once, unless the URL requests a new sign-in (ReauthenticateURL).
func (w *Web) signInPage(rw http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	next, _ := localPath(query.Get("next"))
	p := &page{Title: "Sign in", Data: signInView{Next: next, Certificate: w.cfg.Verifier != nil}}
	if acct, ok := w.Account(r); ok {
		if query.Get(reauthParam) != "1" {
			seeOther(rw, orHome(next))
			return
		}
		p.Notice = "Sign in again to confirm that it is you: the next step needs a recent sign-in."
		p.Form = url.Values{"name": {acct.Name}}
	}
	switch {
	case query.Has("signedout"):
		p.Notice = "You are signed out."
	case query.Has("closed"):
		p.Notice = "Your account and its identities are deleted, and you are signed out."
	}
	w.render(rw, r, http.StatusOK, "signin", p)
}

func (w *Web) signIn(rw http.ResponseWriter, r *http.Request) {
	f, errs := parseSignIn(r.PostForm)
	p := &page{
		Title: "Sign in", Form: url.Values{"name": {f.Name}}, Errors: errs,
		Data: signInView{Next: f.Next, Certificate: w.cfg.Verifier != nil},
	}
	if len(errs) > 0 {
		w.render(rw, r, http.StatusUnprocessableEntity, "signin", p)
		return
	}
	now := w.now()
	if ok, wait := w.perClient.Allow(clientKey(r), now); !ok {
		w.tooManyRequests(rw, r, wait)
		return
	}
	if ok, wait := w.perAccount.Allow(accountKey(f.Name), now); !ok {
		w.tooManyRequests(rw, r, wait)
		return
	}

	acct, err := w.checkPassword(r.Context(), f.Name, f.Password)
	var failed *signInError
	if errors.As(err, &failed) {
		w.cfg.Logger.InfoContext(r.Context(), "password sign-in failed", "remote_addr", r.RemoteAddr, "err", err)
		errs[""] = badCredentials
		w.render(rw, r, http.StatusUnprocessableEntity, "signin", p)
		return
	}
	if err != nil {
		w.internalError(rw, r, err)
		return
	}
	if err := w.startSession(rw, r, acct, MethodPassword); err != nil {
		w.internalError(rw, r, err)
		return
	}
	seeOther(rw, orHome(f.Next))
}

// signInError is a sign-in that failed because of what the person gave.
// Its message is for the log; the page shows badCredentials only.
type signInError struct {
	Account string
	Reason  string
}

func (e *signInError) Error() string {
	return fmt.Sprintf("sign-in as %q failed: %s", e.Account, e.Reason)
}

// checkPassword returns the account name when password matches its hash.
// An unknown account, or one without a password, costs one argon2id check
// against a hash of a random password, as much work as a known account.
// A *signInError reports a failure of the person; other errors come from
// the store.
func (w *Web) checkPassword(ctx context.Context, name, password string) (*store.Account, error) {
	acct, err := w.cfg.Store.AccountByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_, _ = store.CheckPassword(w.dummyHash, password)
		return nil, &signInError{Account: name, Reason: "no such account"}
	case err != nil:
		return nil, fmt.Errorf("look up account %q: %w", name, err)
	case acct.PasswordHash == "":
		_, _ = store.CheckPassword(w.dummyHash, password)
		return nil, &signInError{Account: name, Reason: "the account has no password"}
	}

	ok, err := store.CheckPassword(acct.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("check the password of account %q: %w", name, err)
	}
	if !ok {
		return nil, &signInError{Account: name, Reason: "wrong password"}
	}
	return acct, nil
}

// accountKey returns the rate-limit key of an account name: a digest, so
// that a long name takes no more memory than a short one.
func accountKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

func (w *Web) signOut(rw http.ResponseWriter, r *http.Request) {
	if err := w.SignOut(rw, r); err != nil {
		w.internalError(rw, r, err)
		return
	}
	seeOther(rw, "/signin?signedout=1")
}

// orHome returns next, or "/" when it is empty.
func orHome(next string) string {
	if next == "" {
		return "/"
	}
	return next
}
