package oidc

import (
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// supportedScopes are the scopes in discovery. The library drops other
// scopes from requests, except email, phone and address, for which the
// provider has no claims.
var supportedScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess}

// supportedClaims are the claims of ID tokens and userinfo responses.
var supportedClaims = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "azp", "sid", "handle", "preferred_username"}

// discoveryDocument is the OpenID Provider Metadata (OpenID Connect
// Discovery 1.0, section 3) and the Authorization Server Metadata (RFC
// 8414, section 2), with the fields of PAR, DPoP and RFC 9207 that the
// library's type lacks.
type discoveryDocument struct {
	*oidc.DiscoveryConfiguration

	// RFC 9126, section 5.
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests bool   `json:"require_pushed_authorization_requests"`

	// RFC 9449, section 5.1.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`

	// RFC 9207, section 3.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// discovery returns the metadata document.
func (p *Provider) discovery() *discoveryDocument {
	authMethods := []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	doc := &discoveryDocument{
		DiscoveryConfiguration: &oidc.DiscoveryConfiguration{
			Issuer:                                 p.issuer,
			AuthorizationEndpoint:                  p.issuer + authorizePath,
			TokenEndpoint:                          p.issuer + tokenPath,
			UserinfoEndpoint:                       p.issuer + userinfoPath,
			RevocationEndpoint:                     p.issuer + revokePath,
			EndSessionEndpoint:                     p.issuer + endSessionPath,
			JwksURI:                                p.issuer + jwksPath,
			ScopesSupported:                        supportedScopes,
			ResponseTypesSupported:                 []string{string(oidc.ResponseTypeCode)},
			ResponseModesSupported:                 []string{string(oidc.ResponseModeQuery)},
			GrantTypesSupported:                    []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken},
			SubjectTypesSupported:                  []string{"public"},
			IDTokenSigningAlgValuesSupported:       []string{string(signingAlgorithm)},
			TokenEndpointAuthMethodsSupported:      authMethods,
			RevocationEndpointAuthMethodsSupported: authMethods,
			ClaimsSupported:                        supportedClaims,
			CodeChallengeMethodsSupported:          []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
		},
		PushedAuthorizationRequestEndpoint:         p.issuer + parPath,
		DPoPSigningAlgValuesSupported:              dpopAlgorithmNames(),
		AuthorizationResponseIssParameterSupported: true,
	}
	if p.cfg.AllowRegistration {
		doc.RegistrationEndpoint = p.issuer + registerPath
	}
	return doc
}

// serveDiscovery serves both metadata paths with the same document.
func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, p.discovery())
}
