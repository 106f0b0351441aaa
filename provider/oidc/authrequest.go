package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

// authParams are the parameters of an authorization request that the
// provider keeps, as JSON in store.OIDCAuthRequest.Data.
type authParams struct {
	RedirectURI   string   `json:"redirect_uri"`
	Scopes        []string `json:"scope"`
	State         string   `json:"state,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	ResponseMode  string   `json:"response_mode,omitempty"`
	CodeChallenge string   `json:"code_challenge"`

	// LoginHint is the handle of the login_hint parameter in its
	// canonical form, or "" when there was none or it was not a handle.
	LoginHint string   `json:"login_hint,omitempty"`
	Prompt    []string `json:"prompt,omitempty"`

	// MaxAge is the max_age parameter in seconds, or nil when there was
	// none (OpenID Connect Core 1.0, section 3.1.2.1).
	MaxAge *uint `json:"max_age,omitempty"`

	// DPoPJKT binds the code to a DPoP key (RFC 9449, section 10).
	DPoPJKT string `json:"dpop_jkt,omitempty"`

	// Pushed is set for a request that came through the PAR endpoint.
	Pushed bool `json:"pushed,omitempty"`
}

// authRequest is an authorization request, and after its approval the
// grant its tokens belong to. It implements op.AuthRequest.
type authRequest struct {
	id       string
	clientID string
	params   authParams
	row      *store.OIDCAuthRequest

	// identity is the identity the person chose, loaded with an approved
	// request.
	identity *store.Identity

	// accessJKT and refreshJKT are the DPoP keys that the access token and
	// the refresh token being issued are bound to, or "".
	accessJKT, refreshJKT string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string          { return a.id }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return nil }
func (a *authRequest) GetAudience() []string  { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime() }
func (a *authRequest) GetClientID() string    { return a.clientID }
func (a *authRequest) GetNonce() string       { return a.params.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.params.RedirectURI }
func (a *authRequest) GetScopes() []string    { return a.params.Scopes }
func (a *authRequest) GetState() string       { return a.params.State }
func (a *authRequest) Done() bool             { return !a.row.ApprovedAt.IsZero() }
func (a *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseTypeCode
}

func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.params.ResponseMode)
}

// GetCodeChallenge implements op.AuthRequest. Every request has an S256
// challenge: the provider rejects requests without one.
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.params.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
}

// GetSubject implements op.AuthRequest: the DID of the chosen identity, or
// "" before the approval.
func (a *authRequest) GetSubject() string {
	if a.identity == nil {
		return ""
	}
	return a.identity.DID
}

// tokenData is the part of a token that the store keeps as JSON in
// store.OIDCToken.Data, beside its columns.
type tokenData struct {
	// Scopes are the scopes of the token. A refresh token keeps the scopes
	// of its grant, so a later refresh may ask for any of them again.
	Scopes []string `json:"scope"`

	// AuthTime is when the person who approved the grant signed in, in
	// Unix seconds. Refresh tokens carry it from grant to grant, so the ID
	// tokens of a refresh keep the time of the original sign-in.
	AuthTime int64 `json:"auth_time"`
}

// refreshRequest is a refresh token presented at the token endpoint. It
// implements op.RefreshTokenRequest.
type refreshRequest struct {
	token    *store.OIDCToken
	data     tokenData
	identity *store.Identity

	// scopes are the scopes of the new access token, a subset of
	// data.Scopes.
	scopes []string

	// accessJKT and refreshJKT work as in authRequest.
	accessJKT, refreshJKT string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string       { return nil }
func (r *refreshRequest) GetAudience() []string  { return []string{r.token.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time { return time.Unix(r.data.AuthTime, 0) }
func (r *refreshRequest) GetClientID() string    { return r.token.ClientID }
func (r *refreshRequest) GetScopes() []string    { return r.scopes }
func (r *refreshRequest) GetSubject() string     { return r.identity.DID }

// SetCurrentScopes implements op.RefreshTokenRequest. The library calls it
// with a subset of the granted scopes that the client asked for.
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = slices.Clone(scopes) }

// tokenSource is a request that tokens are issued for: an approved
// authRequest or a refreshRequest.
type tokenSource interface {
	grantID() string
	tokenClientID() string
	subjectIdentity() *store.Identity
	accessScopes() []string
	grantScopes() []string
	authTime() time.Time
	bindings() (accessJKT, refreshJKT string)
}

func (a *authRequest) grantID() string                  { return a.id }
func (a *authRequest) tokenClientID() string            { return a.clientID }
func (a *authRequest) subjectIdentity() *store.Identity { return a.identity }
func (a *authRequest) accessScopes() []string           { return a.params.Scopes }
func (a *authRequest) grantScopes() []string            { return a.params.Scopes }
func (a *authRequest) bindings() (string, string)       { return a.accessJKT, a.refreshJKT }

// authTime returns when the person who approved the request signed in. A
// request approved before the store kept that time falls back to the time
// of approval.
func (a *authRequest) authTime() time.Time {
	if a.row.AuthTime.IsZero() {
		return a.row.ApprovedAt
	}
	return a.row.AuthTime
}

func (r *refreshRequest) grantID() string                  { return r.token.GrantID }
func (r *refreshRequest) tokenClientID() string            { return r.token.ClientID }
func (r *refreshRequest) subjectIdentity() *store.Identity { return r.identity }
func (r *refreshRequest) accessScopes() []string           { return r.scopes }
func (r *refreshRequest) grantScopes() []string            { return r.data.Scopes }
func (r *refreshRequest) authTime() time.Time              { return r.GetAuthTime() }
func (r *refreshRequest) bindings() (string, string)       { return r.accessJKT, r.refreshJKT }

// loadAuthRequest decodes a stored request and, once approved, loads the
// chosen identity.
func (p *Provider) loadAuthRequest(ctx context.Context, row *store.OIDCAuthRequest) (*authRequest, error) {
	a := &authRequest{id: row.ID, clientID: row.ClientID, row: row}
	if err := json.Unmarshal(row.Data, &a.params); err != nil {
		return nil, fmt.Errorf("decode authorization request %q: %w", row.ID, err)
	}
	if row.IdentityID == 0 {
		return a, nil
	}
	ident, err := p.cfg.Store.IdentityByID(ctx, row.IdentityID)
	if err != nil {
		return nil, fmt.Errorf("identity of authorization request %q: %w", row.ID, err)
	}
	a.identity = ident
	return a, nil
}

// createAuthRequest stores a new authorization request of client c.
func (p *Provider) createAuthRequest(ctx context.Context, c *client, params *authParams) (*authRequest, error) {
	data, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encode authorization request: %w", err)
	}
	now := p.cfg.Now()
	row := &store.OIDCAuthRequest{ID: randomToken(24), ClientID: c.id, Data: data, CreatedAt: now, ExpiresAt: now.Add(p.cfg.AuthRequestLifetime)}
	if err := p.cfg.Store.InTx(ctx, func(tx store.Tx) error { return tx.CreateOIDCAuthRequest(ctx, row) }); err != nil {
		return nil, err
	}
	return &authRequest{id: row.ID, clientID: c.id, params: *params, row: row}, nil
}

// identityClaims sets the claims of the identity: sub is its DID, and
// preferred_username and handle are its handle.
func identityClaims(info *oidc.UserInfo, ident *store.Identity) {
	info.Subject = ident.DID
	info.PreferredUsername = ident.Handle
	info.AppendClaims("handle", ident.Handle)
}
