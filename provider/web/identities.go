package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/store"
)

// homeView is the content of the home page.
type homeView struct {
	Identities []*store.Identity
}

func (w *Web) home(rw http.ResponseWriter, r *http.Request) {
	w.renderHome(rw, r, "")
}

// renderHome writes the home page with the notice above its content.
func (w *Web) renderHome(rw http.ResponseWriter, r *http.Request, notice string) {
	acct, _ := w.Account(r)
	ids, err := w.cfg.Store.Identities(r.Context(), acct.ID)
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("identities of account %q: %w", acct.Name, err))
		return
	}
	w.render(rw, r, http.StatusOK, "home", &page{Title: "Your account", Notice: notice, Data: homeView{Identities: ids}})
}

// newIdentityView is the content of the identity form.
type newIdentityView struct {
	// Zones are the provider zones for hosted handles.
	Zones []string
	// Kind and Zone are the choices to preselect.
	Kind, Zone string
	// Next is the local path to go to after a hosted handle is created,
	// such as the login step of an OpenID authorization request, or "".
	Next string
}

func (w *Web) newIdentityView(form url.Values) newIdentityView {
	v := newIdentityView{Zones: w.zones, Kind: form.Get("kind"), Zone: form.Get("zone"), Next: form.Get("next")}
	if v.Kind == "" {
		v.Kind = kindOwn
		if len(w.zones) > 0 {
			v.Kind = kindHosted
		}
	}
	return v
}

func (w *Web) newIdentityPage(rw http.ResponseWriter, r *http.Request) {
	form := url.Values{}
	if next, ok := localPath(r.URL.Query().Get("next")); ok {
		form.Set("next", next)
	}
	w.render(rw, r, http.StatusOK, "identity_new", &page{Title: "Create an identity", Data: w.newIdentityView(form)})
}

// createIdentity creates the identity of the form and shows its page. A
// hosted handle, whose records the provider publishes at once, goes on to
// the form's next path instead when it has one. An own-domain handle
// always shows its page, with the records its owner must publish before
// sites can verify it.
func (w *Web) createIdentity(rw http.ResponseWriter, r *http.Request) {
	acct, _ := w.Account(r)
	form := url.Values{}
	for _, k := range []string{"kind", "name", "zone", "handle"} {
		form.Set(k, r.PostForm.Get(k))
	}
	if next, ok := localPath(r.PostForm.Get("next")); ok {
		form.Set("next", next)
	}
	show := func(status int, errs fieldErrors) {
		w.render(rw, r, status, "identity_new", &page{Title: "Create an identity", Form: form, Errors: errs, Data: w.newIdentityView(form)})
	}

	h, errs := parseIdentity(r.PostForm, w.zones)
	if len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs)
		return
	}
	_, err := w.cfg.Provider.CreateHandle(r.Context(), acct.Name, h)
	if errors.Is(err, store.ErrConflict) {
		errs[handleField(form)] = fmt.Sprintf("The handle %s is taken. Choose another.", h)
		show(http.StatusUnprocessableEntity, errs)
		return
	}
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("create identity %s for account %q: %w", h, acct.Name, err))
		return
	}
	w.cfg.Logger.InfoContext(r.Context(), "identity created", "handle", h.String(), "remote_addr", r.RemoteAddr)
	if next := form.Get("next"); next != "" && form.Get("kind") == kindHosted {
		seeOther(rw, next)
		return
	}
	seeOther(rw, "/identities/"+h.String())
}

// handleField returns the field that named the handle in the form.
func handleField(form url.Values) string {
	if form.Get("kind") == kindHosted {
		return "name"
	}
	return "handle"
}

// ownedIdentity returns the identity named by the path value "handle"
// when the signed-in account owns it. Otherwise it writes a 404 page,
// which does not tell another account's handle from a free one, and
// returns false.
func (w *Web) ownedIdentity(rw http.ResponseWriter, r *http.Request) (*store.Identity, handle.Handle, bool) {
	acct, _ := w.Account(r)
	raw := r.PathValue("handle")
	notFound := func() {
		w.renderError(rw, r, http.StatusNotFound, "Identity not found",
			fmt.Sprintf("Your account has no identity %q.", raw), "Choose one of the identities listed on your home page.")
	}
	h, err := handle.Parse(raw)
	if err != nil || h.String() != raw {
		notFound()
		return nil, "", false
	}
	id, err := w.cfg.Store.IdentityByHandle(r.Context(), h.String())
	if errors.Is(err, store.ErrNotFound) || err == nil && id.AccountID != acct.ID {
		notFound()
		return nil, "", false
	}
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("identity %s: %w", h, err))
		return nil, "", false
	}
	return id, h, true
}

// identityView is the content of an identity's page.
type identityView struct {
	Identity *store.Identity
	// ZoneText are the handle's records in zone file format.
	ZoneText string
	// Checked is true after a check, with the Problems it found.
	Checked  bool
	Problems []string
}

func (w *Web) identityPage(rw http.ResponseWriter, r *http.Request) {
	id, h, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	w.showIdentity(rw, r, id, h, identityView{})
}

func (w *Web) showIdentity(rw http.ResponseWriter, r *http.Request, id *store.Identity, h handle.Handle, v identityView) {
	set, err := w.cfg.Provider.HandleRecords(r.Context(), h)
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("records of %s: %w", h, err))
		return
	}
	v.Identity = id
	v.ZoneText = set.ZoneText()
	w.render(rw, r, http.StatusOK, "identity", &page{Title: "@" + h.String(), Data: v})
}

func (w *Web) checkIdentity(rw http.ResponseWriter, r *http.Request) {
	id, h, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	if id.Hosted {
		w.renderError(rw, r, http.StatusBadRequest, "Nothing to check",
			fmt.Sprintf("@%s is hosted by the provider, which publishes its records itself.", h),
			"Only handles under your own domain need a check.")
		return
	}

	problems, err := w.cfg.Provider.CheckIdentity(r.Context(), h)
	if err != nil {
		// The check resolves the handle: the reason is a DNS or
		// configuration problem the person or the operator can act on.
		w.cfg.Logger.Warn("own-domain check failed", "handle", h.String(), "err", err)
		w.renderError(rw, r, http.StatusServiceUnavailable, "The check could not run",
			fmt.Sprintf("The provider could not look up the records of @%s: %v.", h, err),
			"Try again in a moment. If it keeps failing, ask the provider's operator, who may need to configure a resolver for own domains.")
		return
	}
	// The check may have changed the verified flag.
	if id, err = w.cfg.Store.IdentityByHandle(r.Context(), h.String()); err != nil {
		w.internalError(rw, r, fmt.Errorf("identity %s: %w", h, err))
		return
	}
	w.showIdentity(rw, r, id, h, identityView{Checked: true, Problems: problems})
}
