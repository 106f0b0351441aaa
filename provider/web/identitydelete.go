package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/records"
)

// deleteView is the content of the page that confirms the deletion of an
// identity.
type deleteView struct {
	Identity *store.Identity
}

func (w *Web) deleteIdentityPage(rw http.ResponseWriter, r *http.Request) {
	id, _, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	w.confirmDelete(rw, r, id, http.StatusOK, nil)
}

func (w *Web) confirmDelete(rw http.ResponseWriter, r *http.Request, id *store.Identity, status int, errs fieldErrors) {
	w.render(rw, r, status, "identity_delete", &page{Title: "Delete @" + id.Handle, Errors: errs, Data: deleteView{Identity: id}})
}

// deleteIdentity deletes the identity once the form repeats its handle,
// then shows the home page with what was deleted.
func (w *Web) deleteIdentity(rw http.ResponseWriter, r *http.Request) {
	id, h, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	typed := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("confirm")), "@"))
	if typed != h.String() {
		reason := fmt.Sprintf("Type the handle %s to confirm.", h)
		if typed != "" {
			reason = fmt.Sprintf("%q is not the handle %s: type it exactly to confirm.", r.PostForm.Get("confirm"), h)
		}
		w.confirmDelete(rw, r, id, http.StatusUnprocessableEntity, fieldErrors{"confirm": reason})
		return
	}

	acct, _ := w.Account(r)
	notice, err := w.cfg.Provider.DeleteHandle(r.Context(), acct.Name, h)
	if errors.Is(err, store.ErrNotFound) {
		w.renderError(rw, r, http.StatusNotFound, "Identity not found",
			fmt.Sprintf("Your account has no identity %q.", h), "It may have been deleted already: see the identities on your home page.")
		return
	}
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("delete identity %s: %w", h, err))
		return
	}
	w.cfg.Logger.InfoContext(r.Context(), "identity deleted", "handle", h.String(), "account", acct.Name, "remote_addr", r.RemoteAddr)
	// The page is written here rather than after a redirect, so that no
	// link can show a deletion notice that did not happen.
	w.renderHome(rw, r, deletedNotice(h, notice != ""))
}

// deletedNotice returns the home page's notice after the deletion of h,
// with the records to remove when h is under the person's own domain.
func deletedNotice(h handle.Handle, ownDomain bool) string {
	notice := fmt.Sprintf("@%s is deleted, with its devices. Sites see its records gone as soon as DNS caches expire.", h)
	if ownDomain {
		notice += fmt.Sprintf(" Remove the TLSA record at %s and the TXT records at %s from your domain's DNS.",
			records.OwnerTLSA(h), records.OwnerATProto(h))
	}
	return notice
}
