package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// loginStep sends the browser to the authorization endpoint with params
// and then to the login step it redirects to, and returns the login
// step's response.
func (w *world) loginStep(t *testing.T, browser *http.Client, params url.Values) (*http.Response, string) {
	t.Helper()
	resp, body := get(t, browser, w.authorizeURL(params))
	loginURL := location(t, resp)
	if loginURL.Path != "/oauth/login" {
		t.Fatalf("authorization redirected to %s (body %s), want the login step", loginURL, body)
	}
	return get(t, browser, loginURL.String())
}

// wantReauthentication runs loginStep and checks that the login step sent
// the browser to the sign-in page that asks for a new sign-in. It returns
// that page's URL.
func (w *world) wantReauthentication(t *testing.T, browser *http.Client, params url.Values) *url.URL {
	t.Helper()
	resp, body := w.loginStep(t, browser, params)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login step answered %s, want 303 to the sign-in page:\n%s", resp.Status, body)
	}
	signIn := location(t, resp)
	if signIn.Path != "/signin" || signIn.Query().Get("reauth") != "1" {
		t.Fatalf("login step redirected to %s, want /signin with reauth=1", signIn)
	}
	return signIn
}

// signInAgain signs the browser in as alice on the sign-in page signIn,
// follows the redirect back to the login step, and returns the consent
// form it shows.
func (w *world) signInAgain(t *testing.T, browser *http.Client, signIn *url.URL) consentForm {
	t.Helper()
	resp, body := postForm(t, browser, w.issuer+"/signin", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {signIn.Query().Get("next")}})
	back := location(t, resp)
	if back.Path != "/oauth/login" {
		t.Fatalf("sign-in redirected to %s (body %s), want the login step", back, body)
	}
	resp, body = get(t, browser, back.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login step after the new sign-in answered %s, want the consent page:\n%s", resp.Status, body)
	}
	return parseConsent(t, body)
}

// authTimeOf returns the auth_time claim of an ID token, in Unix seconds.
// The signature is checked by the flow tests with go-oidc.
func authTimeOf(t *testing.T, idToken string) int64 {
	t.Helper()
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		t.Fatalf("ID token %q is not a compact JWS", idToken)
	}
	var claims struct {
		AuthTime *int64 `json:"auth_time"`
	}
	if err := json.Unmarshal([]byte(decodeSegment(t, parts[1])), &claims); err != nil {
		t.Fatal(err)
	}
	if claims.AuthTime == nil {
		t.Fatalf("ID token claims %s have no auth_time", decodeSegment(t, parts[1]))
	}
	return *claims.AuthTime
}

// signInAndApprove runs a first flow in which alice signs in and approves
// alice.dhp.test for the confidential client, and returns the time of the
// sign-in in Unix seconds.
func (w *world) signInAndApprove(t *testing.T, browser *http.Client) int64 {
	t.Helper()
	signedIn := w.clock.Now().Unix()
	form := w.login(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, newPKCE())), "alice")
	w.approve(t, browser, form, "alice.dhp.test")
	return signedIn
}

func TestAuthTimeIsSignInTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	p := newPKCE()
	signedIn := w.clock.Now().Unix()
	form := w.login(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, p)), "alice")

	// The person takes two minutes to approve.
	w.clock.Advance(2 * time.Minute)
	callback := w.approve(t, browser, form, "alice.dhp.test")
	resp, body := w.exchange(t, callback.Query().Get("code"), p)
	tokens := decodeTokens(t, resp, body)
	if got := authTimeOf(t, tokens.IDToken); got != signedIn {
		t.Errorf("auth_time %d, want the sign-in time %d, not the approval time %d", got, signedIn, w.clock.Now().Unix())
	}
}

func TestMaxAge(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	signedIn := w.signInAndApprove(t, browser)
	w.clock.Advance(10 * time.Minute)

	// A session younger than max_age is used as it is.
	p := newPKCE()
	params := codeParams(confidentialID, rpRedirect, p)
	params.Set("max_age", "3600")
	resp, body := w.loginStep(t, browser, params)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login step with max_age=3600 answered %s, want the consent page:\n%s", resp.Status, body)
	}
	callback := w.approve(t, browser, parseConsent(t, body), "alice.dhp.test")
	resp, body = w.exchange(t, callback.Query().Get("code"), p)
	if got := authTimeOf(t, decodeTokens(t, resp, body).IDToken); got != signedIn {
		t.Errorf("auth_time with max_age=3600 is %d, want the first sign-in %d", got, signedIn)
	}

	// A session older than max_age needs a new sign-in, after which the
	// flow goes on.
	p = newPKCE()
	params = codeParams(confidentialID, rpRedirect, p)
	params.Set("max_age", "300")
	signIn := w.wantReauthentication(t, browser, params)
	w.clock.Advance(time.Minute)
	signedInAgain := w.clock.Now().Unix()
	form := w.signInAgain(t, browser, signIn)
	w.clock.Advance(time.Minute)
	callback = w.approve(t, browser, form, "alice.dhp.test")
	resp, body = w.exchange(t, callback.Query().Get("code"), p)
	if got := authTimeOf(t, decodeTokens(t, resp, body).IDToken); got != signedInAgain {
		t.Errorf("auth_time after the new sign-in is %d, want %d", got, signedInAgain)
	}
}

func TestMaxAgeZeroAfterSignIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	params := codeParams(confidentialID, rpRedirect, newPKCE())
	params.Set("max_age", "0")

	// A sign-in made for this request satisfies max_age=0 even a minute
	// later, so the login step does not ask again.
	resp, _ := w.loginStep(t, browser, params)
	signIn := location(t, resp)
	if signIn.Path != "/signin" {
		t.Fatalf("login step without a session redirected to %s, want /signin", signIn)
	}
	resp, _ = postForm(t, browser, w.issuer+"/signin", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {signIn.Query().Get("next")}})
	back := location(t, resp)
	w.clock.Advance(time.Minute)
	resp, body := get(t, browser, back.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login step after a sign-in for this request answered %s, want the consent page:\n%s", resp.Status, body)
	}
	parseConsent(t, body)
}

func TestPromptLogin(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	w.signInAndApprove(t, browser)
	w.clock.Advance(time.Minute)

	// The session is one minute old and valid, yet prompt=login requires
	// a new sign-in.
	p := newPKCE()
	params := codeParams(confidentialID, rpRedirect, p)
	params.Set("prompt", "login")
	signIn := w.wantReauthentication(t, browser, params)
	w.clock.Advance(time.Minute)
	signedInAgain := w.clock.Now().Unix()
	form := w.signInAgain(t, browser, signIn)
	callback := w.approve(t, browser, form, "alice.dhp.test")
	resp, body := w.exchange(t, callback.Query().Get("code"), p)
	tokens := decodeTokens(t, resp, body)
	if got := authTimeOf(t, tokens.IDToken); got != signedInAgain {
		t.Errorf("auth_time after prompt=login is %d, want the new sign-in %d", got, signedInAgain)
	}

	// A refresh an hour later keeps the time of the sign-in.
	w.clock.Advance(time.Hour)
	resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}}, basicAuth())
	refreshed := decodeTokens(t, resp, body)
	if refreshed.IDToken == "" {
		t.Fatalf("refresh response %s has no ID token", body)
	}
	if got := authTimeOf(t, refreshed.IDToken); got != signedInAgain {
		t.Errorf("auth_time after a refresh is %d, want the sign-in time %d", got, signedInAgain)
	}
}

func TestPromptNoneSignInTooOld(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	signedIn := w.signInAndApprove(t, browser)
	w.clock.Advance(10 * time.Minute)

	params := codeParams(confidentialID, rpRedirect, newPKCE())
	params.Set("prompt", "none")
	params.Set("max_age", "60")
	resp, body := w.loginStep(t, browser, params)
	wantRedirectError(t, w, resp, body, rpRedirect, params.Get("state"), "login_required")

	// With a max_age the session meets, the same request returns a code.
	p := newPKCE()
	params = codeParams(confidentialID, rpRedirect, p)
	params.Set("prompt", "none")
	params.Set("max_age", "3600")
	resp, _ = w.loginStep(t, browser, params)
	callback := location(t, resp)
	if callback.Query().Get("code") == "" {
		t.Fatalf("prompt=none with max_age=3600 redirected to %s, want a code", callback)
	}
	resp, body = w.exchange(t, callback.Query().Get("code"), p)
	if got := authTimeOf(t, decodeTokens(t, resp, body).IDToken); got != signedIn {
		t.Errorf("auth_time of a prompt=none grant is %d, want the sign-in time %d", got, signedIn)
	}
}

func TestPromptConsentShowsConsentPage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, newPKCE())), "alice")
	w.approve(t, browser, form, "work.dhp.test")

	params := codeParams(confidentialID, rpRedirect, newPKCE())
	params.Set("prompt", "consent")
	resp, body := w.loginStep(t, browser, params)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login step with prompt=consent answered %s, want the consent page:\n%s", resp.Status, body)
	}
	if got := parseConsent(t, body).selected; got != "work.dhp.test" {
		t.Errorf("consent page preselects %q, want the remembered work.dhp.test", got)
	}
}
