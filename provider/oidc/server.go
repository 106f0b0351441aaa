package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

// server is the library's LegacyServer with the steps the provider adds.
// The authorization endpoint requires PKCE S256 and binds codes to DPoP
// keys. The token endpoint uses codes once and binds tokens to DPoP keys.
// Discovery carries the PAR, DPoP and RFC 9207 metadata.
type server struct {
	*op.LegacyServer
	p *Provider
}

// Discovery implements op.Server.
func (s *server) Discovery(context.Context, *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(s.p.discovery()), nil
}

// Authorize implements op.Server. The library has checked the client, the
// redirect URI (exact match), the scopes and the response type, so errors
// returned here reach the client at its redirect URI.
func (s *server) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	c, ok := r.Client.(*client)
	if !ok {
		return nil, oidc.ErrServerError().WithDescription("unexpected client type")
	}
	params, oerr := s.p.checkAuthParams(r.Data, r.Form.Get("dpop_jkt"), pushedFrom(ctx))
	if oerr != nil {
		return nil, oerr
	}
	if _, err := op.ValidateAuthReqIDTokenHint(ctx, r.Data.IDTokenHint, s.p.op.IDTokenHintVerifier(ctx)); err != nil {
		return nil, err
	}
	if r.Data.RequestParam != "" {
		return nil, oidc.ErrRequestNotSupported().WithDescription("request objects are not supported: use PAR at /oauth/par")
	}

	req, err := s.p.createAuthRequest(ctx, c, params)
	if err != nil {
		return nil, oidc.ErrServerError().WithDescription("the provider failed to store the request").WithParent(err)
	}
	return op.NewRedirect(c.LoginURL(req.id)), nil
}

// CodeExchange implements op.Server for the authorization_code grant. It
// checks, in order: the code (known, not expired, not used before), the
// client, the redirect URI, the PKCE verifier (RFC 7636, section 4.6) and
// the DPoP key the code is bound to. Only then is the code marked used, so
// a request that fails a check does not burn the code. A code presented
// after its use revokes every token issued from it (RFC 6749, section
// 4.1.2).
func (s *server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	c, ok := r.Client.(*client)
	if !ok {
		return nil, oidc.ErrServerError().WithDescription("unexpected client type")
	}
	codeHash := hashToken(r.Data.Code)
	row, err := s.p.cfg.Store.OIDCAuthRequestByCode(ctx, codeHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code is not valid")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	now := s.p.cfg.Now()
	switch {
	case row.ClientID != c.id:
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code was issued to another client")
	case !row.CodeUsedAt.IsZero():
		s.p.revokeGrant(ctx, row.ID, row.ClientID, "an authorization code was used a second time")
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code was used before; the tokens issued for it are now revoked")
	case !row.RevokedAt.IsZero():
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization was revoked")
	case now.After(row.CodeExpiresAt):
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code expired")
	}

	authReq, err := s.p.loadAuthRequest(ctx, row)
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization is no longer valid").WithParent(err)
	}
	if r.Data.RedirectURI != authReq.params.RedirectURI {
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri differs from the one of the authorization request")
	}
	if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, authReq.GetCodeChallenge()); err != nil {
		return nil, err
	}
	proof := proofFrom(ctx)
	if err := checkBinding(c, authReq.params.DPoPJKT, proof, "authorization code"); err != nil {
		return nil, err
	}

	err = s.p.cfg.Store.InTx(ctx, func(tx store.Tx) error { return tx.UseOIDCCode(ctx, codeHash, now) })
	if errors.Is(err, store.ErrConflict) {
		s.p.revokeGrant(ctx, row.ID, row.ClientID, "an authorization code was used twice at once")
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code was used before; the tokens issued for it are now revoked")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}

	if proof != nil {
		authReq.accessJKT = proof.jkt
		// RFC 9449, section 5: the refresh tokens of a public client are
		// bound to its DPoP key, those of a confidential client are not.
		if c.public() {
			authReq.refreshJKT = proof.jkt
		}
	}
	resp, err := op.CreateTokenResponse(ctx, authReq, c, s.p.op, true, r.Data.Code, "")
	if err != nil {
		return nil, err
	}
	return op.NewResponse(dpopTokenType(resp, proof)), nil
}

// RefreshToken implements op.Server for the refresh_token grant. Each use
// returns a new refresh token and marks the old one used; a used refresh
// token presented again revokes the whole grant.
func (s *server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	c, ok := r.Client.(*client)
	if !ok {
		return nil, oidc.ErrServerError().WithDescription("unexpected client type")
	}
	req, err := s.p.refreshRequestOf(ctx, r.Data.RefreshToken)
	if err != nil {
		return nil, err
	}
	if req.token.ClientID != c.id {
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was issued to another client")
	}
	proof := proofFrom(ctx)
	if err := checkBinding(c, req.token.JKT, proof, "refresh token"); err != nil {
		return nil, err
	}
	if err := op.ValidateRefreshTokenScopes(r.Data.Scopes, req); err != nil {
		return nil, err
	}

	req.refreshJKT = req.token.JKT
	if proof != nil {
		req.accessJKT = proof.jkt
	}
	resp, err := op.CreateTokenResponse(ctx, req, c, s.p.op, true, "", r.Data.RefreshToken)
	if err != nil {
		return nil, err
	}
	return op.NewResponse(dpopTokenType(resp, proof)), nil
}

// checkBinding checks the DPoP proof of a token request against the key
// the code or refresh token is bound to (jkt, "" for none) and against a
// client that registered dpop_bound_access_tokens.
func checkBinding(c *client, jkt string, proof *dpopProof, grant string) error {
	switch {
	case jkt != "" && proof == nil:
		return &oidc.Error{ErrorType: errInvalidDPoPProof, Description: "the " + grant + " is bound to a DPoP key: send a DPoP proof made with it"}
	case jkt != "" && proof.jkt != jkt:
		return &oidc.Error{ErrorType: errInvalidDPoPProof, Description: "the DPoP proof is made with another key than the one the " + grant + " is bound to"}
	case c.meta.DPoPBound && proof == nil:
		return &oidc.Error{ErrorType: errInvalidDPoPProof, Description: "the client registered dpop_bound_access_tokens: send a DPoP proof"}
	}
	return nil
}

// dpopTokenType marks a token response for a DPoP-bound access token
// (RFC 9449, section 5).
func dpopTokenType(resp *oidc.AccessTokenResponse, proof *dpopProof) *oidc.AccessTokenResponse {
	if proof != nil {
		resp.TokenType = "DPoP"
	}
	return resp
}

// refreshRequestOf finds a refresh token. A token used before means a
// second use: the grant is revoked. Errors are *oidc.Error.
func (p *Provider) refreshRequestOf(ctx context.Context, token string) (*refreshRequest, error) {
	tok, err := p.cfg.Store.OIDCToken(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) || (err == nil && tok.Kind != store.OIDCRefreshToken) {
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token is not valid")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	switch {
	case !tok.UsedAt.IsZero():
		return nil, p.refreshReused(ctx, tok.GrantID, tok.ClientID)
	case !tok.RevokedAt.IsZero():
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was revoked")
	case p.cfg.Now().After(tok.ExpiresAt):
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token expired")
	}

	req := &refreshRequest{token: tok}
	if err := json.Unmarshal(tok.Data, &req.data); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	req.scopes = req.data.Scopes
	req.identity, err = p.cfg.Store.IdentityByID(ctx, tok.IdentityID)
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the identity of the grant no longer exists").WithParent(err)
	}
	return req, nil
}

// validAccessToken returns the stored access token with the jti id when it
// is neither revoked nor expired.
func (p *Provider) validAccessToken(ctx context.Context, id string) (*store.OIDCToken, error) {
	tok, err := p.cfg.Store.OIDCToken(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case tok.Kind != store.OIDCAccessToken:
		return nil, errors.New("the token is not an access token")
	case !tok.RevokedAt.IsZero():
		return nil, errors.New("the access token was revoked")
	case p.cfg.Now().After(tok.ExpiresAt):
		return nil, errors.New("the access token expired")
	}
	return tok, nil
}

// revokeGrant revokes a grant after a security event, records it in the
// audit log and logs it. A failure is only logged, because the caller
// responds with an error either way.
func (p *Provider) revokeGrant(ctx context.Context, grantID, clientID, reason string) {
	now := p.cfg.Now()
	err := p.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.RevokeOIDCGrant(ctx, grantID, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "system", Action: "oidc.grant.revoke", Subject: clientID, Detail: reason})
	})
	level, msg := slog.LevelWarn, "revoked an OAuth grant: "+reason
	if err != nil {
		level, msg = slog.LevelError, "failed to revoke an OAuth grant after "+reason
	}
	p.cfg.Logger.Log(ctx, level, msg, slog.String("client_id", clientID), slog.Any("err", err))
}

// mustJSON encodes v, which must be a value that always encodes.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("oidc: encode " + err.Error())
	}
	return b
}
