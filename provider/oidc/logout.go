package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/dnshandle/dnshandle/provider/store"
)

// Values of the "action" field of the logout confirmation form.
const (
	actionSignOut = "sign-out"
	actionStay    = "stay"
)

// logoutPage is the data of templates/logout.html, the confirmation form.
type logoutPage struct {
	Action, CSRF string
	Account      string

	// ClientName is the name of the client that requests the logout, ""
	// when the request names no client.
	ClientName string

	// Registered is set for a dynamically registered client, whose name
	// the provider has not verified.
	Registered bool

	// The parameters of the request, sent again with the form.
	IDTokenHint, ClientID, PostLogoutRedirectURI, State string
}

// endSession serves /oauth/end_session, the end_session_endpoint of OpenID
// Connect RP-Initiated Logout 1.0, by GET or POST. A request with a valid
// id_token_hint of an identity of the signed-in account ends the web
// session at once. Any other request from a signed-in person needs a
// confirmation first (section 2 of the specification). Without a
// signed-in session there is no web session to end, and a valid
// id_token_hint still revokes its grant.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	var form url.Values
	switch r.Method {
	case http.MethodGet:
		form = r.URL.Query()
	case http.MethodPost:
		if !p.parseBody(w, r) {
			return
		}
		form = r.PostForm
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	logout, ok := p.logoutRequest(w, r, form)
	if !ok {
		return
	}

	account, signedIn := p.cfg.Sessions.Account(r)
	if !signedIn {
		p.finishLogout(w, r, logout)
		return
	}
	owner, err := p.ownsHint(r.Context(), account, logout.hint)
	if err != nil {
		p.pageError(w, r, "list the identities of the account", err)
		return
	}
	if owner {
		p.finishLogout(w, r, logout)
		return
	}
	p.showLogoutForm(w, r, logout, account)
}

// confirmEndSession serves POST /oauth/end_session/confirm, to which the
// confirmation form posts the person's decision. The form needs the
// session's CSRF token, so that another site cannot sign the person out.
func (p *Provider) confirmEndSession(w http.ResponseWriter, r *http.Request) {
	if !p.parseBody(w, r) {
		return
	}
	if err := p.cfg.Sessions.CheckCSRF(r); err != nil {
		p.message(w, http.StatusForbidden, messagePage{Title: "The form could not be verified",
			Text: "The form was not sent from this provider's page, or it is too old. Go back to the application and sign out again."})
		return
	}
	logout, ok := p.logoutRequest(w, r, r.PostForm)
	if !ok {
		return
	}
	if r.PostForm.Get("action") != actionSignOut {
		p.message(w, http.StatusOK, messagePage{Title: "You are still signed in",
			Text: "You stay signed in to this provider. You can close this page."})
		return
	}
	p.finishLogout(w, r, logout)
}

// logoutRequest parses and checks the parameters of a logout. On failure
// it writes a page, 400 for a bad request and 500 for a failure of the
// provider, and returns false.
func (p *Provider) logoutRequest(w http.ResponseWriter, r *http.Request, form url.Values) (*logoutRequest, bool) {
	params, err := parseEndSessionRequest(form)
	var logout *logoutRequest
	if err == nil {
		logout, err = p.checkLogout(r.Context(), params)
	}
	var bad *endSessionError
	if errors.As(err, &bad) {
		p.message(w, http.StatusBadRequest, messagePage{Title: "This sign-out request is not valid",
			Text: "The application sent a sign-out request that this provider cannot accept: " + bad.Error() + ". This provider did not sign you out."})
		return nil, false
	}
	if err != nil {
		p.pageError(w, r, "check the sign-out request", err)
		return nil, false
	}
	return logout, true
}

// ownsHint reports whether the identity of a valid id_token_hint belongs to
// the account. It reports false without a hint.
func (p *Provider) ownsHint(ctx context.Context, account *store.Account, hint *logoutHint) (bool, error) {
	if hint == nil {
		return false, nil
	}
	identities, err := p.cfg.Store.Identities(ctx, account.ID)
	if err != nil {
		return false, err
	}
	return findIdentity(identities, func(i *store.Identity) bool { return i.DID == hint.subject }) != nil, nil
}

// showLogoutForm shows the form on which the signed-in person confirms
// the logout or stays signed in.
func (p *Provider) showLogoutForm(w http.ResponseWriter, r *http.Request, logout *logoutRequest, account *store.Account) {
	page := logoutPage{Action: endSessionConfirmPath, CSRF: p.cfg.Sessions.CSRFToken(r), Account: account.Name,
		IDTokenHint: logout.params.IDTokenHint, ClientID: logout.params.ClientID,
		PostLogoutRedirectURI: logout.params.PostLogoutRedirectURI, State: logout.params.State}
	if logout.client != nil {
		page.ClientName = logout.client.displayName()
		page.Registered = !p.clients.isStatic(logout.client.id)
	}
	p.render(w, http.StatusOK, "logout.html", page)
}

// finishLogout revokes the grant of the id_token_hint, ends the web
// session and sends the browser to the registered post_logout_redirect_uri.
// It redirects only for a request with a valid id_token_hint, because
// without one any site could send the browser to the client's URI.
// Otherwise it shows a page that links to that URI, if there is one.
func (p *Provider) finishLogout(w http.ResponseWriter, r *http.Request, logout *logoutRequest) {
	if err := p.revokeLogoutGrant(r.Context(), logout); err != nil {
		p.pageError(w, r, "revoke the tokens of the application", err)
		return
	}
	if err := p.cfg.Sessions.SignOut(w, r); err != nil {
		p.pageError(w, r, "end the session", err)
		return
	}
	if logout.redirectURI != "" && logout.hint != nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, logout.redirectURI, http.StatusSeeOther)
		return
	}

	page := messagePage{Title: "You are signed out", Text: "You are signed out of this provider."}
	switch {
	case logout.unregistered:
		page.Text += " The application asked to send you to an address that it did not register with this provider, so this page does not go there."
	case logout.redirectURI != "":
		page.LinkURL, page.LinkText = logout.redirectURI, "Return to "+logout.client.displayName()
	}
	p.message(w, http.StatusOK, page)
}

// revokeLogoutGrant revokes the grant that the id_token_hint names in its
// sid claim, and with it every access and refresh token issued from it,
// and records that in the audit log. It does nothing without a hint, for
// an ID token without sid, and for a grant that is gone or revoked.
//
// NOTE: other grants of the same client and identity, such as logins in
// other browsers, stay valid: the store has no lookup of grants by client
// and identity.
func (p *Provider) revokeLogoutGrant(ctx context.Context, logout *logoutRequest) error {
	if logout.hint == nil || logout.hint.grantID == "" || logout.client == nil {
		return nil
	}
	row, err := p.cfg.Store.OIDCAuthRequest(ctx, logout.hint.grantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if row.ClientID != logout.client.id || row.IdentityID == 0 || !row.RevokedAt.IsZero() {
		return nil
	}
	ident, err := p.cfg.Store.IdentityByID(ctx, row.IdentityID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ident.DID != logout.hint.subject {
		return nil
	}

	now := p.cfg.Now()
	return p.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.RevokeOIDCGrant(ctx, row.ID, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "oidc-client:" + row.ClientID, Action: "oidc.logout",
			Subject: ident.Handle, Detail: "RP-initiated logout revoked the grant and its tokens"})
	})
}
