package oidc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/dnshandle/dnshandle/provider/oidc"
)

// confidentialTokens runs a code flow of the confidential client and
// redeems the code, with a DPoP proof of key when key is not nil.
func (w *world) confidentialTokens(t *testing.T, key *dpopKey) (tokenResponse, string) {
	t.Helper()
	p := newPKCE()
	callback := w.codeFlow(t, codeParams(confidentialID, rpRedirect, p), "alice.dhp.test")
	code := callback.Query().Get("code")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {p.verifier}}
	if key == nil {
		resp, body := w.post(t, "/oauth/token", form, basicAuth())
		return decodeTokens(t, resp, body), code
	}
	resp, body := w.tokenWithDPoP(t, key, form, basicAuth())
	return decodeTokens(t, resp, body), code
}

func TestReusedCodeRevokesTokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := newPKCE()
	callback := w.codeFlow(t, codeParams(confidentialID, rpRedirect, p), "alice.dhp.test")
	code := callback.Query().Get("code")
	resp, body := w.exchange(t, code, p)
	first := decodeTokens(t, resp, body)
	if first.TokenType != "Bearer" || first.RefreshToken == "" {
		t.Fatalf("first exchange %s, want a Bearer token with a refresh token", body)
	}
	resp, body = w.userinfo(t, "Bearer "+first.AccessToken, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo before the reuse: %s %s", resp.Status, body)
	}

	resp, body = w.exchange(t, code, p)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")

	resp, body = w.userinfo(t, "Bearer "+first.AccessToken, "")
	wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}, basicAuth())
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
}

func TestExpiredCodeRejected(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := newPKCE()
	callback := w.codeFlow(t, codeParams(confidentialID, rpRedirect, p), "alice.dhp.test")
	w.clock.Advance(2 * time.Minute)
	resp, body := w.exchange(t, callback.Query().Get("code"), p)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
}

func TestRefreshTokenReuseRevokesGrant(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first, _ := w.confidentialTokens(t, nil)
	refresh := func(token string) (*http.Response, string) {
		return w.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, basicAuth())
	}
	resp, body := refresh(first.RefreshToken)
	second := decodeTokens(t, resp, body)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" || second.IDToken == "" {
		t.Fatalf("refresh response %s, want new tokens", body)
	}

	resp, body = refresh(first.RefreshToken)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")

	// The reuse revoked the grant: the rotated refresh token and the access
	// tokens stop working.
	resp, body = refresh(second.RefreshToken)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	for _, at := range []string{first.AccessToken, second.AccessToken} {
		resp, body = w.userinfo(t, "Bearer "+at, "")
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	}
}

func TestRefreshNarrowsScopes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first, _ := w.confidentialTokens(t, nil)
	resp, body := w.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}, "scope": {"openid email"}}, basicAuth())
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_scope")
	resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}, "scope": {"openid"}}, basicAuth())
	second := decodeTokens(t, resp, body)
	// The new refresh token keeps the grant's scopes.
	resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}, "scope": {"openid offline_access"}}, basicAuth())
	decodeTokens(t, resp, body)
}

func TestRevocationEndpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	t.Run("AccessToken", func(t *testing.T) {
		tokens, _ := w.confidentialTokens(t, nil)
		resp, body := w.post(t, "/oauth/revoke", url.Values{"token": {tokens.AccessToken}, "token_type_hint": {"access_token"}}, basicAuth())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revocation answered %s: %s", resp.Status, body)
		}
		resp, body = w.userinfo(t, "Bearer "+tokens.AccessToken, "")
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	})
	t.Run("RefreshTokenRevokesGrant", func(t *testing.T) {
		tokens, _ := w.confidentialTokens(t, nil)
		resp, body := w.post(t, "/oauth/revoke", url.Values{"token": {tokens.RefreshToken}}, basicAuth())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revocation answered %s: %s", resp.Status, body)
		}
		resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}}, basicAuth())
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
		resp, body = w.userinfo(t, "Bearer "+tokens.AccessToken, "")
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	})
}

// TestDPoPProofRejectedAtTokenEndpoint sends proofs that the token endpoint
// must reject before it looks at the grant.
func TestDPoPProofRejectedAtTokenEndpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	key := newDPoPKey(t, w.clock.Now)
	tokenURL := w.issuer + "/oauth/token"
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not-a-token"}, "client_id": {publicID}}
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		proof func(nonce string) []string
		code  string
	}{
		{"MissingNonce", func(string) []string { return []string{key.proof(t, "POST", tokenURL, "", "")} }, "use_dpop_nonce"},
		{"ForgedNonce", func(string) []string {
			return []string{key.proof(t, "POST", tokenURL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")}
		}, "use_dpop_nonce"},
		{"OtherHTU", func(n string) []string { return []string{key.proof(t, "POST", w.issuer+"/oauth/userinfo", n, "")} }, "invalid_dpop_proof"},
		{"OtherHost", func(n string) []string { return []string{key.proof(t, "POST", "https://evil.test/oauth/token", n, "")} }, "invalid_dpop_proof"},
		{"OtherHTM", func(n string) []string { return []string{key.proof(t, "GET", tokenURL, n, "")} }, "invalid_dpop_proof"},
		{"OldIAT", func(n string) []string {
			return []string{signProof(t, jose.ES256, key.key, map[string]any{"jti": randomString(), "htm": "POST", "htu": tokenURL, "nonce": n, "iat": w.clock.Now().Add(-10 * time.Minute).Unix()})}
		}, "invalid_dpop_proof"},
		{"FutureIAT", func(n string) []string {
			return []string{signProof(t, jose.ES256, key.key, map[string]any{"jti": randomString(), "htm": "POST", "htu": tokenURL, "nonce": n, "iat": w.clock.Now().Add(10 * time.Minute).Unix()})}
		}, "invalid_dpop_proof"},
		{"MissingJTI", func(n string) []string {
			return []string{signProof(t, jose.ES256, key.key, map[string]any{"htm": "POST", "htu": tokenURL, "nonce": n, "iat": w.clock.Now().Unix()})}
		}, "invalid_dpop_proof"},
		{"TwoHeaders", func(n string) []string {
			return []string{key.proof(t, "POST", tokenURL, n, ""), key.proof(t, "POST", tokenURL, n, "")}
		}, "invalid_dpop_proof"},
		{"SignedByOtherKey", func(n string) []string {
			proof := key.proof(t, "POST", tokenURL, n, "")
			other := signProof(t, jose.ES256, otherKey, map[string]any{"jti": randomString(), "htm": "POST", "htu": tokenURL, "nonce": n, "iat": w.clock.Now().Unix()})
			parts, otherParts := strings.Split(proof, "."), strings.Split(other, ".")
			return []string{parts[0] + "." + parts[1] + "." + otherParts[2]}
		}, "invalid_dpop_proof"},
		{"NotAJWT", func(string) []string { return []string{"not.a.jwt"} }, "invalid_dpop_proof"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := w.post(t, "/oauth/token", form, http.Header{"Dpop": tc.proof(w.nonce(t))})
			wantOAuthError(t, resp, body, http.StatusBadRequest, tc.code)
			if resp.Header.Get("DPoP-Nonce") == "" {
				t.Error("the error response has no DPoP-Nonce header for the next proof")
			}
		})
	}
}

func TestDPoPProofReplayRejected(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	key := newDPoPKey(t, w.clock.Now)
	proof := key.proof(t, "POST", w.issuer+"/oauth/token", w.nonce(t), "")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not-a-token"}, "client_id": {publicID}}

	// The first use passes the proof check and fails on the grant.
	resp, body := w.post(t, "/oauth/token", form, http.Header{"Dpop": {proof}})
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	resp, body = w.post(t, "/oauth/token", form, http.Header{"Dpop": {proof}})
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_dpop_proof")
	if _, desc := oauthErrorOf(t, body); !strings.Contains(desc, "used before") {
		t.Errorf("replay refused with %q, want a message about the reused jti", desc)
	}
}

func TestDPoPBoundCode(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	key := newDPoPKey(t, w.clock.Now)
	p := newPKCE()
	params := codeParams(confidentialID, rpRedirect, p)
	params.Set("dpop_jkt", key.jkt)
	requestURI := w.pushRequest(t, params)
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(url.Values{"client_id": {confidentialID}, "request_uri": {requestURI}}), "alice")
	code := w.approve(t, browser, form, "alice.dhp.test").Query().Get("code")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {p.verifier}}

	resp, body := w.post(t, "/oauth/token", exchange, basicAuth())
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_dpop_proof")
	resp, body = w.tokenWithDPoP(t, newDPoPKey(t, w.clock.Now), exchange, basicAuth())
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_dpop_proof")
	resp, body = w.tokenWithDPoP(t, key, exchange, basicAuth())
	tokens := decodeTokens(t, resp, body)
	if tokens.TokenType != "DPoP" {
		t.Errorf("token_type %q, want DPoP", tokens.TokenType)
	}

	// A confidential client's refresh token is not bound: it refreshes
	// without a proof and gets a bearer token.
	resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}}, basicAuth())
	if refreshed := decodeTokens(t, resp, body); refreshed.TokenType != "Bearer" {
		t.Errorf("refresh without a proof returned token_type %q, want Bearer", refreshed.TokenType)
	}
}

func TestUserinfoDPoPChecks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	key := newDPoPKey(t, w.clock.Now)
	bound, _ := w.confidentialTokens(t, key)
	bearer, _ := w.confidentialTokens(t, nil)
	userinfoURL := w.issuer + "/oauth/userinfo"

	tests := []struct {
		name          string
		authorization string
		proof         func(nonce string) string
		code          string
		scheme        string
	}{
		{"BoundTokenAsBearer", "Bearer " + bound.AccessToken, func(string) string { return "" }, "invalid_token", "DPoP"},
		{"MissingProof", "DPoP " + bound.AccessToken, func(string) string { return "" }, "invalid_dpop_proof", "DPoP"},
		{"MissingNonce", "DPoP " + bound.AccessToken, func(string) string { return key.proof(t, "GET", userinfoURL, "", bound.AccessToken) }, "use_dpop_nonce", "DPoP"},
		{"WrongATH", "DPoP " + bound.AccessToken, func(n string) string { return key.proof(t, "GET", userinfoURL, n, bearer.AccessToken) }, "invalid_dpop_proof", "DPoP"},
		{"MissingATH", "DPoP " + bound.AccessToken, func(n string) string { return key.proof(t, "GET", userinfoURL, n, "") }, "invalid_dpop_proof", "DPoP"},
		{"OtherKey", "DPoP " + bound.AccessToken, func(n string) string {
			return newDPoPKey(t, w.clock.Now).proof(t, "GET", userinfoURL, n, bound.AccessToken)
		}, "invalid_dpop_proof", "DPoP"},
		{"ProofForTokenEndpoint", "DPoP " + bound.AccessToken, func(n string) string {
			return key.proof(t, "GET", w.issuer+"/oauth/token", n, bound.AccessToken)
		}, "invalid_dpop_proof", "DPoP"},
		{"BearerTokenAsDPoP", "DPoP " + bearer.AccessToken, func(n string) string { return key.proof(t, "GET", userinfoURL, n, bearer.AccessToken) }, "invalid_token", "Bearer"},
		{"ForgedToken", "Bearer " + bearer.AccessToken + "x", func(string) string { return "" }, "invalid_token", "Bearer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := w.userinfo(t, tc.authorization, tc.proof(w.nonce(t)))
			wantOAuthError(t, resp, body, http.StatusUnauthorized, tc.code)
			challenge := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, tc.scheme+" ") || !strings.Contains(challenge, `error="`+tc.code+`"`) {
				t.Errorf("WWW-Authenticate %q, want the %s scheme with error %q", challenge, tc.scheme, tc.code)
			}
		})
	}

	t.Run("Accepted", func(t *testing.T) {
		t.Parallel()
		resp, body := w.userinfo(t, "DPoP "+bound.AccessToken, key.proof(t, "GET", userinfoURL, w.nonce(t), bound.AccessToken))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("userinfo with a good proof: %s %s", resp.Status, body)
		}
	})
}

func TestTokenRateLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(c *oidc.Config) {
		c.RateLimits = oidc.RateLimits{
			TokenPerClient: oidc.Limit{Burst: 2, Every: time.Hour},
			TokenPerIP:     oidc.Limit{Burst: 5, Every: time.Hour},
		}
	})
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
	for range 2 {
		resp, body := w.post(t, "/oauth/token", form, basicAuth())
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	}
	resp, body := w.post(t, "/oauth/token", form, basicAuth())
	wantOAuthError(t, resp, body, http.StatusTooManyRequests, "temporarily_unavailable")
	if seconds, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || seconds < 1 || seconds > 3600 {
		t.Errorf("Retry-After %q, want whole seconds up to an hour", resp.Header.Get("Retry-After"))
	}

	// Another client has its own bucket until the IP address runs out.
	other := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {publicID}}
	resp, body = w.post(t, "/oauth/par", codeParams(publicID, publicRedirect, newPKCE()), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR of another client: %s %s", resp.Status, body)
	}
	resp, body = w.post(t, "/oauth/token", other, nil)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	resp, body = w.post(t, "/oauth/par", codeParams(publicID, publicRedirect, newPKCE()), nil)
	wantOAuthError(t, resp, body, http.StatusTooManyRequests, "temporarily_unavailable")
}

func TestRegistrationRateLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(c *oidc.Config) { c.RateLimits.Register = oidc.Limit{Burst: 1, Every: time.Hour} })
	w.registerClient(t, `{"redirect_uris":["https://app.test/cb"]}`)
	resp, err := w.apiClient().Post(w.issuer+"/oauth/register", "application/json", strings.NewReader(`{"redirect_uris":["https://app.test/cb"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	wantOAuthError(t, resp, body, http.StatusTooManyRequests, "temporarily_unavailable")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestCleanupDeletesExpiredRows(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.confidentialTokens(t, nil)
	w.pushRequest(t, codeParams(confidentialID, rpRedirect, newPKCE()))
	n, err := w.provider.Cleanup(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("Cleanup before any expiry deleted %d rows (error %v), want 0", n, err)
	}
	w.clock.Advance(31 * 24 * time.Hour)
	n, err = w.provider.Cleanup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The pushed request, the access and refresh tokens and their grant.
	if n < 4 {
		t.Errorf("Cleanup after every expiry deleted %d rows, want at least 4", n)
	}
}
