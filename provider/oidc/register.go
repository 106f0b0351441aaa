package oidc

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dnshandle/dnshandle/provider/store"
)

// Limits of a registration request.
const (
	maxRedirectURIs      = 10
	maxRedirectURILength = 2000
	maxClientNameLength  = 200
)

// Error codes of RFC 7591, section 3.2.2.
const (
	errInvalidRedirectURI    = "invalid_redirect_uri"
	errInvalidClientMetadata = "invalid_client_metadata"
)

// RegistrationError reports a client registration request (RFC 7591) that
// the provider rejects, or a redirect URI that breaks the rules of
// ClientConfig.RedirectURIs.
type RegistrationError struct {
	// Code is "invalid_redirect_uri" or "invalid_client_metadata".
	Code string

	// Field is the metadata field, such as "redirect_uris".
	Field string

	// Reason describes what is wrong and what to send instead.
	Reason string
}

// Error returns the field and the reason.
func (e *RegistrationError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// registrationRequest is the body of a registration request (RFC 7591,
// section 3.1). Metadata the provider does not use is ignored, as section 2
// requires.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	DPoPBoundAccessTokens   bool     `json:"dpop_bound_access_tokens"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
}

// parseRegistration parses and checks a registration request body and
// returns the metadata to register, with the defaults of RFC 7591, section
// 2, filled in. Errors are *RegistrationError.
func parseRegistration(body []byte) (*clientMetadata, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &RegistrationError{Code: errInvalidClientMetadata, Reason: "the body must be a JSON object of client metadata"}
	}
	var req registrationRequest
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&req); err != nil {
		return nil, &RegistrationError{Code: errInvalidClientMetadata, Reason: "the body is not valid client metadata JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &RegistrationError{Code: errInvalidClientMetadata, Reason: "the body has data after the JSON object"}
	}

	meta := &clientMetadata{Name: req.ClientName, DPoPBound: req.DPoPBoundAccessTokens}
	if err := checkRedirectURIs(req.RedirectURIs); err != nil {
		return nil, err
	}
	meta.RedirectURIs = req.RedirectURIs
	if err := checkPostLogoutRedirectURIs(req.PostLogoutRedirectURIs); err != nil {
		return nil, err
	}
	meta.PostLogoutRedirectURIs = req.PostLogoutRedirectURIs

	switch req.TokenEndpointAuthMethod {
	case "":
		meta.AuthMethod = authMethodBasic
	case authMethodNone, authMethodBasic, authMethodPost:
		meta.AuthMethod = req.TokenEndpointAuthMethod
	default:
		return nil, &RegistrationError{Code: errInvalidClientMetadata, Field: "token_endpoint_auth_method",
			Reason: fmt.Sprintf("%q is not supported: use %q, %q or %q", truncate(req.TokenEndpointAuthMethod, 64), authMethodBasic, authMethodPost, authMethodNone)}
	}

	meta.GrantTypes = req.GrantTypes
	if len(meta.GrantTypes) == 0 {
		meta.GrantTypes = []string{grantAuthorizationCode}
	}
	for _, g := range meta.GrantTypes {
		if g != grantAuthorizationCode && g != grantRefreshToken {
			return nil, &RegistrationError{Code: errInvalidClientMetadata, Field: "grant_types",
				Reason: fmt.Sprintf("%q is not supported: use %q and %q", truncate(g, 64), grantAuthorizationCode, grantRefreshToken)}
		}
	}
	if !slices.Contains(meta.GrantTypes, grantAuthorizationCode) {
		return nil, &RegistrationError{Code: errInvalidClientMetadata, Field: "grant_types", Reason: "authorization_code is required: it is the only way to obtain tokens here"}
	}
	meta.GrantTypes = slices.Compact(slices.Sorted(slices.Values(meta.GrantTypes)))

	meta.ResponseTypes = req.ResponseTypes
	if len(meta.ResponseTypes) == 0 {
		meta.ResponseTypes = []string{"code"}
	}
	for _, rt := range meta.ResponseTypes {
		if rt != "code" {
			return nil, &RegistrationError{Code: errInvalidClientMetadata, Field: "response_types", Reason: fmt.Sprintf("%q is not supported: use \"code\"", truncate(rt, 64))}
		}
	}
	meta.ResponseTypes = []string{"code"}

	if err := checkClientName(req.ClientName); err != nil {
		return nil, err
	}
	return meta, nil
}

// checkRedirectURIs checks the redirect_uris of a registration request.
func checkRedirectURIs(uris []string) error {
	if len(uris) == 0 {
		return &RegistrationError{Code: errInvalidRedirectURI, Field: "redirect_uris", Reason: "at least one redirect URI is required"}
	}
	if len(uris) > maxRedirectURIs {
		return &RegistrationError{Code: errInvalidRedirectURI, Field: "redirect_uris", Reason: fmt.Sprintf("%d redirect URIs are more than the %d allowed", len(uris), maxRedirectURIs)}
	}
	for _, uri := range uris {
		if err := checkRedirectURI(uri); err != nil {
			return err
		}
	}
	return nil
}

// checkPostLogoutRedirectURIs checks the optional post_logout_redirect_uris
// of a registration request (OpenID Connect RP-Initiated Logout 1.0,
// section 3.1).
func checkPostLogoutRedirectURIs(uris []string) error {
	if len(uris) > maxRedirectURIs {
		return &RegistrationError{Code: errInvalidClientMetadata, Field: "post_logout_redirect_uris",
			Reason: fmt.Sprintf("%d post-logout redirect URIs are more than the %d allowed", len(uris), maxRedirectURIs)}
	}
	for _, uri := range uris {
		if err := checkPostLogoutRedirectURI(uri); err != nil {
			return err
		}
	}
	return nil
}

// checkRedirectURI applies the rules of ClientConfig.RedirectURIs to one
// redirect URI. Errors are *RegistrationError with the code
// invalid_redirect_uri.
func checkRedirectURI(raw string) error {
	return checkRegisteredURI(raw, errInvalidRedirectURI, "redirect_uris", "redirect URI")
}

// checkPostLogoutRedirectURI applies the rules of
// ClientConfig.RedirectURIs to one post-logout redirect URI. Errors are
// *RegistrationError with the code invalid_client_metadata, because
// invalid_redirect_uri names the redirect_uris field.
func checkPostLogoutRedirectURI(raw string) error {
	return checkRegisteredURI(raw, errInvalidClientMetadata, "post_logout_redirect_uris", "post-logout redirect URI")
}

// checkRegisteredURI applies the rules of ClientConfig.RedirectURIs to
// one URI of the metadata field, and reports a broken rule as a
// *RegistrationError with the code.
func checkRegisteredURI(raw, code, field, noun string) error {
	reject := func(reason string) error {
		return &RegistrationError{Code: code, Field: field,
			Reason: fmt.Sprintf("%s %q %s", noun, truncate(raw, 100), reason)}
	}
	if len(raw) > maxRedirectURILength {
		return reject(fmt.Sprintf("is longer than %d bytes", maxRedirectURILength))
	}
	for _, b := range []byte(raw) {
		if b <= ' ' || b >= 0x7f {
			return reject("contains a space, a control character or a non-ASCII byte: percent-encode it")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return reject("is not an absolute URL with a host")
	}
	if u.User != nil {
		return reject("contains user information (user@host): remove it")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return reject("contains a fragment, which RFC 6749, section 3.1.2, forbids")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return reject("uses http on a host that is not a loopback address: use https")
	}
	return reject("must use https, or http on a loopback host")
}

// checkClientName rejects names that would mislead on the consent page.
func checkClientName(name string) error {
	if len(name) > maxClientNameLength {
		return &RegistrationError{Code: errInvalidClientMetadata, Field: "client_name", Reason: fmt.Sprintf("is longer than %d bytes", maxClientNameLength)}
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f || r == '\uFFFD' || (r >= 0x80 && r < 0xa0) {
			return &RegistrationError{Code: errInvalidClientMetadata, Field: "client_name", Reason: "contains a control character or invalid UTF-8"}
		}
	}
	return nil
}

// registrationResponse is the body of a successful registration (RFC 7591,
// section 3.2.1).
type registrationResponse struct {
	ClientID              string `json:"client_id"`
	ClientSecret          string `json:"client_secret,omitempty"`
	ClientIDIssuedAt      int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"`
	clientMetadata
}

// register serves POST /oauth/register: dynamic client registration
// (RFC 7591, section 3).
func (p *Provider) register(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.allow(w, r, p.limits.register, p.cfg.ClientIP(r)) {
		return
	}
	if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/json" {
		writeOAuthError(w, http.StatusBadRequest, errInvalidClientMetadata, "the body must be JSON with Content-Type application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodySize))
	if err != nil {
		writeOAuthError(w, http.StatusRequestEntityTooLarge, errInvalidClientMetadata, fmt.Sprintf("the body is larger than %d bytes", p.cfg.MaxBodySize))
		return
	}
	meta, err := parseRegistration(body)
	if err != nil {
		var regErr *RegistrationError
		errors.As(err, &regErr)
		writeOAuthError(w, http.StatusBadRequest, regErr.Code, regErr.Error())
		return
	}

	resp := registrationResponse{ClientID: randomToken(16), ClientIDIssuedAt: p.cfg.Now().Unix(), clientMetadata: *meta}
	row := &store.OIDCClient{ID: resp.ClientID, CreatedAt: p.cfg.Now()}
	if meta.AuthMethod != authMethodNone {
		resp.ClientSecret = randomToken(32)
		sum := sha256.Sum256([]byte(resp.ClientSecret))
		row.SecretHash = sum[:]
		never := int64(0)
		resp.ClientSecretExpiresAt = &never
	}
	row.Data, err = json.Marshal(meta)
	if err == nil {
		err = p.cfg.Store.InTx(ctx, func(tx store.Tx) error { return tx.CreateOIDCClient(ctx, row) })
	}
	if err != nil {
		p.serverError(w, r, "register client", err)
		return
	}

	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, resp)
}
