package oidclogin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Token endpoint authentication methods (RFC 7591, section 2).
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// oauthClient is the client a login uses at one provider.
type oauthClient struct {
	ID         string `json:"client_id"`
	Secret     string `json:"client_secret,omitempty"`
	AuthMethod string `json:"token_endpoint_auth_method"`
	// SecretExpiresAt is the Unix time the secret expires, 0 for never
	// (RFC 7591, section 3.2.1).
	SecretExpiresAt int64 `json:"client_secret_expires_at,omitempty"`
	// RedirectURI is the redirect URI the client was registered with.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// PostLogoutRedirectURI is Config.BaseURL + LogoutPath when the
	// provider registered it as a post_logout_redirect_uri, else "".
	PostLogoutRedirectURI string `json:"post_logout_redirect_uri,omitempty"`
}

// registry keeps dynamically registered clients by issuer, in memory and,
// when path is set, in a JSON file.
type registry struct {
	path string

	mu      sync.Mutex
	clients map[string]oauthClient
	locks   map[string]*sync.Mutex // one registration per issuer at a time
}

// registryFile is the content of Config.RegistrationFile.
type registryFile struct {
	Version int                    `json:"version"`
	Clients map[string]oauthClient `json:"clients"` // by issuer
}

// loadRegistry reads path when it exists. A file that other users can
// read or write is rejected, because it holds client secrets.
func loadRegistry(path string) (*registry, error) {
	r := &registry{path: path, clients: map[string]oauthClient{}, locks: map[string]*sync.Mutex{}}
	if path == "" {
		return r, nil
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, &ConfigError{Field: "RegistrationFile", Reason: err.Error()}
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, &ConfigError{Field: "RegistrationFile", Reason: fmt.Sprintf("%s has mode %04o but contains client secrets: run chmod 600 on it", path, info.Mode().Perm())}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Field: "RegistrationFile", Reason: err.Error()}
	}
	var file registryFile
	if err := json.Unmarshal(data, &file); err != nil || file.Version != 1 {
		return nil, &ConfigError{Field: "RegistrationFile", Reason: path + " is not a registration file of version 1: remove it to register again"}
	}
	for issuer, c := range file.Clients {
		r.clients[issuer] = c
	}
	return r, nil
}

// lookup returns the registered client of issuer when it is still usable
// for redirectURI at now.
func (r *registry) lookup(issuer, redirectURI string, now time.Time) (oauthClient, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[issuer]
	if !ok || c.RedirectURI != redirectURI {
		return oauthClient{}, false
	}
	if c.SecretExpiresAt != 0 && !now.Before(time.Unix(c.SecretExpiresAt, 0)) {
		return oauthClient{}, false
	}
	return c, true
}

// issuerLock returns the lock that serializes registrations at issuer.
func (r *registry) issuerLock(issuer string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.locks[issuer]
	if m == nil {
		m = new(sync.Mutex)
		r.locks[issuer] = m
	}
	return m
}

// store keeps c for issuer and rewrites the file. The file is replaced
// atomically, so a crash leaves the old or the new content.
func (r *registry) store(issuer string, c oauthClient) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clients[issuer] = c
	if r.path == "" {
		return nil
	}

	data, err := json.MarshalIndent(registryFile{Version: 1, Clients: r.clients}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(r.path), ".oidclogin-registrations-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file with mode 0600 already; Chmod keeps that
	// true under any umask.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), r.path)
}

// client returns the client for the provider: the static client of its
// issuer, a registered client from the registry, or a new registration.
func (l *Login) client(ctx context.Context, p *provider) (oauthClient, error) {
	issuer := p.meta.Issuer
	if c, ok := l.staticClients[issuer]; ok {
		return staticClient(c, p), nil
	}
	if c, ok := l.registry.lookup(issuer, l.callbackURL, l.now()); ok {
		return c, nil
	}

	lock := l.registry.issuerLock(issuer)
	lock.Lock()
	defer lock.Unlock()
	// Another login may have registered while this one waited.
	if c, ok := l.registry.lookup(issuer, l.callbackURL, l.now()); ok {
		return c, nil
	}
	if p.meta.RegistrationEndpoint == "" {
		return oauthClient{}, &MetadataError{URL: issuer + wellKnownPath, Field: "registration_endpoint",
			Reason: "is missing, and Config.StaticClients has no client for this issuer: register a client there and add it to StaticClients"}
	}
	c, err := l.register(ctx, p)
	if err != nil {
		return oauthClient{}, err
	}
	if err := l.registry.store(issuer, c); err != nil {
		return oauthClient{}, &ConfigError{Field: "RegistrationFile", Reason: "cannot save the registration: " + err.Error()}
	}
	return c, nil
}

// clientForCallback returns the client that started a login with clientID.
func (l *Login) clientForCallback(p *provider, clientID string) (oauthClient, error) {
	issuer := p.meta.Issuer
	var c oauthClient
	ok := false
	if static, found := l.staticClients[issuer]; found {
		c, ok = staticClient(static, p), true
	} else {
		c, ok = l.registry.lookup(issuer, l.callbackURL, l.now())
	}
	if !ok {
		return oauthClient{}, &ClientError{Issuer: issuer, Reason: "the registration of client " + clientID + " is no longer known"}
	}
	if c.ID != clientID {
		return oauthClient{}, &ClientError{Issuer: issuer, Reason: "the login started with client " + clientID + ", but the client is now " + c.ID}
	}
	return c, nil
}

// staticClient chooses the authentication method of a configured client:
// none without a secret, else Basic unless the provider lists only the
// form-body method.
func staticClient(c Client, p *provider) oauthClient {
	method := authBasic
	switch {
	case c.Secret == "":
		method = authNone
	case len(p.meta.TokenAuthMethods) > 0 && !slices.Contains(p.meta.TokenAuthMethods, authBasic) && slices.Contains(p.meta.TokenAuthMethods, authPost):
		method = authPost
	}
	return oauthClient{ID: c.ID, Secret: c.Secret, AuthMethod: method}
}

// registrationRequest is the client metadata sent at registration (RFC
// 7591, section 2).
type registrationRequest struct {
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs is the metadata of OpenID Connect
	// RP-Initiated Logout 1.0, section 3.1.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	ClientName             string   `json:"client_name"`
	GrantTypes             []string `json:"grant_types"`
	ResponseTypes          []string `json:"response_types"`
	TokenAuthMethod        string   `json:"token_endpoint_auth_method"`
	ApplicationType        string   `json:"application_type"`
	Scope                  string   `json:"scope"`
}

// register registers a client at the provider's registration endpoint
// (RFC 7591, section 3). It requests a confidential client unless the
// provider authenticates clients only with "none".
func (l *Login) register(ctx context.Context, p *provider) (oauthClient, error) {
	method, err := registrationAuthMethod(p)
	if err != nil {
		return oauthClient{}, err
	}
	body, _ := json.Marshal(registrationRequest{
		RedirectURIs:           []string{l.callbackURL},
		PostLogoutRedirectURIs: []string{l.logoutURL},
		ClientName:             l.clientName,
		GrantTypes:             []string{"authorization_code"},
		ResponseTypes:          []string{"code"},
		TokenAuthMethod:        method,
		ApplicationType:        "web",
		Scope:                  requestedScopes,
	})
	endpoint := p.meta.RegistrationEndpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return oauthClient{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := l.httpClient.Do(req)
	if err != nil {
		return oauthClient{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return oauthClient{}, err
	}

	// RFC 7591, section 3.2.1 specifies 201 Created. Some servers return 200.
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return oauthClient{}, oauthErrorFrom("registration", endpoint, resp.StatusCode, data)
	}
	var c oauthClient
	if err := json.Unmarshal(data, &c); err != nil {
		return oauthClient{}, &MetadataError{URL: endpoint, Field: "(response)", Reason: "is not valid JSON: " + err.Error()}
	}
	// RFC 7591, section 3.2.1: the response lists the metadata the
	// provider registered. A provider without logout support leaves
	// post_logout_redirect_uris out.
	var registered struct {
		PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	}
	c.PostLogoutRedirectURI = ""
	if json.Unmarshal(data, &registered) == nil && slices.Contains(registered.PostLogoutRedirectURIs, l.logoutURL) {
		c.PostLogoutRedirectURI = l.logoutURL
	}
	if c.ID == "" {
		return oauthClient{}, &MetadataError{URL: endpoint, Field: "client_id", Reason: "is missing"}
	}
	if c.AuthMethod == "" {
		c.AuthMethod = method
	}
	switch c.AuthMethod {
	case authBasic, authPost:
		if c.Secret == "" {
			return oauthClient{}, &MetadataError{URL: endpoint, Field: "client_secret", Reason: "is missing for token_endpoint_auth_method " + c.AuthMethod}
		}
	case authNone:
	default:
		return oauthClient{}, &MetadataError{URL: endpoint, Field: "token_endpoint_auth_method", Reason: fmt.Sprintf("is %q, which this client does not support", c.AuthMethod)}
	}
	c.RedirectURI = l.callbackURL
	return c, nil
}

// registrationAuthMethod picks the token endpoint authentication method to
// register with. A provider that lists no methods uses Basic (RFC 8414,
// section 2).
func registrationAuthMethod(p *provider) (string, error) {
	methods := p.meta.TokenAuthMethods
	switch {
	case len(methods) == 0 || slices.Contains(methods, authBasic):
		return authBasic, nil
	case slices.Contains(methods, authPost):
		return authPost, nil
	case slices.Contains(methods, authNone):
		return authNone, nil
	}
	return "", &MetadataError{URL: p.meta.Issuer + wellKnownPath, Field: "token_endpoint_auth_methods_supported",
		Reason: fmt.Sprintf("lists %q, none of which this client supports (client_secret_basic, client_secret_post, none)", methods)}
}
