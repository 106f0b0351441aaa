package oidc_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// idTokenClaims are the claims the tests read from ID tokens.
type idTokenClaims struct {
	Handle            string `json:"handle"`
	PreferredUsername string `json:"preferred_username"`
	Nonce             string `json:"nonce"`
}

// TestFullFlowPARDPoP runs the flow of the wire contract with the public
// client: PAR with a DPoP proof (after a nonce challenge), sign-in,
// consent, code exchange with PKCE and DPoP, ID token verification with
// go-oidc against discovery, userinfo with a DPoP-bound token and refresh
// rotation with a bound refresh token.
func TestFullFlowPARDPoP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	key := newDPoPKey(t, w.clock.Now)
	p := newPKCE()
	params := codeParams(publicID, publicRedirect, p)
	params.Set("login_hint", "@Alice.DHP.test")

	// PAR without a nonce gets use_dpop_nonce and a nonce to retry with.
	parURL := w.issuer + "/oauth/par"
	resp, body := w.post(t, "/oauth/par", params, http.Header{"Dpop": {key.proof(t, http.MethodPost, parURL, "", "")}})
	wantOAuthError(t, resp, body, http.StatusBadRequest, "use_dpop_nonce")
	nonce := resp.Header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce response has no DPoP-Nonce header")
	}
	resp, body = w.post(t, "/oauth/par", params, http.Header{"Dpop": {key.proof(t, http.MethodPost, parURL, nonce, "")}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR answered %s: %s", resp.Status, body)
	}
	var par struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(body), &par); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(par.RequestURI, "urn:ietf:params:oauth:request_uri:") || par.ExpiresIn != 60 {
		t.Errorf("PAR response %s, want a urn:ietf:params:oauth:request_uri: and expires_in 60", body)
	}

	// The browser signs in; login_hint preselects alice.dhp.test.
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(url.Values{"client_id": {publicID}, "request_uri": {par.RequestURI}}), "alice")
	if form.selected != "alice.dhp.test" {
		t.Errorf("preselected handle %q, want alice.dhp.test from login_hint", form.selected)
	}
	callback := w.approve(t, browser, form, "alice.dhp.test")
	if got := callback.Scheme + "://" + callback.Host + callback.Path; got != publicRedirect {
		t.Fatalf("approval redirected to %s, want %s", callback, publicRedirect)
	}
	q := callback.Query()
	if q.Get("state") != params.Get("state") || q.Get("iss") != w.issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %s, want code, state %q and iss %q", callback.RawQuery, params.Get("state"), w.issuer)
	}

	// Code exchange with PKCE and a DPoP proof of the key bound at PAR.
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {publicRedirect},
		"code_verifier": {p.verifier}, "client_id": {publicID}}
	resp, body = w.tokenWithDPoP(t, key, exchange, nil)
	tokens := decodeTokens(t, resp, body)
	if tokens.TokenType != "DPoP" || tokens.RefreshToken == "" || tokens.IDToken == "" {
		t.Fatalf("token response %s, want token_type DPoP with a refresh token and an ID token", body)
	}

	ctx := gooidc.ClientContext(t.Context(), w.apiClient())
	provider, err := gooidc.NewProvider(ctx, w.issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	idToken, err := provider.Verifier(&gooidc.Config{ClientID: publicID}).Verify(ctx, tokens.IDToken)
	if err != nil {
		t.Fatalf("go-oidc rejected the ID token: %v", err)
	}
	var claims idTokenClaims
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idToken.Subject != w.aliceIdentity.DID {
		t.Errorf("ID token sub %q, want the DID %q", idToken.Subject, w.aliceIdentity.DID)
	}
	if claims.Handle != "alice.dhp.test" || claims.PreferredUsername != "alice.dhp.test" || claims.Nonce != params.Get("nonce") {
		t.Errorf("ID token claims %+v, want handle and preferred_username alice.dhp.test and nonce %q", claims, params.Get("nonce"))
	}

	// The access token is a JWT bound to the key (cnf.jkt).
	accessToken, err := provider.Verifier(&gooidc.Config{ClientID: publicID}).Verify(ctx, tokens.AccessToken)
	if err != nil {
		t.Fatalf("access token does not verify against the JWK set: %v", err)
	}
	var cnf struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := accessToken.Claims(&cnf); err != nil {
		t.Fatal(err)
	}
	if cnf.Cnf.JKT != key.jkt {
		t.Errorf("access token cnf.jkt %q, want the key thumbprint %q", cnf.Cnf.JKT, key.jkt)
	}

	// Userinfo with the DPoP scheme and a proof with ath.
	userinfoURL := w.issuer + "/oauth/userinfo"
	resp, body = w.userinfo(t, "DPoP "+tokens.AccessToken, key.proof(t, http.MethodGet, userinfoURL, w.nonce(t), tokens.AccessToken))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo answered %s: %s", resp.Status, body)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	if info["sub"] != w.aliceIdentity.DID || info["handle"] != "alice.dhp.test" || info["preferred_username"] != "alice.dhp.test" {
		t.Errorf("userinfo %s, want sub %s and handle alice.dhp.test", body, w.aliceIdentity.DID)
	}

	// The refresh token of the public client is bound to the key.
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}, "client_id": {publicID}}
	resp, body = w.tokenWithDPoP(t, newDPoPKey(t, w.clock.Now), refresh, nil)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_dpop_proof")

	// Rotation: each refresh returns a new refresh token.
	resp, body = w.tokenWithDPoP(t, key, refresh, nil)
	second := decodeTokens(t, resp, body)
	if second.RefreshToken == "" || second.RefreshToken == tokens.RefreshToken || second.TokenType != "DPoP" {
		t.Fatalf("refresh response %s, want a new refresh token and token_type DPoP", body)
	}
	resp, body = w.tokenWithDPoP(t, key, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}, "client_id": {publicID}}, nil)
	third := decodeTokens(t, resp, body)
	if third.RefreshToken == second.RefreshToken {
		t.Error("the second refresh returned the refresh token it was given")
	}
}

// TestRelyingPartyGoOIDC runs a relying party built only from go-oidc and
// golang.org/x/oauth2, without PAR or DPoP, registered through dynamic
// client registration. The provider needs no special case for it.
func TestRelyingPartyGoOIDC(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := gooidc.ClientContext(t.Context(), w.apiClient())

	var conf *oauth2.Config
	var verifier *gooidc.IDTokenVerifier
	var provider *gooidc.Provider
	const state, nonce = "rp-state", "rp-nonce"
	pkceVerifier := oauth2.GenerateVerifier()

	rp := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			http.Redirect(rw, r, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkceVerifier), gooidc.Nonce(nonce)), http.StatusFound)
		case "/callback":
			if r.URL.Query().Get("state") != state {
				http.Error(rw, "state mismatch", http.StatusBadRequest)
				return
			}
			tok, err := conf.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(pkceVerifier))
			if err != nil {
				http.Error(rw, "exchange: "+err.Error(), http.StatusBadGateway)
				return
			}
			raw, _ := tok.Extra("id_token").(string)
			idToken, err := verifier.Verify(ctx, raw)
			if err != nil || idToken.Nonce != nonce {
				http.Error(rw, fmt.Sprintf("ID token: %v (nonce %q)", err, idToken.Nonce), http.StatusBadGateway)
				return
			}
			info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				http.Error(rw, "userinfo: "+err.Error(), http.StatusBadGateway)
				return
			}
			var claims idTokenClaims
			_ = info.Claims(&claims)
			fmt.Fprintf(rw, "signed in sub=%s handle=%s userinfo-sub=%s userinfo-handle=%s", idToken.Subject, handleOf(t, idToken), info.Subject, claims.Handle)
		default:
			http.NotFound(rw, r)
		}
	}))
	rp.StartTLS()
	t.Cleanup(rp.Close)

	// Dynamic client registration with the RP's callback.
	reg := w.registerClient(t, fmt.Sprintf(`{"redirect_uris":[%q],"client_name":"go-oidc RP","grant_types":["authorization_code","refresh_token"]}`, rp.URL+"/callback"))
	var err error
	provider, err = gooidc.NewProvider(ctx, w.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier = provider.Verifier(&gooidc.Config{ClientID: reg.ClientID})
	conf = &oauth2.Config{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: rp.URL + "/callback", Scopes: []string{gooidc.ScopeOpenID, "profile"}}

	// The person's browser follows every redirect.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: w.srv.Client().Transport, Timeout: 10 * time.Second}
	resp, _ := get(t, browser, rp.URL+"/login")
	if resp.Request.URL.Path != "/signin" {
		t.Fatalf("the login ended at %s, want the sign-in page", resp.Request.URL)
	}
	_, body := postForm(t, browser, w.issuer+"/signin", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {resp.Request.URL.Query().Get("next")}})
	form := parseConsent(t, body)
	resp, body = postForm(t, browser, w.issuer+"/oauth/login", url.Values{"id": {form.id}, "csrf": {form.csrf}, "identity": {form.handles["work.dhp.test"]}, "action": {"approve"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the RP answered %s: %s", resp.Status, body)
	}
	want := fmt.Sprintf("signed in sub=%s handle=work.dhp.test userinfo-sub=%s userinfo-handle=work.dhp.test", w.workIdentity.DID, w.workIdentity.DID)
	if body != want {
		t.Errorf("the RP answered %q, want %q", body, want)
	}
}

func handleOf(t *testing.T, idToken *gooidc.IDToken) string {
	var claims idTokenClaims
	if err := idToken.Claims(&claims); err != nil {
		t.Error(err)
	}
	return claims.Handle
}

// registration is the part of a registration response the tests use.
type registration struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// registerClient registers a client with the JSON metadata.
func (w *world) registerClient(t *testing.T, metadata string) registration {
	t.Helper()
	resp, err := w.apiClient().Post(w.issuer+"/oauth/register", "application/json", strings.NewReader(metadata))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("registration answered %s: %s", resp.Status, body)
	}
	var reg registration
	if err := json.Unmarshal([]byte(body), &reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestDiscoveryAdvertisesContract checks the metadata of the wire contract
// at both well-known paths.
func TestDiscoveryAdvertisesContract(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(strings.TrimPrefix(path, "/.well-known/"), func(t *testing.T) {
			resp, body := get(t, w.apiClient(), w.issuer+path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", path, resp.Status)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"issuer":                                         w.issuer,
				"authorization_endpoint":                         w.issuer + "/oauth/authorize",
				"token_endpoint":                                 w.issuer + "/oauth/token",
				"jwks_uri":                                       w.issuer + "/oauth/jwks",
				"userinfo_endpoint":                              w.issuer + "/oauth/userinfo",
				"registration_endpoint":                          w.issuer + "/oauth/register",
				"revocation_endpoint":                            w.issuer + "/oauth/revoke",
				"end_session_endpoint":                           w.issuer + "/oauth/end_session",
				"pushed_authorization_request_endpoint":          w.issuer + "/oauth/par",
				"require_pushed_authorization_requests":          false,
				"authorization_response_iss_parameter_supported": true,
			}
			for field, value := range want {
				if doc[field] != value {
					t.Errorf("%s = %v, want %v", field, doc[field], value)
				}
			}
			lists := map[string][]string{
				"code_challenge_methods_supported":      {"S256"},
				"response_types_supported":              {"code"},
				"grant_types_supported":                 {"authorization_code", "refresh_token"},
				"id_token_signing_alg_values_supported": {"ES256"},
				"scopes_supported":                      {"openid", "profile", "offline_access"},
			}
			for field, values := range lists {
				if got := fmt.Sprint(doc[field]); got != fmt.Sprint(values) {
					t.Errorf("%s = %s, want %v", field, got, values)
				}
			}
			if algs := fmt.Sprint(doc["dpop_signing_alg_values_supported"]); !strings.Contains(algs, "ES256") {
				t.Errorf("dpop_signing_alg_values_supported = %s, want ES256 among them", algs)
			}
		})
	}
}

// TestSigningKeyRotation checks that the JWK set shows the current and the
// previous key after a rotation, and that new ID tokens use the new key.
func TestSigningKeyRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	kids := func() []string {
		_, body := get(t, w.apiClient(), w.issuer+"/oauth/jwks")
		var set struct {
			Keys []struct {
				KID string `json:"kid"`
				Alg string `json:"alg"`
				D   string `json:"d"`
			} `json:"keys"`
		}
		if err := json.Unmarshal([]byte(body), &set); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range set.Keys {
			if k.Alg != "ES256" || k.D != "" {
				t.Errorf("JWK set key %+v, want a public ES256 key", k)
			}
			ids = append(ids, k.KID)
		}
		return ids
	}
	before := kids()
	if len(before) != 1 {
		t.Fatalf("JWK set before rotation has %d keys, want 1", len(before))
	}
	for range 2 {
		if err := w.provider.RotateSigningKey(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	after := kids()
	if len(after) != 2 || after[0] == before[0] || after[1] == before[0] {
		t.Fatalf("JWK set after two rotations %v, want the two newest keys without %s", after, before[0])
	}

	p := newPKCE()
	callback := w.codeFlow(t, codeParams(confidentialID, rpRedirect, p), "alice.dhp.test")
	resp, body := w.exchange(t, callback.Query().Get("code"), p)
	tokens := decodeTokens(t, resp, body)
	header := strings.Split(tokens.IDToken, ".")[0]
	if !strings.Contains(decodeSegment(t, header), after[0]) {
		t.Errorf("ID token header %s, want the newest key %s", decodeSegment(t, header), after[0])
	}
}

func decodeSegment(t *testing.T, segment string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
