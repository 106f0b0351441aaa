package oidclogin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// maxResponseBody bounds the bytes read from any response of a provider.
const maxResponseBody = 1 << 20

// wellKnownPath is appended to the issuer to find its discovery document
// (OpenID Connect Discovery 1.0, section 4).
const wellKnownPath = "/.well-known/openid-configuration"

// metadata holds the members of a discovery document that a login uses.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	RegistrationEndpoint  string   `json:"registration_endpoint"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	PAREndpoint           string   `json:"pushed_authorization_request_endpoint"`
	RequirePAR            bool     `json:"require_pushed_authorization_requests"`
	DPoPAlgs              []string `json:"dpop_signing_alg_values_supported"`
	ISSParameter          bool     `json:"authorization_response_iss_parameter_supported"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	ResponseTypes         []string `json:"response_types_supported"`
}

// provider is a checked discovery document with the key set of its
// jwks_uri, which caches the provider's signing keys.
type provider struct {
	meta    metadata
	keySet  *oidc.RemoteKeySet
	fetched time.Time
}

// supportsDPoP reports whether the provider accepts DPoP proofs signed
// with ES256, the one algorithm this package signs with.
func (p *provider) supportsDPoP() bool {
	return slices.Contains(p.meta.DPoPAlgs, "ES256")
}

// idTokenAlgs returns the ID token signing algorithms the verifier
// accepts: those the provider advertises, never "none". OpenID Connect
// Discovery 1.0, section 3 requires the member and RS256 in it, so RS256
// is the fallback for a document that leaves the member out.
func (p *provider) idTokenAlgs() []string {
	if len(p.meta.IDTokenAlgs) == 0 {
		return []string{oidc.RS256}
	}
	return slices.DeleteFunc(slices.Clone(p.meta.IDTokenAlgs), func(alg string) bool { return alg == "none" })
}

// provider returns the checked discovery document of issuer, fetched at
// most discoveryTTL ago. Errors are *HTTPError, *MetadataError,
// *IssuerMismatchError or the HTTP client's error.
func (l *Login) provider(ctx context.Context, issuer string) (*provider, error) {
	now := l.now()
	l.mu.Lock()
	cached := l.providers[issuer]
	l.mu.Unlock()
	if cached != nil && now.Sub(cached.fetched) < discoveryTTL && !now.Before(cached.fetched) {
		return cached, nil
	}

	meta, err := l.fetchMetadata(ctx, issuer)
	if err != nil {
		return nil, err
	}
	p := &provider{meta: *meta, fetched: now}
	if cached != nil && cached.meta.JWKSURI == meta.JWKSURI {
		// Keep the key set, and with it the keys it already fetched.
		p.keySet = cached.keySet
	} else {
		p.keySet = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), l.httpClient), meta.JWKSURI)
	}

	l.mu.Lock()
	l.providers[issuer] = p
	l.mu.Unlock()
	return p, nil
}

// fetchMetadata fetches the discovery document of issuer and checks it.
func (l *Login) fetchMetadata(ctx context.Context, issuer string) (*metadata, error) {
	docURL := issuer + wellKnownPath
	var meta metadata
	if err := l.getJSON(ctx, docURL, &meta); err != nil {
		return nil, err
	}

	// OpenID Connect Discovery 1.0, section 4.3: the issuer in the
	// document must be identical to the one used to find it.
	if meta.Issuer != issuer {
		return nil, &IssuerMismatchError{Expected: issuer, Got: meta.Issuer}
	}
	if err := checkMetadata(docURL, &meta); err != nil {
		return nil, err
	}
	return &meta, nil
}

// checkMetadata requires the endpoints a login or logout uses to be https
// URLs and the provider to support what a login requires: the code flow,
// PKCE with S256 and a signing algorithm other than "none".
func checkMetadata(docURL string, m *metadata) error {
	required := []struct{ field, value string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"jwks_uri", m.JWKSURI},
	}
	for _, r := range required {
		if r.value == "" {
			return &MetadataError{URL: docURL, Field: r.field, Reason: "is missing"}
		}
	}
	endpoints := append(required, []struct{ field, value string }{
		{"registration_endpoint", m.RegistrationEndpoint},
		{"pushed_authorization_request_endpoint", m.PAREndpoint},
		{"end_session_endpoint", m.EndSessionEndpoint},
	}...)
	for _, e := range endpoints {
		if e.value == "" {
			continue
		}
		u, err := url.Parse(e.value)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" {
			return &MetadataError{URL: docURL, Field: e.field, Reason: "is not an absolute https URL without a fragment"}
		}
	}

	if m.RequirePAR && m.PAREndpoint == "" {
		return &MetadataError{URL: docURL, Field: "pushed_authorization_request_endpoint", Reason: "is missing, but require_pushed_authorization_requests is true"}
	}
	if len(m.ResponseTypes) > 0 && !slices.Contains(m.ResponseTypes, "code") {
		return &MetadataError{URL: docURL, Field: "response_types_supported", Reason: "does not list \"code\", which a login requires"}
	}
	// A document without the member may still support PKCE; one that
	// lists methods without S256 does not support it.
	if len(m.CodeChallengeMethods) > 0 && !slices.Contains(m.CodeChallengeMethods, "S256") {
		return &MetadataError{URL: docURL, Field: "code_challenge_methods_supported", Reason: "does not list \"S256\", which a login requires (RFC 7636)"}
	}
	if len(m.IDTokenAlgs) > 0 && !slices.ContainsFunc(m.IDTokenAlgs, func(alg string) bool { return alg != "none" }) {
		return &MetadataError{URL: docURL, Field: "id_token_signing_alg_values_supported", Reason: "lists only \"none\"; ID tokens must be signed"}
	}
	return nil
}

// getJSON fetches rawURL and decodes its JSON body into v. A status other
// than 200 is an *HTTPError and a body that does not decode a
// *MetadataError.
func (l *Login) getJSON(ctx context.Context, rawURL string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := l.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return &HTTPError{URL: rawURL, StatusCode: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &MetadataError{URL: rawURL, Field: "(document)", Reason: "is not valid JSON: " + err.Error()}
	}
	return nil
}
