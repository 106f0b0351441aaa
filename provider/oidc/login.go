package oidc

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pages are the HTML pages of the login step.
var pages = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// consentPage is the data of templates/consent.html.
type consentPage struct {
	ID, CSRF, Action string
	ClientName       string
	RedirectHost     string
	Account          string

	// Registered is set for a dynamically registered client, whose name
	// the provider has not verified.
	Registered bool

	// Offline is set when the client asks for a refresh token.
	Offline bool

	Identities []identityChoice
}

type identityChoice struct {
	ID       int64
	Handle   string
	Selected bool
}

// messagePage is the data of templates/message.html.
type messagePage struct {
	Title, Text       string
	LinkURL, LinkText string
}

// login serves /oauth/login?id=<authorization request>, the login step
// that the authorization endpoint redirects to. GET shows the consent form
// to a signed-in person and sends anyone else to the sign-in page. POST
// takes the person's decision and needs the session's CSRF token. On
// approval it remembers the chosen handle for the client and redirects to
// the client with the code, state and iss (RFC 9207).
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.showConsent(w, r)
	case http.MethodPost:
		if p.parseBody(w, r) {
			p.answerConsent(w, r)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) showConsent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, c, ok := p.pendingRequest(w, r, r.URL.Query().Get("id"))
	if !ok {
		return
	}
	account, signedInAt, ok := p.signedIn(w, r, req)
	if !ok {
		return
	}
	promptNone := slices.Contains(req.params.Prompt, oidc.PromptNone)

	identities, err := p.cfg.Store.Identities(ctx, account.ID)
	if err != nil {
		p.pageError(w, r, "list the identities of the account", err)
		return
	}
	if len(identities) == 0 {
		if promptNone {
			p.redirectError(w, r, req, oidc.ErrInteractionRequired().WithDescription("the account has no handle yet"))
			return
		}
		p.message(w, http.StatusOK, messagePage{Title: "No handle to share yet",
			Text: "Your account " + account.Name + " has no handle yet, so there is nothing to share with " + c.displayName() +
				". Create a handle first. A handle hosted by this provider brings you back to this sign-in at once.",
			LinkURL: newIdentityPath + "?next=" + url.QueryEscape(loginURL(req)), LinkText: "Create a handle"})
		return
	}

	selected, remembered := p.preselect(ctx, account, c, req, identities)
	if promptNone {
		if remembered == nil || selected.ID != remembered.ID {
			p.redirectError(w, r, req, &oidc.Error{ErrorType: "consent_required", Description: "the person has not approved this handle for the client"})
			return
		}
		p.approve(w, r, req, account, selected, signedInAt)
		return
	}

	// Every interactive request shows the consent page, whether or not a
	// choice is remembered, so prompt=consent needs no case of its own.
	page := consentPage{ID: req.id, CSRF: p.cfg.Sessions.CSRFToken(r), Action: loginPath, ClientName: c.displayName(),
		RedirectHost: redirectHost(req.params.RedirectURI), Account: account.Name, Registered: !p.clients.isStatic(c.id),
		Offline: slices.Contains(req.params.Scopes, oidc.ScopeOfflineAccess)}
	for _, ident := range identities {
		page.Identities = append(page.Identities, identityChoice{ID: ident.ID, Handle: ident.Handle, Selected: ident.ID == selected.ID})
	}
	p.render(w, http.StatusOK, "consent.html", page)
}

// preselect returns the identity to preselect: the one whose handle is the
// login_hint, else the one remembered for the client, else the first. It
// also returns the remembered identity, or nil.
func (p *Provider) preselect(ctx context.Context, account *store.Account, c *client, req *authRequest, identities []*store.Identity) (selected, remembered *store.Identity) {
	if consent, err := p.cfg.Store.OIDCConsent(ctx, account.ID, c.id); err == nil {
		remembered = findIdentity(identities, func(i *store.Identity) bool { return i.ID == consent.IdentityID })
	}
	if req.params.LoginHint != "" {
		selected = findIdentity(identities, func(i *store.Identity) bool { return i.Handle == req.params.LoginHint })
	}
	switch {
	case selected != nil:
	case remembered != nil:
		selected = remembered
	default:
		selected = identities[0]
	}
	return selected, remembered
}

func findIdentity(list []*store.Identity, match func(*store.Identity) bool) *store.Identity {
	for _, ident := range list {
		if match(ident) {
			return ident
		}
	}
	return nil
}

func (p *Provider) answerConsent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, _, ok := p.pendingRequest(w, r, r.PostForm.Get("id"))
	if !ok {
		return
	}
	account, signedInAt, ok := p.signedIn(w, r, req)
	if !ok {
		return
	}
	if err := p.cfg.Sessions.CheckCSRF(r); err != nil {
		p.message(w, http.StatusForbidden, messagePage{Title: "The form could not be verified",
			Text: "The form was not sent from this provider's page, or it is too old. Go back, reload the page and answer again."})
		return
	}

	switch r.PostForm.Get("action") {
	case "deny":
		p.deny(w, r, req)
	case "approve":
		identities, err := p.cfg.Store.Identities(ctx, account.ID)
		if err != nil {
			p.pageError(w, r, "list the identities of the account", err)
			return
		}
		id, _ := strconv.ParseInt(r.PostForm.Get("identity"), 10, 64)
		ident := findIdentity(identities, func(i *store.Identity) bool { return i.ID == id })
		if ident == nil {
			p.message(w, http.StatusBadRequest, messagePage{Title: "Choose one of your handles",
				Text: "The form named no handle of your account. Go back and choose one of the listed handles."})
			return
		}
		p.approve(w, r, req, account, ident, signedInAt)
	default:
		p.message(w, http.StatusBadRequest, messagePage{Title: "Unknown answer", Text: "The form must be sent with the Allow or the Deny button."})
	}
}

// pendingRequest loads the authorization request id and its client. The
// request must exist, be unexpired and still be pending. Otherwise
// pendingRequest shows a page that explains this and returns false.
func (p *Provider) pendingRequest(w http.ResponseWriter, r *http.Request, id string) (*authRequest, *client, bool) {
	ctx := r.Context()
	invalid := messagePage{Title: "This sign-in request is no longer valid",
		Text: "The request expired, was answered already or does not exist. Go back to the application and sign in again."}
	row, err := p.cfg.Store.OIDCAuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (p.cfg.Now().After(row.ExpiresAt) || !row.ApprovedAt.IsZero() || !row.RevokedAt.IsZero())) {
		p.message(w, http.StatusBadRequest, invalid)
		return nil, nil, false
	}
	var req *authRequest
	if err == nil {
		req, err = p.loadAuthRequest(ctx, row)
	}
	var c *client
	if err == nil {
		c, err = p.clients.lookup(ctx, row.ClientID)
	}
	if err != nil {
		p.pageError(w, r, "load the sign-in request", err)
		return nil, nil, false
	}
	return req, c, true
}

// approve records the approval of req for ident by the person who signed
// in at signedInAt, remembers the choice for the client, issues the code
// and redirects to the client.
func (p *Provider) approve(w http.ResponseWriter, r *http.Request, req *authRequest, account *store.Account, ident *store.Identity, signedInAt time.Time) {
	ctx := r.Context()
	now := p.cfg.Now()
	err := p.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ApproveOIDCAuthRequest(ctx, req.id, ident.ID, now, signedInAt); err != nil {
			return err
		}
		if err := tx.PutOIDCConsent(ctx, store.OIDCConsent{AccountID: account.ID, ClientID: req.clientID, IdentityID: ident.ID, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: now, Actor: account.Name, Action: "oidc.consent", Subject: ident.Handle, Detail: "client " + req.clientID})
	})
	if errors.Is(err, store.ErrConflict) {
		p.message(w, http.StatusBadRequest, messagePage{Title: "This sign-in request was answered already",
			Text: "Go back to the application and sign in again."})
		return
	}
	if err != nil {
		p.pageError(w, r, "record the approval", err)
		return
	}
	req.row.ApprovedAt, req.row.AuthTime, req.row.IdentityID, req.identity = now, signedInAt, ident.ID, ident

	code, err := op.CreateAuthRequestCode(ctx, req, p.storage, p.op.Crypto())
	if err != nil {
		p.pageError(w, r, "issue the authorization code", err)
		return
	}
	target, err := op.AuthResponseURL(req.params.RedirectURI, req.GetResponseType(), req.GetResponseMode(),
		&op.CodeResponseType{Code: code, State: req.params.State}, p.encoder)
	if err != nil {
		p.pageError(w, r, "build the redirect to the client", err)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// deny ends req and redirects to the client with access_denied.
func (p *Provider) deny(w http.ResponseWriter, r *http.Request, req *authRequest) {
	ctx := r.Context()
	err := p.cfg.Store.InTx(ctx, func(tx store.Tx) error { return tx.RevokeOIDCGrant(ctx, req.id, p.cfg.Now()) })
	if err != nil {
		p.pageError(w, r, "record the refusal", err)
		return
	}
	p.redirectError(w, r, req, oidc.ErrAccessDenied().WithDescription("the person declined the request"))
}

// redirectError sends an error response to the client's redirect URI with
// the state and iss (RFC 6749, section 4.1.2.1; RFC 9207, section 2).
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, e *oidc.Error) {
	e.State = req.params.State
	target, err := op.AuthResponseURL(req.params.RedirectURI, req.GetResponseType(), req.GetResponseMode(), e, p.encoder)
	if err != nil {
		p.pageError(w, r, "build the redirect to the client", err)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// pageError logs a failure of the provider and shows a page without the
// cause.
func (p *Provider) pageError(w http.ResponseWriter, r *http.Request, action string, err error) {
	p.cfg.Logger.ErrorContext(r.Context(), "OpenID provider failed to "+action, "remote_addr", r.RemoteAddr, "err", err)
	p.message(w, http.StatusInternalServerError, messagePage{Title: "Something went wrong",
		Text: "The provider failed to " + action + ". Try again in a moment."})
}

func (p *Provider) message(w http.ResponseWriter, status int, page messagePage) {
	p.render(w, status, "message.html", page)
}

// render writes a page of the login step with headers that keep it out of
// caches and frames.
func (p *Provider) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		p.cfg.Logger.Error("OpenID provider failed to render "+name, "err", err)
		http.Error(w, "the page cannot be shown", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// redirectHost returns the host of a redirect URI for the consent page.
func redirectHost(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI
	}
	return u.Host
}
