package oidc

import (
	"context"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

// storage implements op.Storage on the provider's store. The library calls
// it to look up clients and requests, to issue and sign tokens and to fill
// in claims.
type storage struct {
	p *Provider
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

// errNotOffered is the error of the library's features the provider does
// not offer: client credentials, JWT profile and introspection, and the
// library's own logout.
var errNotOffered = errors.New("this feature is not offered by the dnshandle OpenID provider")

// CreateAuthRequest implements op.AuthStorage. The provider's Authorize
// stores requests itself; this is for the library's own authorize path.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, err := s.p.clients.lookup(ctx, req.ClientID)
	if err != nil {
		return nil, opClientError(err)
	}
	params, oerr := s.p.checkAuthParams(req, "", nil)
	if oerr != nil {
		return nil, oerr
	}
	return s.p.createAuthRequest(ctx, c, params)
}

// AuthRequestByID implements op.AuthStorage.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	row, err := s.p.cfg.Store.OIDCAuthRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.p.loadAuthRequest(ctx, row)
}

// AuthRequestByCode implements op.AuthStorage. It finds the request by the
// hash of the code and does not check or consume the code; see
// server.CodeExchange.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	row, err := s.p.cfg.Store.OIDCAuthRequestByCode(ctx, hashToken(code))
	if err != nil {
		return nil, err
	}
	return s.p.loadAuthRequest(ctx, row)
}

// SaveAuthCode implements op.AuthStorage: it keeps the hash of the code
// and its expiry.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	expires := s.p.cfg.Now().Add(s.p.cfg.CodeLifetime)
	return s.p.cfg.Store.InTx(ctx, func(tx store.Tx) error { return tx.SetOIDCCode(ctx, id, hashToken(code), expires) })
}

// DeleteAuthRequest implements op.AuthStorage. The request stays: it is the
// grant of the tokens issued from it and keeps its code marked used, so a
// second use of the code is detected. Provider.Cleanup deletes it when it
// expired and its tokens are gone.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// CreateAccessToken implements op.AuthStorage for a code exchange without
// a refresh token.
func (s *storage) CreateAccessToken(ctx context.Context, request op.TokenRequest) (string, time.Time, error) {
	src, ok := request.(tokenSource)
	if !ok {
		return "", time.Time{}, fmt.Errorf("issue access token for a %T: %w", request, errNotOffered)
	}
	id, _, exp, err := s.issue(ctx, src, "", false)
	return id, exp, err
}

// CreateAccessAndRefreshTokens implements op.AuthStorage for a code
// exchange with the offline_access scope and for a refresh. A refresh
// marks currentRefreshToken used in the transaction that stores the new
// tokens (RFC 6749, section 10.4, rotation).
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, request op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	src, ok := request.(tokenSource)
	if !ok {
		return "", "", time.Time{}, fmt.Errorf("issue tokens for a %T: %w", request, errNotOffered)
	}
	return s.issue(ctx, src, currentRefreshToken, true)
}

// issue stores a new access token, and a new refresh token when
// withRefresh is set, for src. When current is not empty it is the refresh
// token being rotated: it is marked used first, and when it was used
// already the grant is revoked and issue returns invalid_grant.
func (s *storage) issue(ctx context.Context, src tokenSource, current string, withRefresh bool) (string, string, time.Time, error) {
	now := s.p.cfg.Now()
	accessJKT, refreshJKT := src.bindings()
	ident := src.subjectIdentity()
	if ident == nil {
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the grant has no approved identity")
	}

	access := &store.OIDCToken{ID: randomToken(16), Kind: store.OIDCAccessToken, GrantID: src.grantID(), ClientID: src.tokenClientID(),
		IdentityID: ident.ID, JKT: accessJKT, CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.AccessTokenLifetime)}
	access.Data = mustJSON(tokenData{Scopes: src.accessScopes(), AuthTime: src.authTime().Unix()})
	var refreshToken string
	var refresh *store.OIDCToken
	if withRefresh {
		refreshToken = randomToken(32)
		refresh = &store.OIDCToken{ID: hashToken(refreshToken), Kind: store.OIDCRefreshToken, GrantID: src.grantID(), ClientID: src.tokenClientID(),
			IdentityID: ident.ID, JKT: refreshJKT, CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.RefreshTokenLifetime)}
		refresh.Data = mustJSON(tokenData{Scopes: src.grantScopes(), AuthTime: src.authTime().Unix()})
	}

	err := s.p.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if current != "" {
			if err := tx.UseOIDCToken(ctx, hashToken(current), now); err != nil {
				return err
			}
		}
		if err := tx.CreateOIDCToken(ctx, access); err != nil {
			return err
		}
		if refresh != nil {
			return tx.CreateOIDCToken(ctx, refresh)
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) && current != "" {
		return "", "", time.Time{}, s.p.refreshReused(ctx, src.grantID(), src.tokenClientID())
	}
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	return access.ID, refreshToken, access.ExpiresAt, nil
}

// refreshReused revokes the grant of a refresh token used a second time
// and returns the invalid_grant error for the client.
func (p *Provider) refreshReused(ctx context.Context, grantID, clientID string) error {
	p.revokeGrant(ctx, grantID, clientID, "a refresh token was used a second time")
	return oidc.ErrInvalidGrant().WithDescription("the refresh token was used before; its grant is now revoked, so sign in again")
}

// TokenRequestByRefreshToken implements op.AuthStorage.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, refreshToken string) (op.RefreshTokenRequest, error) {
	return s.p.refreshRequestOf(ctx, refreshToken)
}

// TerminateSession implements op.AuthStorage for the library's end-session
// handler, which the provider does not mount, because that handler cannot
// end the web session. The provider's own end-session endpoint
// (Provider.endSession) ends it and revokes the grant that the ID token's
// sid claim names.
func (s *storage) TerminateSession(context.Context, string, string) error { return errNotOffered }

// RevokeToken implements op.AuthStorage for the revocation endpoint (RFC
// 7009). tokenOrID is the hash of a refresh token or the jti of an access
// token. Revoking a refresh token revokes its whole grant, access tokens
// included (RFC 7009, section 2.1). An unknown token is not an error.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, _, clientID string) *oidc.Error {
	tok, err := s.p.cfg.Store.OIDCToken(ctx, tokenOrID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if tok.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was issued to another client")
	}
	now := s.p.cfg.Now()
	err = s.p.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if tok.Kind == store.OIDCRefreshToken {
			return tx.RevokeOIDCGrant(ctx, tok.GrantID, now)
		}
		return tx.RevokeOIDCToken(ctx, tok.ID, now)
	})
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo implements op.AuthStorage. It returns the identity's
// DID and the token's ID (the hash of the token).
func (s *storage) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	tok, err := s.p.cfg.Store.OIDCToken(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) || (err == nil && tok.Kind != store.OIDCRefreshToken) {
		return "", "", op.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", "", err
	}
	ident, err := s.p.cfg.Store.IdentityByID(ctx, tok.IdentityID)
	if err != nil {
		return "", "", err
	}
	return ident.DID, tok.ID, nil
}

// SigningKey implements op.AuthStorage: the newest signing key.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.p.keys.signing(ctx)
}

// SignatureAlgorithms implements op.AuthStorage.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{signingAlgorithm}, nil
}

// KeySet implements op.AuthStorage: the current and the previous key.
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.p.keys.keySet(ctx)
	if err != nil {
		return nil, err
	}
	return opKeys(keys), nil
}

// GetClientByClientID implements op.OPStorage.
func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, err := s.p.clients.lookup(ctx, clientID)
	if err != nil {
		return nil, opClientError(err)
	}
	return c, nil
}

// AuthorizeClientIDSecret implements op.OPStorage with a comparison of the
// secret's hash that takes the same time wherever the hashes differ.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, clientSecret string) error {
	c, err := s.p.clients.lookup(ctx, clientID)
	if err != nil {
		return opClientError(err)
	}
	if !c.checkSecret(clientSecret) {
		return fmt.Errorf("client %q: the client secret is missing or wrong", clientID)
	}
	return nil
}

// SetUserinfoFromScopes implements op.OPStorage. The library deprecated it
// for SetUserinfoFromRequest.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the ID
// token carries the identity's DID as sub and its handle. Its sid claim
// is the ID of the grant, the same in the ID tokens of every refresh, so
// that a logout with the ID token as id_token_hint revokes that grant.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, request op.IDTokenRequest, _ []string) error {
	src, ok := request.(tokenSource)
	if !ok || src.subjectIdentity() == nil {
		return fmt.Errorf("claims for a %T: %w", request, errNotOffered)
	}
	identityClaims(info, src.subjectIdentity())
	info.AppendClaims("sid", src.grantID())
	return nil
}

// SetUserinfoFromToken implements op.OPStorage for the library's userinfo
// endpoint, which the provider replaces with its own (see userinfo.go).
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	tok, err := s.p.validAccessToken(ctx, tokenID)
	if err != nil {
		return err
	}
	ident, err := s.p.cfg.Store.IdentityByID(ctx, tok.IdentityID)
	if err != nil {
		return err
	}
	identityClaims(info, ident)
	return nil
}

// SetIntrospectionFromToken implements op.OPStorage. The provider has no
// introspection endpoint.
func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errNotOffered
}

// GetPrivateClaimsFromScopes implements op.OPStorage. The library
// deprecated it for GetPrivateClaimsFromRequest.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest implements op.CanGetPrivateClaimsFromRequest:
// a DPoP-bound access token carries the key thumbprint as cnf.jkt (RFC
// 9449, section 6.1).
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, request op.TokenRequest, _ []string) (map[string]any, error) {
	src, ok := request.(tokenSource)
	if !ok {
		return nil, nil
	}
	if jkt, _ := src.bindings(); jkt != "" {
		return map[string]any{"cnf": map[string]any{"jkt": jkt}}, nil
	}
	return nil, nil
}

// GetKeyByIDAndClientID implements op.OPStorage. The provider does not
// accept JWT client assertions.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotOffered
}

// ValidateJWTProfileScopes implements op.OPStorage. The provider does not
// offer the JWT profile grant.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotOffered
}

// Health implements op.Storage.
func (s *storage) Health(context.Context) error { return nil }
