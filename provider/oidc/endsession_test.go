package oidc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/dnshandle/dnshandle/provider/oidc"
)

// browserTokens runs the code flow of the confidential client in
// browser, which signs in as alice when it has no session, approves
// alice.dhp.test and returns the tokens.
func (w *world) browserTokens(t *testing.T, browser *http.Client) tokenResponse {
	t.Helper()
	p := newPKCE()
	form := w.login(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, p)), "alice")
	callback := w.approve(t, browser, form, "alice.dhp.test")
	resp, body := w.exchange(t, callback.Query().Get("code"), p)
	return decodeTokens(t, resp, body)
}

// publicTokens runs the code flow of the public client in browser in the
// same way.
func (w *world) publicTokens(t *testing.T, browser *http.Client) tokenResponse {
	t.Helper()
	p := newPKCE()
	form := w.login(t, browser, w.authorizeURL(codeParams(publicID, publicRedirect, p)), "alice")
	callback := w.approve(t, browser, form, "alice.dhp.test")
	resp, body := w.post(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {callback.Query().Get("code")},
		"redirect_uri": {publicRedirect}, "code_verifier": {p.verifier}, "client_id": {publicID}}, nil)
	return decodeTokens(t, resp, body)
}

// refresh redeems a refresh token of the confidential client, or of the
// public client when public is set.
func (w *world) refresh(t *testing.T, token string, public bool) (*http.Response, string) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if public {
		form.Set("client_id", publicID)
		return w.post(t, "/oauth/token", form, nil)
	}
	return w.post(t, "/oauth/token", form, basicAuth())
}

// signedIn reports whether browser has a session at the provider: the
// login step of a new authorization request shows the consent page
// instead of sending the browser to sign in.
func (w *world) signedIn(t *testing.T, browser *http.Client) bool {
	t.Helper()
	resp, body := w.loginStep(t, browser, codeParams(confidentialID, rpRedirect, newPKCE()))
	switch {
	case resp.StatusCode == http.StatusOK:
		return true
	case resp.StatusCode == http.StatusSeeOther && location(t, resp).Path == "/signin":
		return false
	}
	t.Fatalf("login step answered %s, want the consent page or the sign-in page:\n%s", resp.Status, body)
	return false
}

// signInBrowser returns a browser in which name signed in.
func (w *world) signInBrowser(t *testing.T, name string) *http.Client {
	t.Helper()
	browser := w.browser()
	resp, body := postForm(t, browser, w.issuer+"/signin", url.Values{"name": {name}, "password": {testPassword}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as %s answered %s: %s", name, resp.Status, body)
	}
	return browser
}

// endSession sends browser to the end-session endpoint with params.
func (w *world) endSession(t *testing.T, browser *http.Client, params url.Values) (*http.Response, string) {
	t.Helper()
	return get(t, browser, w.issuer+"/oauth/end_session?"+params.Encode())
}

// wantRedirect checks that resp redirects to target with the state.
func wantRedirect(t *testing.T, resp *http.Response, body, target, state string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("end session answered %s, want 303 to %s:\n%s", resp.Status, target, body)
	}
	loc := location(t, resp)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != target {
		t.Errorf("end session redirected to %s, want %s", loc, target)
	}
	if got := loc.Query().Get("state"); got != state {
		t.Errorf("state = %q, want %q", got, state)
	}
}

// claimsOf decodes the payload of a JWT without checking it.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a compact JWS", token)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(decodeSegment(t, parts[1])), &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestEndSessionWithIDTokenHint logs out the confidential client with its
// ID token. The browser goes back to the registered URI with the state,
// the web session ends and the client's grant is revoked. The public
// client's grant of the same identity stays valid.
func TestEndSessionWithIDTokenHint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	tokens := w.browserTokens(t, browser)
	other := w.publicTokens(t, browser)

	// Refreshes keep the grant: the ID token of a refresh names the same
	// sid.
	resp, body := w.refresh(t, tokens.RefreshToken, false)
	refreshed := decodeTokens(t, resp, body)
	if sid := claimsOf(t, refreshed.IDToken)["sid"]; sid == nil || sid != claimsOf(t, tokens.IDToken)["sid"] {
		t.Fatalf("sid of the refreshed ID token %v, want the sid %v of the first", sid, claimsOf(t, tokens.IDToken)["sid"])
	}

	resp, body = w.endSession(t, browser, url.Values{"id_token_hint": {tokens.IDToken}, "post_logout_redirect_uri": {rpLogoutRedirect}, "state": {"st-1"}})
	wantRedirect(t, resp, body, rpLogoutRedirect, "st-1")
	if cache := resp.Header.Get("Cache-Control"); cache != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cache)
	}

	if w.signedIn(t, browser) {
		t.Error("the browser is still signed in at the provider after the logout")
	}
	resp, body = w.refresh(t, refreshed.RefreshToken, false)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	resp, body = w.userinfo(t, "Bearer "+refreshed.AccessToken, "")
	wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")

	resp, body = w.refresh(t, other.RefreshToken, true)
	decodeTokens(t, resp, body)

	entries, err := w.store.Audit(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].Action != "oidc.logout" || entries[0].Subject != "alice.dhp.test" || entries[0].Actor != "oidc-client:"+confidentialID {
		t.Errorf("newest audit entry %+v, want oidc.logout of alice.dhp.test by the client", entries[0])
	}
}

// TestEndSessionByPOST sends the logout request as a form (OpenID Connect
// RP-Initiated Logout 1.0, section 2).
func TestEndSessionByPOST(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	tokens := w.browserTokens(t, browser)
	resp, body := postForm(t, browser, w.issuer+"/oauth/end_session", url.Values{"id_token_hint": {tokens.IDToken},
		"client_id": {confidentialID}, "post_logout_redirect_uri": {rpLogoutRedirect}})
	wantRedirect(t, resp, body, rpLogoutRedirect, "")
	if w.signedIn(t, browser) {
		t.Error("the browser is still signed in after the logout")
	}
}

// TestEndSessionExpiredIDTokenHint accepts an ID token that expired, as
// the specification allows for logout.
func TestEndSessionExpiredIDTokenHint(t *testing.T) {
	t.Parallel()
	// Tokens with a lifetime of one nanosecond expire at once, because
	// exp is rounded down to the second.
	w := newWorld(t, func(c *oidc.Config) { c.IDTokenLifetime = time.Nanosecond })
	browser := w.browser()
	tokens := w.browserTokens(t, browser)
	if exp, _ := claimsOf(t, tokens.IDToken)["exp"].(float64); int64(exp) > time.Now().Unix() {
		t.Fatalf("the ID token expires at %v, want a time in the past", exp)
	}
	resp, body := w.endSession(t, browser, url.Values{"id_token_hint": {tokens.IDToken}, "post_logout_redirect_uri": {rpLogoutRedirect}, "state": {"s"}})
	wantRedirect(t, resp, body, rpLogoutRedirect, "s")
	resp, body = w.refresh(t, tokens.RefreshToken, false)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
}

// forgedIDToken returns an ID token for alice and the confidential client
// with every claim right, signed by a key the provider does not have.
func forgedIDToken(t *testing.T, w *world) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "forged"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, err := json.Marshal(map[string]any{"iss": w.issuer, "sub": w.aliceIdentity.DID, "aud": []string{confidentialID}, "azp": confidentialID,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "sid": "grant"})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestEndSessionRejectsBadRequests checks requests that get an error page:
// no redirect, and the person stays signed in with the tokens valid.
func TestEndSessionRejectsBadRequests(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tokens := w.browserTokens(t, w.browser())
	forged := forgedIDToken(t, w)
	parts := strings.Split(tokens.IDToken, ".")

	tests := []struct {
		name   string
		params url.Values
		reason string
	}{
		{"ForgedIDTokenHint", url.Values{"id_token_hint": {forged}, "post_logout_redirect_uri": {rpLogoutRedirect}}, "not an ID token that this provider issued"},
		{"TamperedIDTokenHint", url.Values{"id_token_hint": {parts[0] + "." + parts[1] + "x." + parts[2]}}, "not an ID token that this provider issued"},
		{"UnsignedIDTokenHint", url.Values{"id_token_hint": {parts[0] + "." + parts[1] + "."}}, "not an ID token that this provider issued"},
		{"AccessTokenAsHint", url.Values{"id_token_hint": {tokens.AccessToken}}, "is not an ID token"},
		{"GarbageHint", url.Values{"id_token_hint": {"not-a-jwt"}}, "not an ID token that this provider issued"},
		{"HintOfOtherClient", url.Values{"id_token_hint": {tokens.IDToken}, "client_id": {publicID}}, "is not the client that the id_token_hint was issued to"},
		{"UnknownClient", url.Values{"client_id": {"nobody"}}, `parameter client_id with value "nobody" names no client registered at this provider`},
		{"MalformedClientID", url.Values{"client_id": {"no spaces"}}, "is not a client ID of this provider"},
		{"RepeatedState", url.Values{"id_token_hint": {tokens.IDToken}, "state": {"a", "b"}}, "appears more than once"},
		{"LongState", url.Values{"id_token_hint": {tokens.IDToken}, "state": {strings.Repeat("s", 3000)}}, "is longer than 2048 bytes"},
	}
	// The group returns when its parallel cases have finished.
	t.Run("Requests", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				browser := w.signInBrowser(t, "alice")
				resp, body := w.endSession(t, browser, tc.params)
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Fatalf("end session answered %s to %q, want 400 without a redirect:\n%s", resp.Status, resp.Header.Get("Location"), body)
				}
				if !strings.Contains(html.UnescapeString(body), tc.reason) {
					t.Errorf("the page does not say %q:\n%s", tc.reason, body)
				}
				if !w.signedIn(t, browser) {
					t.Error("a rejected logout request ended the session")
				}
			})
		}
	})
	// None of the requests revoked the grant.
	resp, body := w.refresh(t, tokens.RefreshToken, false)
	decodeTokens(t, resp, body)

	t.Run("Method", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, w.issuer+"/oauth/end_session", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := w.apiClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
			t.Errorf("PUT answered %s with Allow %q, want 405 with GET, POST", resp.Status, resp.Header.Get("Allow"))
		}
	})
}

// TestEndSessionUnregisteredRedirect ends the session but never sends the
// browser to a post_logout_redirect_uri that the client did not register.
func TestEndSessionUnregisteredRedirect(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct{ name, uri string }{
		{"OtherHost", "https://evil.test/signed-out"},
		{"OtherClientsURI", publicLogoutRedirect},
		{"RedirectURIOfTheClient", rpRedirect},
		{"PrefixOfRegisteredURI", "https://rp.test/signed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			browser := w.browser()
			tokens := w.browserTokens(t, browser)
			resp, body := w.endSession(t, browser, url.Values{"id_token_hint": {tokens.IDToken}, "post_logout_redirect_uri": {tc.uri}, "state": {"s"}})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
				t.Fatalf("end session answered %s to %q, want 200 and a page:\n%s", resp.Status, resp.Header.Get("Location"), body)
			}
			if strings.Contains(body, tc.uri) || !strings.Contains(body, "did not register") {
				t.Errorf("the page links to %s or does not explain why it stays:\n%s", tc.uri, body)
			}
			if w.signedIn(t, browser) {
				t.Error("the browser is still signed in after the logout")
			}
		})
	}
}

var (
	logoutAction = regexp.MustCompile(`<form method="post" action="/oauth/end_session/confirm">`)
	hiddenField  = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
)

// logoutForm returns the hidden fields of a logout confirmation page.
func logoutForm(t *testing.T, page string) url.Values {
	t.Helper()
	if !logoutAction.MatchString(page) {
		t.Fatalf("the page is not the logout confirmation:\n%s", page)
	}
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("csrf") == "" {
		t.Fatalf("the confirmation form has no CSRF token:\n%s", page)
	}
	return form
}

// TestEndSessionConfirmation requires a signed-in person to confirm a
// logout without id_token_hint, with the CSRF token of the session.
func TestEndSessionConfirmation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	w.browserTokens(t, browser)

	resp, body := w.endSession(t, browser, url.Values{"client_id": {confidentialID}, "post_logout_redirect_uri": {rpLogoutRedirect}, "state": {"st-2"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<strong>Web App</strong> signed you out") {
		t.Fatalf("end session without id_token_hint answered %s, want the confirmation page:\n%s", resp.Status, body)
	}
	form := logoutForm(t, body)
	if form.Get("client_id") != confidentialID || form.Get("post_logout_redirect_uri") != rpLogoutRedirect || form.Get("state") != "st-2" {
		t.Errorf("the form carries %v, want the request's parameters", form)
	}
	if !w.signedIn(t, browser) {
		t.Fatal("showing the confirmation ended the session")
	}

	confirm := w.issuer + "/oauth/end_session/confirm"
	withAction := func(action, csrf string) url.Values {
		v := url.Values{"action": {action}, "csrf": {csrf}}
		for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
			v.Set(k, form.Get(k))
		}
		return v
	}

	t.Run("WithoutCSRFToken", func(t *testing.T) {
		resp, body := postForm(t, browser, confirm, withAction("sign-out", ""))
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("confirmation without the token answered %s, want 403:\n%s", resp.Status, body)
		}
		if !w.signedIn(t, browser) {
			t.Error("a confirmation without the token ended the session")
		}
	})
	t.Run("FromAnotherBrowser", func(t *testing.T) {
		other := w.signInBrowser(t, "alice")
		resp, body := postForm(t, other, confirm, withAction("sign-out", form.Get("csrf")))
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("confirmation with another session's token answered %s, want 403:\n%s", resp.Status, body)
		}
		if !w.signedIn(t, other) {
			t.Error("a confirmation with another session's token ended the session")
		}
	})
	t.Run("Stay", func(t *testing.T) {
		resp, body := postForm(t, browser, confirm, withAction("stay", form.Get("csrf")))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You are still signed in") {
			t.Fatalf("staying answered %s:\n%s", resp.Status, body)
		}
		if !w.signedIn(t, browser) {
			t.Error("staying signed in ended the session")
		}
	})
	// Without an ID token nothing proves that the client sent the
	// request, so the page links to its URI instead of redirecting.
	t.Run("SignOut", func(t *testing.T) {
		resp, body := postForm(t, browser, confirm, withAction("sign-out", form.Get("csrf")))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
			t.Fatalf("confirmed logout answered %s to %q, want 200 and a page:\n%s", resp.Status, resp.Header.Get("Location"), body)
		}
		if !strings.Contains(body, `<a href="`+html.EscapeString(rpLogoutRedirect+"?state=st-2")+`">Return to Web App</a>`) {
			t.Errorf("the page does not link back to the registered URI with the state:\n%s", body)
		}
		if w.signedIn(t, browser) {
			t.Error("the browser is still signed in after the confirmed logout")
		}
	})
}

// TestEndSessionHintOfAnotherAccount requires a confirmation when the ID
// token names an identity that the signed-in account does not own.
func TestEndSessionHintOfAnotherAccount(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tokens := w.browserTokens(t, w.browser())
	bob := w.signInBrowser(t, "bob")

	resp, body := w.endSession(t, bob, url.Values{"id_token_hint": {tokens.IDToken}, "post_logout_redirect_uri": {rpLogoutRedirect}, "state": {"s"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("end session with alice's ID token in bob's browser answered %s, want the confirmation page:\n%s", resp.Status, body)
	}
	form := logoutForm(t, body)
	if form.Get("id_token_hint") != tokens.IDToken || !strings.Contains(body, "signed in to this provider as bob") {
		t.Fatalf("the confirmation lacks the ID token or the account:\n%s", body)
	}
	form.Set("action", "sign-out")
	resp, body = postForm(t, bob, w.issuer+"/oauth/end_session/confirm", form)
	wantRedirect(t, resp, body, rpLogoutRedirect, "s")
	resp, body = w.refresh(t, tokens.RefreshToken, false)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
}

// TestEndSessionWithoutWebSession handles logouts of a browser that is not
// signed in at the provider.
func TestEndSessionWithoutWebSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t)

	t.Run("IDTokenHint", func(t *testing.T) {
		t.Parallel()
		tokens := w.browserTokens(t, w.browser())
		resp, body := w.endSession(t, w.browser(), url.Values{"id_token_hint": {tokens.IDToken}, "post_logout_redirect_uri": {rpLogoutRedirect}, "state": {"s"}})
		wantRedirect(t, resp, body, rpLogoutRedirect, "s")
		resp, body = w.refresh(t, tokens.RefreshToken, false)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("ClientIDOnly", func(t *testing.T) {
		t.Parallel()
		resp, body := w.endSession(t, w.browser(), url.Values{"client_id": {confidentialID}, "post_logout_redirect_uri": {rpLogoutRedirect}, "state": {"s"}})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
			t.Fatalf("end session without session and hint answered %s, want a page:\n%s", resp.Status, body)
		}
		if !strings.Contains(body, `<a href="`+html.EscapeString(rpLogoutRedirect+"?state=s")+`">Return to Web App</a>`) {
			t.Errorf("the page does not link back to the registered URI:\n%s", body)
		}
	})
	t.Run("NothingNamed", func(t *testing.T) {
		t.Parallel()
		resp, body := w.endSession(t, w.browser(), url.Values{})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You are signed out") {
			t.Fatalf("empty end session request answered %s:\n%s", resp.Status, body)
		}
	})
}

// TestEndSessionRegisteredClient registers a client with
// post_logout_redirect_uris (RFC 7591) and logs it out.
func TestEndSessionRegisteredClient(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	resp, err := w.apiClient().Post(w.issuer+"/oauth/register", "application/json", strings.NewReader(
		`{"redirect_uris":["https://app.test/cb"],"post_logout_redirect_uris":["https://app.test/bye?from=op"],"token_endpoint_auth_method":"none","client_name":"App"}`))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	var reg struct {
		ClientID               string   `json:"client_id"`
		PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	}
	if err := json.Unmarshal([]byte(body), &reg); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("registration answered %s: %s", resp.Status, body)
	}
	if len(reg.PostLogoutRedirectURIs) != 1 || reg.PostLogoutRedirectURIs[0] != "https://app.test/bye?from=op" {
		t.Fatalf("registration response %s, want the post_logout_redirect_uris", body)
	}

	browser := w.browser()
	p := newPKCE()
	form := w.login(t, browser, w.authorizeURL(codeParams(reg.ClientID, "https://app.test/cb", p)), "alice")
	callback := w.approve(t, browser, form, "work.dhp.test")
	resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {callback.Query().Get("code")},
		"redirect_uri": {"https://app.test/cb"}, "code_verifier": {p.verifier}, "client_id": {reg.ClientID}}, nil)
	tokens := decodeTokens(t, resp, body)

	resp, body = w.endSession(t, browser, url.Values{"id_token_hint": {tokens.IDToken}, "post_logout_redirect_uri": {"https://app.test/bye?from=op"}, "state": {"x y"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://app.test/bye?from=op&state=x+y" {
		t.Fatalf("end session answered %s to %q, want 303 to the registered URI with the state added:\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
}
