package oidc

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

// requestURIPrefix starts every request_uri the PAR endpoint issues (RFC
// 9126, section 2.2).
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// clientAuthParams are the form parameters of client authentication, which
// a pushed request does not keep.
var clientAuthParams = []string{"client_secret", "client_assertion", "client_assertion_type"}

// parResponse is the body of a successful PAR response (RFC 9126, section
// 2.2).
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// pushAuthorizationRequest serves POST /oauth/par (RFC 9126, section 2).
// It authenticates the client, checks the request as the authorization
// endpoint would, binds it to the DPoP key of a proof or of dpop_jkt
// (RFC 9449, section 10.1) and stores it for one use within
// PushedRequestLifetime.
func (p *Provider) pushAuthorizationRequest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.parseBody(w, r) || !p.allow(w, r, p.limits.tokenPerIP, p.cfg.ClientIP(r)) {
		return
	}
	p.withNonce(w)
	cc, oerr := parseClientCredentials(r)
	if oerr != nil {
		op.WriteError(w, r, oerr, nil)
		return
	}
	if !p.allow(w, r, p.limits.tokenPerClient, cc.ClientID) {
		return
	}
	c, err := p.server.VerifyClient(ctx, &op.Request[op.ClientCredentials]{Method: r.Method, URL: r.URL, Header: r.Header, Form: r.Form, Data: cc})
	if err != nil {
		op.WriteError(w, r, err, nil)
		return
	}

	form := r.PostForm
	switch {
	case form.Has("request_uri"):
		op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("request_uri must not be pushed (RFC 9126, section 2.1)"), nil)
		return
	case form.Has("request"):
		op.WriteError(w, r, oidc.ErrRequestNotSupported().WithDescription("request objects are not supported: push the parameters themselves"), nil)
		return
	case form.Get("client_id") != "" && form.Get("client_id") != c.GetID():
		op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("client_id differs from the authenticated client"), nil)
		return
	}
	authReq := new(oidc.AuthRequest)
	if err := p.op.Decoder().Decode(authReq, form); err != nil {
		op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("the authorization request parameters cannot be decoded").WithParent(err), nil)
		return
	}
	authReq.ClientID = c.GetID()
	if _, err := op.ValidateAuthRequestClient(ctx, authReq, c, p.op.IDTokenHintVerifier(ctx)); err != nil {
		op.WriteError(w, r, err, nil)
		return
	}

	proof, err := p.checkDPoP(ctx, r, parPath, "")
	if err != nil {
		p.writeDPoPError(w, r, err)
		return
	}
	jkt := form.Get("dpop_jkt")
	if proof != nil {
		if jkt != "" && jkt != proof.jkt {
			writeOAuthError(w, http.StatusBadRequest, errInvalidDPoPProof, "dpop_jkt differs from the thumbprint of the DPoP proof key")
			return
		}
		jkt = proof.jkt
	}
	if _, oerr := p.checkAuthParams(authReq, jkt, &pushedInfo{jkt: jkt}); oerr != nil {
		op.WriteError(w, r, oerr, nil)
		return
	}

	p.storePushedRequest(w, r, c.GetID(), jkt)
}

// storePushedRequest stores the parameters of the checked PAR request r and
// responds with its request_uri.
func (p *Provider) storePushedRequest(w http.ResponseWriter, r *http.Request, clientID, jkt string) {
	ctx := r.Context()
	params := url.Values{}
	for name, values := range r.PostForm {
		params[name] = values
	}
	for _, name := range clientAuthParams {
		params.Del(name)
	}
	params.Set("client_id", clientID)

	now := p.cfg.Now()
	requestURI := requestURIPrefix + randomToken(32)
	row := &store.OIDCPushedRequest{ID: hashToken(requestURI), ClientID: clientID, Data: []byte(params.Encode()), DPoPJKT: jkt,
		CreatedAt: now, ExpiresAt: now.Add(p.cfg.PushedRequestLifetime)}
	if err := p.cfg.Store.InTx(ctx, func(tx store.Tx) error { return tx.CreateOIDCPushedRequest(ctx, row) }); err != nil {
		p.serverError(w, r, "store the pushed authorization request", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, parResponse{RequestURI: requestURI, ExpiresIn: int64(p.cfg.PushedRequestLifetime.Seconds())})
}

// authorize serves /oauth/authorize. A request with request_uri takes the
// parameters of its pushed request, once and before it expires (RFC 9126,
// section 4), and its other parameters are ignored. Then the library
// handles the request.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, errInvalidRequest, "the request parameters cannot be parsed")
		return
	}
	requestURI := r.Form.Get("request_uri")
	if requestURI == "" {
		p.opHandler.ServeHTTP(w, r)
		return
	}
	if !strings.HasPrefix(requestURI, requestURIPrefix) {
		writeOAuthError(w, http.StatusBadRequest, errInvalidRequestURI, "request_uri was not issued by the PAR endpoint of this provider")
		return
	}

	now := p.cfg.Now()
	var pushed *store.OIDCPushedRequest
	err := p.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		pushed, err = tx.UseOIDCPushedRequest(ctx, hashToken(requestURI), now)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeOAuthError(w, http.StatusBadRequest, errInvalidRequestURI, "request_uri is unknown or expired: push the request again")
		return
	case errors.Is(err, store.ErrConflict):
		writeOAuthError(w, http.StatusBadRequest, errInvalidRequestURI, "request_uri was used before: push a new request for each authorization")
		return
	case err != nil:
		p.serverError(w, r, "read the pushed authorization request", err)
		return
	case now.After(pushed.ExpiresAt):
		writeOAuthError(w, http.StatusBadRequest, errInvalidRequestURI, "request_uri expired: push the request again")
		return
	case r.Form.Get("client_id") != pushed.ClientID:
		writeOAuthError(w, http.StatusBadRequest, errInvalidRequestURI, "client_id is missing or differs from the client that pushed the request")
		return
	}

	params, err := url.ParseQuery(string(pushed.Data))
	if err != nil {
		p.serverError(w, r, "decode the pushed authorization request", err)
		return
	}
	expanded := r.Clone(withPushed(ctx, &pushedInfo{jkt: pushed.DPoPJKT}))
	expanded.Method = http.MethodGet
	expanded.URL.RawQuery = params.Encode()
	expanded.Form, expanded.PostForm = nil, nil
	expanded.Body, expanded.ContentLength = http.NoBody, 0
	expanded.Header.Del("Content-Type")
	p.opHandler.ServeHTTP(w, expanded)
}

// parseClientCredentials reads client authentication from the
// Authorization header (client_secret_basic) or the form
// (client_secret_post, or client_id alone for a public client), and rejects
// a request that uses both (RFC 6749, section 2.3).
func parseClientCredentials(r *http.Request) (*op.ClientCredentials, *oidc.Error) {
	cc := &op.ClientCredentials{ClientID: r.PostForm.Get("client_id"), ClientSecret: r.PostForm.Get("client_secret")}
	if r.PostForm.Has("client_assertion") {
		return nil, oidc.ErrInvalidClient().WithDescription("client assertions (private_key_jwt) are not supported")
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		if cc.ClientSecret != "" {
			return nil, oidc.ErrInvalidRequest().WithDescription("client authentication must use one method: the Authorization header or client_secret in the form")
		}
		var err1, err2 error
		cc.ClientID, err1 = url.QueryUnescape(id)
		cc.ClientSecret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, oidc.ErrInvalidClient().WithDescription("the Basic authorization header is not form-encoded (RFC 6749, section 2.3.1)")
		}
		if formID := r.PostForm.Get("client_id"); formID != "" && formID != cc.ClientID {
			return nil, oidc.ErrInvalidRequest().WithDescription("client_id differs from the client of the Authorization header")
		}
	}
	if cc.ClientID == "" {
		return nil, oidc.ErrInvalidClient().WithDescription("client_id is missing")
	}
	return cc, nil
}
