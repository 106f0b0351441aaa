package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

// Client authentication methods at the token endpoint (RFC 7591, section 2).
const (
	authMethodNone  = "none"
	authMethodBasic = "client_secret_basic"
	authMethodPost  = "client_secret_post"
)

// Grant types a client may register.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
)

// minStaticSecretLength is the least number of characters of a client
// secret from the configuration.
const minStaticSecretLength = 16

// maxClientIDLength bounds client IDs from the configuration and from
// requests.
const maxClientIDLength = 128

// clientMetadata is the registered metadata of a client (RFC 7591, section
// 2), stored as JSON in store.OIDCClient.Data.
type clientMetadata struct {
	Name          string   `json:"client_name,omitempty"`
	RedirectURIs  []string `json:"redirect_uris"`
	AuthMethod    string   `json:"token_endpoint_auth_method"`
	GrantTypes    []string `json:"grant_types"`
	ResponseTypes []string `json:"response_types"`

	// DPoPBound requires DPoP proofs at the token endpoint (RFC 9449,
	// section 5.2).
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`

	// PostLogoutRedirectURIs are the URIs the end-session endpoint may
	// redirect to (OpenID Connect RP-Initiated Logout 1.0, section 3.1).
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
}

// client is a registered client. It implements op.Client.
type client struct {
	id         string
	meta       clientMetadata
	secretHash []byte // SHA-256 of the secret; nil for a public client
	p          *Provider
}

var _ op.Client = (*client)(nil)

// GetID implements op.Client.
func (c *client) GetID() string { return c.id }

// RedirectURIs implements op.Client.
func (c *client) RedirectURIs() []string { return c.meta.RedirectURIs }

// PostLogoutRedirectURIs implements op.Client.
func (c *client) PostLogoutRedirectURIs() []string { return c.meta.PostLogoutRedirectURIs }

// ApplicationType implements op.Client. Every client is a web client, whose
// redirect URIs the library matches exactly.
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

// AuthMethod implements op.Client.
func (c *client) AuthMethod() oidc.AuthMethod {
	switch c.meta.AuthMethod {
	case authMethodNone:
		return oidc.AuthMethodNone
	case authMethodPost:
		return oidc.AuthMethodPost
	}
	return oidc.AuthMethodBasic
}

// ResponseTypes implements op.Client: only the authorization code.
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

// GrantTypes implements op.Client.
func (c *client) GrantTypes() []oidc.GrantType {
	types := make([]oidc.GrantType, 0, len(c.meta.GrantTypes))
	for _, g := range c.meta.GrantTypes {
		types = append(types, oidc.GrantType(g))
	}
	return types
}

// LoginURL implements op.Client: the provider's own login step.
func (c *client) LoginURL(authRequestID string) string {
	return c.p.issuer + loginPath + "?id=" + url.QueryEscape(authRequestID)
}

// AccessTokenType implements op.Client: access tokens are JWTs (RFC 9068
// style) signed with the provider's key, and each is also stored, so that
// revocation takes effect at the userinfo endpoint.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

// IDTokenLifetime implements op.Client.
func (c *client) IDTokenLifetime() time.Duration { return c.p.cfg.IDTokenLifetime }

// DevMode implements op.Client. The library uses it only to accept an http
// redirect URI that exactly matches a registered one. Registered http
// redirect URIs are all on loopback hosts (checkRedirectURI), so no other
// http redirect URI passes.
func (c *client) DevMode() bool { return true }

// RestrictAdditionalIdTokenScopes implements op.Client without restriction.
func (c *client) RestrictAdditionalIdTokenScopes() func(scopes []string) []string {
	return func(scopes []string) []string { return scopes }
}

// RestrictAdditionalAccessTokenScopes implements op.Client without
// restriction.
func (c *client) RestrictAdditionalAccessTokenScopes() func(scopes []string) []string {
	return func(scopes []string) []string { return scopes }
}

// IsScopeAllowed implements op.Client: no scope beyond the standard ones.
func (c *client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion implements op.Client.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }

// ClockSkew implements op.Client.
func (c *client) ClockSkew() time.Duration { return 0 }

// public reports whether the client has no secret.
func (c *client) public() bool { return c.meta.AuthMethod == authMethodNone }

// displayName returns the name for the consent page.
func (c *client) displayName() string {
	if c.meta.Name != "" {
		return c.meta.Name
	}
	return c.id
}

// checkSecret reports whether secret is the client's secret. The
// comparison of the hashes takes the same time wherever they differ.
func (c *client) checkSecret(secret string) bool {
	if c.secretHash == nil || secret == "" {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], c.secretHash) == 1
}

// unknownClientError reports a client_id that is neither configured nor
// registered.
type unknownClientError struct {
	ID string
}

func (e *unknownClientError) Error() string {
	return fmt.Sprintf("client %q is not registered at this provider", truncate(e.ID, maxClientIDLength))
}

// clientRegistry finds clients among the configured and the registered ones.
type clientRegistry struct {
	static map[string]*client
	store  store.Reader
	p      *Provider
}

// newClientRegistry checks the configured clients and indexes them.
func newClientRegistry(p *Provider, configured []ClientConfig) (*clientRegistry, error) {
	r := &clientRegistry{static: make(map[string]*client), store: p.cfg.Store, p: p}
	for i, cc := range configured {
		c, err := staticClient(p, i, cc)
		if err != nil {
			return nil, err
		}
		if _, dup := r.static[c.id]; dup {
			return nil, &ConfigError{Field: fmt.Sprintf("StaticClients[%d].ID", i), Value: cc.ID, Reason: "another client has this ID"}
		}
		r.static[c.id] = c
	}
	return r, nil
}

// staticClient checks the configured client number i.
func staticClient(p *Provider, i int, cc ClientConfig) (*client, error) {
	field := func(name string) string { return fmt.Sprintf("StaticClients[%d].%s", i, name) }
	if !validClientID(cc.ID) {
		return nil, &ConfigError{Field: field("ID"), Value: cc.ID, Reason: "must be 1 to 128 letters, digits or \"-._~\""}
	}
	if len(cc.RedirectURIs) == 0 {
		return nil, &ConfigError{Field: field("RedirectURIs"), Reason: "at least one redirect URI is required"}
	}
	for _, uri := range cc.RedirectURIs {
		if err := checkRedirectURI(uri); err != nil {
			return nil, &ConfigError{Field: field("RedirectURIs"), Value: uri, Reason: err.Error()}
		}
	}
	for _, uri := range cc.PostLogoutRedirectURIs {
		if err := checkPostLogoutRedirectURI(uri); err != nil {
			return nil, &ConfigError{Field: field("PostLogoutRedirectURIs"), Value: uri, Reason: err.Error()}
		}
	}

	c := &client{id: cc.ID, p: p, meta: clientMetadata{
		Name:                   cc.Name,
		RedirectURIs:           slices.Clone(cc.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(cc.PostLogoutRedirectURIs),
		GrantTypes:             []string{grantAuthorizationCode, grantRefreshToken},
		ResponseTypes:          []string{string(oidc.ResponseTypeCode)},
	}}
	switch {
	case cc.Public && cc.Secret != "":
		return nil, &ConfigError{Field: field("Secret"), Reason: "a public client must not have a secret"}
	case cc.Public:
		c.meta.AuthMethod = authMethodNone
	case len(cc.Secret) < minStaticSecretLength:
		return nil, &ConfigError{Field: field("Secret"), Reason: fmt.Sprintf("a confidential client needs a secret of at least %d characters (or set Public)", minStaticSecretLength)}
	default:
		c.meta.AuthMethod = authMethodBasic
		sum := sha256.Sum256([]byte(cc.Secret))
		c.secretHash = sum[:]
	}
	return c, nil
}

// validClientID reports whether id is 1 to 128 unreserved URI characters
// (RFC 3986, section 2.3).
func validClientID(id string) bool {
	if id == "" || len(id) > maxClientIDLength {
		return false
	}
	for _, b := range []byte(id) {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '-' || b == '.' || b == '_' || b == '~':
		default:
			return false
		}
	}
	return true
}

// lookup returns the client with the ID. It returns an *unknownClientError
// when there is none and wraps store failures.
func (r *clientRegistry) lookup(ctx context.Context, id string) (*client, error) {
	if c, ok := r.static[id]; ok {
		return c, nil
	}
	if !validClientID(id) {
		return nil, &unknownClientError{ID: id}
	}
	row, err := r.store.OIDCClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &unknownClientError{ID: id}
	}
	if err != nil {
		return nil, err
	}
	c := &client{id: row.ID, secretHash: row.SecretHash, p: r.p}
	if err := json.Unmarshal(row.Data, &c.meta); err != nil {
		return nil, fmt.Errorf("decode metadata of client %q: %w", id, err)
	}
	return c, nil
}

// opClientError maps an error of lookup to the error the library expects:
// invalid_client for an unknown client and server_error for a store
// failure.
func opClientError(err error) error {
	var unknown *unknownClientError
	if errors.As(err, &unknown) {
		return oidc.ErrInvalidClient().WithDescription("%s", unknown.Error()).WithParent(err)
	}
	return oidc.ErrServerError().WithParent(err)
}

// truncate shortens s to at most n bytes for messages, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// isStatic reports whether the client with the ID is from the
// configuration.
func (r *clientRegistry) isStatic(id string) bool {
	_, ok := r.static[id]
	return ok
}
