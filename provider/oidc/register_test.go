package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/oidc"
)

func TestRegistrationRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(c *oidc.Config) { c.RateLimits.Register = oidc.Limit{Burst: 100, Every: time.Second} })
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"HTTPSRedirect", `{"redirect_uris":["https://app.test/cb"]}`, http.StatusCreated, ""},
		{"LoopbackHTTP", `{"redirect_uris":["http://127.0.0.1:9000/cb","http://[::1]/cb","http://localhost/cb"],"token_endpoint_auth_method":"none"}`, http.StatusCreated, ""},
		{"PlainHTTP", `{"redirect_uris":["http://app.test/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"JavaScript", `{"redirect_uris":["javascript:alert(1)"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"CustomScheme", `{"redirect_uris":["com.example.app:/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"Fragment", `{"redirect_uris":["https://app.test/cb#frag"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"Userinfo", `{"redirect_uris":["https://user@app.test/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"Relative", `{"redirect_uris":["/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"NoRedirect", `{"client_name":"x"}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"LoopbackLookalike", `{"redirect_uris":["http://127.0.0.1.evil.test/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"PrivateKeyJWT", `{"redirect_uris":["https://app.test/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"ImplicitGrant", `{"redirect_uris":["https://app.test/cb"],"grant_types":["implicit"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"TokenResponseType", `{"redirect_uris":["https://app.test/cb"],"response_types":["token"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"NotJSON", `redirect_uris=https://app.test/cb`, http.StatusBadRequest, "invalid_client_metadata"},
		{"WrongType", `{"redirect_uris":"https://app.test/cb"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"PostLogoutRedirect", `{"redirect_uris":["https://app.test/cb"],"post_logout_redirect_uris":["https://app.test/bye","http://127.0.0.1:9000/bye"]}`, http.StatusCreated, ""},
		{"PostLogoutPlainHTTP", `{"redirect_uris":["https://app.test/cb"],"post_logout_redirect_uris":["http://app.test/bye"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"PostLogoutFragment", `{"redirect_uris":["https://app.test/cb"],"post_logout_redirect_uris":["https://app.test/bye#top"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"PostLogoutRelative", `{"redirect_uris":["https://app.test/cb"],"post_logout_redirect_uris":["/bye"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"PostLogoutNotAList", `{"redirect_uris":["https://app.test/cb"],"post_logout_redirect_uris":"https://app.test/bye"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"PostLogoutTooMany", `{"redirect_uris":["https://app.test/cb"],"post_logout_redirect_uris":[` + strings.Repeat(`"https://app.test/bye",`, 10) + `"https://app.test/bye"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"ControlInName", `{"redirect_uris":["https://app.test/cb"],"client_name":"Bank\u0000"}`, http.StatusBadRequest, "invalid_client_metadata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := w.apiClient().Post(w.issuer+"/oauth/register", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if tc.code != "" {
				wantOAuthError(t, resp, body, tc.status, tc.code)
				return
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %s (body %s), want %d", resp.Status, body, tc.status)
			}
		})
	}
}

func TestRegistrationResponse(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	register := func(body string) map[string]any {
		resp, err := w.apiClient().Post(w.issuer+"/oauth/register", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		text := readBody(t, resp)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("registration answered %s: %s", resp.Status, text)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	confidential := register(`{"redirect_uris":["https://app.test/cb"],"client_name":"App"}`)
	if confidential["client_secret"] == nil || confidential["client_secret_expires_at"] != float64(0) || confidential["client_id"] == nil {
		t.Errorf("confidential registration %v, want client_id, client_secret and client_secret_expires_at 0", confidential)
	}
	if confidential["token_endpoint_auth_method"] != "client_secret_basic" || confidential["client_name"] != "App" {
		t.Errorf("confidential registration %v, want the default client_secret_basic and the name", confidential)
	}
	public := register(`{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}`)
	if public["client_secret"] != nil {
		t.Errorf("public registration %v has a client_secret", public)
	}

	// The registered secret authenticates the client at the PAR endpoint.
	id, secret := confidential["client_id"].(string), confidential["client_secret"].(string)
	header := http.Header{}
	(&http.Request{Header: header}).SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, body := w.post(t, "/oauth/par", codeParams(id, "https://app.test/cb", newPKCE()), header)
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("PAR with the registered secret: %s %s", resp.Status, body)
	}
	(&http.Request{Header: header}).SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret+"x"))
	resp, body = w.post(t, "/oauth/par", codeParams(id, "https://app.test/cb", newPKCE()), header)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_client")
}

func TestRegistrationDisabled(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(c *oidc.Config) { c.AllowRegistration = false })
	resp, err := w.apiClient().Post(w.issuer+"/oauth/register", "application/json", strings.NewReader(`{"redirect_uris":["https://app.test/cb"]}`))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("registration while disabled: status %s, want 404", resp.Status)
	}
	_, body := get(t, w.apiClient(), w.issuer+"/.well-known/openid-configuration")
	if strings.Contains(body, "registration_endpoint") {
		t.Error("discovery advertises registration_endpoint while registration is disabled")
	}
}

func TestRegisteredPublicClientWithDPoP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const redirect = "http://127.0.0.1:9999/cb"
	reg := w.registerClient(t, `{"redirect_uris":["`+redirect+`"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"dpop_bound_access_tokens":true}`)
	p := newPKCE()
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(codeParams(reg.ClientID, redirect, p)), "alice")
	code := w.approve(t, browser, form, "alice.dhp.test").Query().Get("code")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {p.verifier}, "client_id": {reg.ClientID}}

	// The client registered dpop_bound_access_tokens, so a proof is required.
	resp, body := w.post(t, "/oauth/token", exchange, nil)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_dpop_proof")
	key := newDPoPKey(t, w.clock.Now)
	resp, body = w.tokenWithDPoP(t, key, exchange, nil)
	tokens := decodeTokens(t, resp, body)
	if tokens.TokenType != "DPoP" || tokens.RefreshToken == "" {
		t.Fatalf("token response %s, want a DPoP token with a refresh token", body)
	}
}
