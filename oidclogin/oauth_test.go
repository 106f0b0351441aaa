package oidclogin

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestClientAuthentication(t *testing.T) {
	t.Parallel()
	l := newTestLogin(t)
	tests := []struct {
		name       string
		client     oauthClient
		wantBasic  bool
		wantID     string
		wantSecret string
	}{
		{"basic", oauthClient{ID: "rp:1", Secret: "s e/c", AuthMethod: authBasic}, true, "", ""},
		{"post", oauthClient{ID: "rp", Secret: "sec", AuthMethod: authPost}, false, "rp", "sec"},
		{"none", oauthClient{ID: "rp", AuthMethod: authNone}, false, "rp", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := l.newFormRequest(context.Background(), formCall{url: "https://idp.test/token", form: url.Values{"a": {"b"}}, client: tc.client})
			if err != nil {
				t.Fatal(err)
			}
			if err := req.ParseForm(); err != nil {
				t.Fatal(err)
			}
			user, pass, basic := req.BasicAuth()
			if basic != tc.wantBasic {
				t.Fatalf("Basic credentials present = %v, want %v", basic, tc.wantBasic)
			}
			if basic {
				// RFC 6749, section 2.3.1: form-encoded before Basic.
				if user != url.QueryEscape(tc.client.ID) || pass != url.QueryEscape(tc.client.Secret) {
					t.Errorf("Basic credentials = %q:%q", user, pass)
				}
			}
			if got := req.PostForm.Get("client_id"); got != tc.wantID {
				t.Errorf("client_id in the body = %q, want %q", got, tc.wantID)
			}
			if got := req.PostForm.Get("client_secret"); got != tc.wantSecret {
				t.Errorf("client_secret in the body = %q, want %q", got, tc.wantSecret)
			}
			if req.PostForm.Get("a") != "b" || req.Header.Get("DPoP") != "" {
				t.Errorf("form %v, DPoP header %q", req.PostForm, req.Header.Get("DPoP"))
			}
		})
	}
}

func TestAuthMethodChoice(t *testing.T) {
	t.Parallel()
	provider := func(methods ...string) *provider {
		return &provider{meta: metadata{Issuer: "https://idp.test", TokenAuthMethods: methods}}
	}
	static := []struct {
		name    string
		client  Client
		methods []string
		want    string
	}{
		{"secret, methods unknown", Client{ID: "a", Secret: "s"}, nil, authBasic},
		{"secret, post only", Client{ID: "a", Secret: "s"}, []string{authPost}, authPost},
		{"secret, both", Client{ID: "a", Secret: "s"}, []string{authPost, authBasic}, authBasic},
		{"public client", Client{ID: "a"}, []string{authBasic}, authNone},
	}
	for _, tc := range static {
		if got := staticClient(tc.client, provider(tc.methods...)).AuthMethod; got != tc.want {
			t.Errorf("static %s: method %q, want %q", tc.name, got, tc.want)
		}
	}

	registration := []struct {
		methods []string
		want    string
	}{
		{nil, authBasic},
		{[]string{"private_key_jwt", authPost}, authPost},
		{[]string{authNone}, authNone},
	}
	for _, tc := range registration {
		if got, err := registrationAuthMethod(provider(tc.methods...)); err != nil || got != tc.want {
			t.Errorf("registration with %q: %q, %v; want %q", tc.methods, got, err, tc.want)
		}
	}
	var e *MetadataError
	if _, err := registrationAuthMethod(provider("private_key_jwt")); !errors.As(err, &e) {
		t.Errorf("registration with private_key_jwt only: %v, want a *MetadataError", err)
	}
}

func TestCheckMetadata(t *testing.T) {
	t.Parallel()
	valid := func() metadata {
		return metadata{
			Issuer:                "https://idp.test",
			AuthorizationEndpoint: "https://idp.test/authorize",
			TokenEndpoint:         "https://idp.test/token",
			JWKSURI:               "https://idp.test/jwks",
		}
	}
	if m := valid(); checkMetadata("doc", &m) != nil {
		t.Fatalf("minimal document rejected: %v", checkMetadata("doc", &m))
	}
	tests := []struct {
		name  string
		mod   func(*metadata)
		field string
	}{
		{"no token endpoint", func(m *metadata) { m.TokenEndpoint = "" }, "token_endpoint"},
		{"http authorization endpoint", func(m *metadata) { m.AuthorizationEndpoint = "http://idp.test/authorize" }, "authorization_endpoint"},
		{"relative JWKS URI", func(m *metadata) { m.JWKSURI = "/jwks" }, "jwks_uri"},
		{"PAR endpoint with fragment", func(m *metadata) { m.PAREndpoint = "https://idp.test/par#x" }, "pushed_authorization_request_endpoint"},
		{"PAR required without endpoint", func(m *metadata) { m.RequirePAR = true }, "pushed_authorization_request_endpoint"},
		{"no code response type", func(m *metadata) { m.ResponseTypes = []string{"id_token"} }, "response_types_supported"},
		{"PKCE plain only", func(m *metadata) { m.CodeChallengeMethods = []string{"plain"} }, "code_challenge_methods_supported"},
		{"unsigned ID tokens only", func(m *metadata) { m.IDTokenAlgs = []string{"none"} }, "id_token_signing_alg_values_supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := valid()
			tc.mod(&m)
			var e *MetadataError
			if err := checkMetadata("doc", &m); !errors.As(err, &e) || e.Field != tc.field {
				t.Fatalf("checkMetadata = %v, want a *MetadataError on %s", err, tc.field)
			}
		})
	}

	p := &provider{meta: metadata{IDTokenAlgs: []string{"none", "ES256", "RS256"}, DPoPAlgs: []string{"EdDSA"}}}
	if got := p.idTokenAlgs(); strings.Join(got, ",") != "ES256,RS256" {
		t.Errorf("idTokenAlgs = %q, want ES256 and RS256 without none", got)
	}
	if p.supportsDPoP() {
		t.Error("DPoP chosen though ES256 is not advertised")
	}
}

func TestDPoPProof(t *testing.T) {
	t.Parallel()
	key, err := newDPoPKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := key.bytes()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := parseDPoPKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	proof, err := restored.proof(http.MethodPost, "https://idp.test/token?x=1#frag", "n-1", now)
	if err != nil {
		t.Fatal(err)
	}

	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	header := jws.Signatures[0].Protected
	if header.ExtraHeaders[jose.HeaderType] != "dpop+jwt" {
		t.Errorf("typ = %v, want dpop+jwt", header.ExtraHeaders[jose.HeaderType])
	}
	payload, err := jws.Verify(&key.priv.PublicKey)
	if err != nil {
		t.Fatalf("the proof does not verify with the original key: %v", err)
	}
	var claims dpopClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.HTM != "POST" || claims.HTU != "https://idp.test/token" || claims.IAT != now.Unix() || claims.Nonce != "n-1" || len(claims.JTI) < 16 {
		t.Errorf("claims = %+v", claims)
	}
	thumb, err := header.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := key.thumbprint(); want != base64.RawURLEncoding.EncodeToString(thumb) {
		t.Errorf("thumbprint of the embedded jwk %x differs from dpop_jkt %s", thumb, want)
	}
}

func TestProviderResponses(t *testing.T) {
	t.Parallel()
	if !isUseDPoPNonce(400, []byte(`{"error":"use_dpop_nonce"}`)) || isUseDPoPNonce(400, []byte(`{"error":"invalid_grant"}`)) || isUseDPoPNonce(500, []byte(`{"error":"use_dpop_nonce"}`)) {
		t.Error("isUseDPoPNonce misreads a response")
	}
	var oauthErr *OAuthError
	err := oauthErrorFrom("token", "https://idp.test/token", 400, []byte(`{"error":"invalid_grant","error_description":"bad\u0007code"}`))
	if !errors.As(err, &oauthErr) || oauthErr.Description != "bad?code" || oauthErr.StatusCode != 400 {
		t.Errorf("oauthErrorFrom = %#v", err)
	}
	var httpErr *HTTPError
	if err := oauthErrorFrom("token", "https://idp.test/token", 502, []byte("<html>")); !errors.As(err, &httpErr) || httpErr.StatusCode != 502 {
		t.Errorf("oauthErrorFrom on HTML = %#v, want *HTTPError", err)
	}
}
