package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// closeAccountMaxAge is the largest age of a sign-in whose session may
// delete its account. An older session signs in again first, so that a
// browser left signed in does not suffice.
const closeAccountMaxAge = 10 * time.Minute

// closeAccountView is the content of the page that confirms the deletion
// of an account.
type closeAccountView struct {
	Identities []*store.Identity
}

// recentSignIn reports whether the sign-in of r is recent enough to close
// the account. Otherwise it redirects to the sign-in form, which returns
// to the confirmation page.
func (w *Web) recentSignIn(rw http.ResponseWriter, r *http.Request) bool {
	at, ok := w.SignedInAt(r)
	if ok && w.now().Sub(at) <= closeAccountMaxAge {
		return true
	}
	seeOther(rw, w.ReauthenticateURL("/account/delete"))
	return false
}

func (w *Web) closeAccountPage(rw http.ResponseWriter, r *http.Request) {
	if !w.recentSignIn(rw, r) {
		return
	}
	w.confirmCloseAccount(rw, r, http.StatusOK, nil)
}

func (w *Web) confirmCloseAccount(rw http.ResponseWriter, r *http.Request, status int, errs fieldErrors) {
	acct, _ := w.Account(r)
	ids, err := w.cfg.Store.Identities(r.Context(), acct.ID)
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("identities of account %q: %w", acct.Name, err))
		return
	}
	w.render(rw, r, status, "account_delete", &page{Title: "Delete your account", Errors: errs, Data: closeAccountView{Identities: ids}})
}

// closeAccount deletes the signed-in account once the form repeats its
// name, ends the session and redirects to the sign-in page. The
// confirmation page listed beforehand which records of own domains to
// remove.
func (w *Web) closeAccount(rw http.ResponseWriter, r *http.Request) {
	if !w.recentSignIn(rw, r) {
		return
	}
	s, acct, _ := w.currentSession(r)
	if typed := strings.ToLower(strings.TrimSpace(r.PostForm.Get("confirm"))); typed != acct.Name {
		reason := fmt.Sprintf("Type the account name %s to confirm.", acct.Name)
		if typed != "" {
			reason = fmt.Sprintf("%q is not the account name %s: type it exactly to confirm.", r.PostForm.Get("confirm"), acct.Name)
		}
		w.confirmCloseAccount(rw, r, http.StatusUnprocessableEntity, fieldErrors{"confirm": reason})
		return
	}

	if _, err := w.cfg.Provider.CloseAccount(r.Context(), acct.Name); errors.Is(err, store.ErrNotFound) {
		w.renderError(rw, r, http.StatusNotFound, "Account not found",
			fmt.Sprintf("There is no account %q.", acct.Name), "It may have been deleted already.")
		return
	} else if err != nil {
		w.internalError(rw, r, fmt.Errorf("delete account %q: %w", acct.Name, err))
		return
	}
	w.cfg.Logger.InfoContext(r.Context(), "account deleted", "account", acct.Name, "remote_addr", r.RemoteAddr)
	if err := w.endSession(r.Context(), rw, s); err != nil {
		// The account is gone, so the session cannot sign in again.
		w.cfg.Logger.WarnContext(r.Context(), "ending the session of a deleted account failed", "account", acct.Name, "err", err)
	}
	seeOther(rw, "/signin?closed=1")
}
