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

// wantRedirectError checks that resp redirects to the client's redirect
// URI with the error code, the request's state and iss.
func wantRedirectError(t *testing.T, w *world, resp *http.Response, body string, redirectURI, state, code string) {
	t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %s (body %s), want a redirect to the client", resp.Status, body)
	}
	loc := location(t, resp)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirect to %s, want %s", loc, redirectURI)
	}
	q := loc.Query()
	if q.Get("error") != code || q.Get("state") != state || q.Get("iss") != w.issuer {
		t.Errorf("error response %s, want error %q, state %q and iss %q", loc.RawQuery, code, state, w.issuer)
	}
	if q.Get("code") != "" {
		t.Errorf("error response %s carries a code", loc.RawQuery)
	}
}

func TestAuthorizeRequiresPKCES256(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct {
		name   string
		change func(url.Values)
	}{
		{"MissingChallenge", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }},
		{"PlainMethod", func(v url.Values) { v.Set("code_challenge_method", "plain") }},
		{"MissingMethod", func(v url.Values) { v.Del("code_challenge_method") }},
		{"ShortChallenge", func(v url.Values) { v.Set("code_challenge", "abc") }},
		{"FormPostMode", func(v url.Values) { v.Set("response_mode", "form_post") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			params := codeParams(confidentialID, rpRedirect, newPKCE())
			tc.change(params)
			resp, body := get(t, w.browser(), w.authorizeURL(params))
			wantRedirectError(t, w, resp, body, rpRedirect, params.Get("state"), "invalid_request")
		})
	}
}

func TestCodeExchangeChecksVerifier(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := newPKCE()
	callback := w.codeFlow(t, codeParams(confidentialID, rpRedirect, p), "alice.dhp.test")
	code := callback.Query().Get("code")

	resp, body := w.exchange(t, code, newPKCE())
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	resp, body = w.exchange(t, code, pkce{})
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request")
	resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpRedirect + "x"}, "code_verifier": {p.verifier}}, basicAuth())
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	resp, body = w.post(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpRedirect}, "code_verifier": {p.verifier}, "client_id": {confidentialID}, "client_secret": {"wrong-secret-0123456789"}}, nil)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_client")

	// The failed attempts did not burn the code.
	resp, body = w.exchange(t, code, p)
	decodeTokens(t, resp, body)
}

func TestRedirectURIRefusedWithoutRedirect(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct {
		name, redirectURI string
	}{
		{"NotRegistered", "https://other.test/callback"},
		{"OtherPath", "https://rp.test/callback2"},
		{"OtherPathPrefix", "https://rp.test/call"},
		{"AddedQuery", "https://rp.test/callback?next=https://evil.test"},
		{"TrailingSlash", "https://rp.test/callback/"},
		{"Fragment", "https://rp.test/callback#x"},
		{"HTTPScheme", "http://rp.test/callback"},
		{"JavaScript", "javascript:alert(document.cookie)"},
		{"DataURL", "data:text/html,<script>alert(1)</script>"},
		{"UserinfoTrick", "https://rp.test@evil.test/callback"},
		{"UserinfoPrefix", "https://evil.test@rp.test/callback"},
		{"HostSuffix", "https://rp.test.evil.test/callback"},
		{"OtherPort", "https://rp.test:8443/callback"},
		{"ProtocolRelative", "//evil.test/callback"},
		{"EncodedPath", "https://rp.test/%63allback"},
		{"Missing", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			params := codeParams(confidentialID, tc.redirectURI, newPKCE())
			if tc.redirectURI == "" {
				params.Del("redirect_uri")
			}
			resp, body := get(t, w.browser(), w.authorizeURL(params))
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Fatalf("redirected to %s, want no redirect", loc)
			}
			wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request")
		})
	}
}

func TestAuthorizeUnknownClient(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	resp, body := get(t, w.browser(), w.authorizeURL(codeParams("nobody", rpRedirect, newPKCE())))
	if resp.Header.Get("Location") != "" {
		t.Fatalf("redirected to %s for an unknown client", resp.Header.Get("Location"))
	}
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_client")
}

// pushRequest pushes an authorization request of the confidential client
// and returns the request_uri.
func (w *world) pushRequest(t *testing.T, params url.Values) string {
	t.Helper()
	resp, body := w.post(t, "/oauth/par", params, basicAuth())
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR answered %s: %s", resp.Status, body)
	}
	var par struct {
		RequestURI string `json:"request_uri"`
	}
	if err := json.Unmarshal([]byte(body), &par); err != nil {
		t.Fatal(err)
	}
	return par.RequestURI
}

func TestPushedRequestURIUsedOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	requestURI := w.pushRequest(t, codeParams(confidentialID, rpRedirect, newPKCE()))
	authorize := w.authorizeURL(url.Values{"client_id": {confidentialID}, "request_uri": {requestURI}})

	resp, body := get(t, w.browser(), authorize)
	if loc := location(t, resp); loc.Path != "/oauth/login" {
		t.Fatalf("first use redirected to %s (body %s), want the login step", loc, body)
	}
	resp, body = get(t, w.browser(), authorize)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request_uri")
}

func TestPushedRequestURIExpires(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	requestURI := w.pushRequest(t, codeParams(confidentialID, rpRedirect, newPKCE()))
	w.clock.Advance(61 * time.Second)
	resp, body := get(t, w.browser(), w.authorizeURL(url.Values{"client_id": {confidentialID}, "request_uri": {requestURI}}))
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request_uri")
	if resp.Header.Get("Location") != "" {
		t.Errorf("an expired request_uri redirected to %s", resp.Header.Get("Location"))
	}
}

func TestPushedRequestURIChecks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct {
		name  string
		query func(requestURI string) url.Values
	}{
		{"OtherClient", func(u string) url.Values { return url.Values{"client_id": {publicID}, "request_uri": {u}} }},
		{"MissingClient", func(u string) url.Values { return url.Values{"request_uri": {u}} }},
		{"Unknown", func(string) url.Values {
			return url.Values{"client_id": {confidentialID}, "request_uri": {"urn:ietf:params:oauth:request_uri:guessed"}}
		}},
		{"ForeignURI", func(string) url.Values {
			return url.Values{"client_id": {confidentialID}, "request_uri": {"https://evil.test/request.jwt"}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requestURI := w.pushRequest(t, codeParams(confidentialID, rpRedirect, newPKCE()))
			resp, body := get(t, w.browser(), w.authorizeURL(tc.query(requestURI)))
			wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request_uri")
		})
	}
}

func TestPushedRequestRejected(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct {
		name   string
		change func(url.Values, http.Header)
		status int
		code   string
	}{
		{"PlainPKCE", func(v url.Values, _ http.Header) { v.Set("code_challenge_method", "plain") }, http.StatusBadRequest, "invalid_request"},
		{"UnregisteredRedirect", func(v url.Values, _ http.Header) { v.Set("redirect_uri", "https://evil.test/cb") }, http.StatusBadRequest, "invalid_request"},
		{"RequestURIPushed", func(v url.Values, _ http.Header) { v.Set("request_uri", "urn:x") }, http.StatusBadRequest, "invalid_request"},
		{"WrongSecret", func(_ url.Values, h http.Header) {
			(&http.Request{Header: h}).SetBasicAuth(confidentialID, "wrong-secret-0123456789")
		}, http.StatusBadRequest, "invalid_client"},
		{"OtherClientID", func(v url.Values, _ http.Header) { v.Set("client_id", publicID) }, http.StatusBadRequest, "invalid_request"},
		{"DPoPJKTMalformed", func(v url.Values, _ http.Header) { v.Set("dpop_jkt", "short") }, http.StatusBadRequest, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			params := codeParams(confidentialID, rpRedirect, newPKCE())
			header := basicAuth()
			tc.change(params, header)
			resp, body := w.post(t, "/oauth/par", params, header)
			wantOAuthError(t, resp, body, tc.status, tc.code)
		})
	}
}

func TestConsentNeedsCSRFToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	params := codeParams(confidentialID, rpRedirect, newPKCE())
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(params), "alice")
	answer := url.Values{"id": {form.id}, "identity": {form.handles["alice.dhp.test"]}, "action": {"approve"}}

	for name, csrf := range map[string][]string{"Missing": nil, "Wrong": {"forged"}, "Empty": {""}} {
		answer["csrf"] = csrf
		resp, body := postForm(t, browser, w.issuer+"/oauth/login", answer)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Errorf("%s CSRF token: status %s, Location %q, want 403 without a redirect", name, resp.Status, resp.Header.Get("Location"))
		}
		if !strings.Contains(body, "could not be verified") {
			t.Errorf("%s CSRF token: page %q does not explain the refusal", name, body)
		}
	}

	// Another person's session cannot approve either: bob's token is not
	// alice's.
	other := w.browser()
	postForm(t, other, w.issuer+"/signin", url.Values{"name": {"bob"}, "password": {testPassword}, "next": {"/"}})
	answer.Set("csrf", form.csrf)
	resp, _ := postForm(t, other, w.issuer+"/oauth/login", answer)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("alice's CSRF token in bob's session: status %s, want 403", resp.Status)
	}

	// The request is still pending and the right token completes it.
	callback := w.approve(t, browser, form, "alice.dhp.test")
	if callback.Query().Get("code") == "" {
		t.Errorf("approval after refused attempts redirected to %s without a code", callback)
	}
}

func TestConsentDenied(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	params := codeParams(confidentialID, rpRedirect, newPKCE())
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(params), "alice")
	resp, body := postForm(t, browser, w.issuer+"/oauth/login", url.Values{"id": {form.id}, "csrf": {form.csrf}, "action": {"deny"}})
	wantRedirectError(t, w, resp, body, rpRedirect, params.Get("state"), "access_denied")

	resp, body = postForm(t, browser, w.issuer+"/oauth/login", url.Values{"id": {form.id}, "csrf": {form.csrf}, "identity": {form.handles["alice.dhp.test"]}, "action": {"approve"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "no longer valid") {
		t.Errorf("approval after a refusal: status %s, page %q, want 400 saying the request is no longer valid", resp.Status, body)
	}
}

func TestConsentRejectsForeignIdentity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, newPKCE())), "alice")
	for _, identity := range []string{"", "0", "99999", "not-a-number"} {
		resp, _ := postForm(t, browser, w.issuer+"/oauth/login", url.Values{"id": {form.id}, "csrf": {form.csrf}, "identity": {identity}, "action": {"approve"}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("identity %q: status %s, want 400", identity, resp.Status)
		}
	}
}

func TestConsentPreselection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	selected := func(hint string) string {
		params := codeParams(confidentialID, rpRedirect, newPKCE())
		if hint != "" {
			params.Set("login_hint", hint)
		}
		return w.login(t, w.browser(), w.authorizeURL(params), "alice").selected
	}
	if got := selected(""); got != "alice.dhp.test" {
		t.Errorf("first request preselects %q, want the first handle alice.dhp.test", got)
	}

	// Approving work.dhp.test is remembered for this client.
	w.codeFlow(t, codeParams(confidentialID, rpRedirect, newPKCE()), "work.dhp.test")
	tests := []struct{ name, hint, want string }{
		{"Remembered", "", "work.dhp.test"},
		{"HintWins", "alice.dhp.test", "alice.dhp.test"},
		{"HintWithAt", "@ALICE.dhp.test", "alice.dhp.test"},
		{"HintNotOwned", "bob.dhp.test", "work.dhp.test"},
		{"HintNotAHandle", "not a handle", "work.dhp.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := selected(tc.hint); got != tc.want {
				t.Errorf("login_hint %q preselects %q, want %q", tc.hint, got, tc.want)
			}
		})
	}

	// Another client remembers nothing.
	params := codeParams(publicID, publicRedirect, newPKCE())
	if got := w.login(t, w.browser(), w.authorizeURL(params), "alice").selected; got != "alice.dhp.test" {
		t.Errorf("another client preselects %q, want alice.dhp.test", got)
	}
}

func TestConsentWithoutIdentity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	resp, _ := get(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, newPKCE())))
	loginURL := location(t, resp).String()
	resp, _ = get(t, browser, loginURL)
	next := location(t, resp).Query().Get("next")
	resp, _ = postForm(t, browser, w.issuer+"/signin", url.Values{"name": {"bob"}, "password": {testPassword}, "next": {next}})
	back := location(t, resp)
	resp, body := get(t, browser, back.String())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "No handle to share yet") || strings.Contains(body, `name="identity"`) {
		t.Errorf("login step for an account without identity: status %s, page %q, want the no-handle page", resp.Status, body)
	}
	// The page links to the handle form, which returns to the login step.
	link := `href="/identities/new?next=` + url.QueryEscape(back.RequestURI()) + `"`
	if !strings.Contains(body, link) {
		t.Errorf("no-handle page lacks the link %s:\n%s", link, body)
	}
}

func TestConsentPageHeaders(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, newPKCE())), "alice")
	resp, body := get(t, browser, w.issuer+"/oauth/login?id="+url.QueryEscape(form.id))
	for header, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q, want default-src 'none' and frame-ancestors 'none'", csp)
	}
	for _, want := range []string{`<html lang="en">`, "<legend>", `<label for="identity-`, "Web App", "rp.test"} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "<script") {
		t.Error("consent page loads external assets or scripts")
	}
}

func TestConsentPageClientNamedAfterHost(t *testing.T) {
	t.Parallel()
	const host = "127.0.0.1:8444"
	redirect := "https://" + host + "/.dnshandle/callback"
	w := newWorld(t, func(c *oidc.Config) {
		c.StaticClients = append(c.StaticClients, oidc.ClientConfig{ID: "proxy", Secret: confidentialSecret, RedirectURIs: []string{redirect}, Name: host})
	})
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(codeParams("proxy", redirect, newPKCE())), "alice")
	_, body := get(t, browser, w.issuer+"/oauth/login?id="+url.QueryEscape(form.id))

	want := "<strong>" + host + "</strong> asks who you are."
	if !strings.Contains(body, want) {
		t.Errorf("consent page lacks %q:\n%s", want, body)
	}
	if strings.Contains(body, host+"</strong> at <code>"+host) {
		t.Errorf("consent page names the host twice:\n%s", body)
	}
}

func TestPromptNone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	params := codeParams(confidentialID, rpRedirect, newPKCE())
	params.Set("prompt", "none")
	browser := w.browser()
	resp, _ := get(t, browser, w.authorizeURL(params))
	resp, body := get(t, browser, location(t, resp).String())
	wantRedirectError(t, w, resp, body, rpRedirect, params.Get("state"), "login_required")

	// Signed in, but nothing approved for the client yet.
	w.login(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, newPKCE())), "alice")
	resp, _ = get(t, browser, w.authorizeURL(params))
	resp, body = get(t, browser, location(t, resp).String())
	wantRedirectError(t, w, resp, body, rpRedirect, params.Get("state"), "consent_required")

	// After an approval, prompt=none returns a code at once.
	form := w.login(t, browser, w.authorizeURL(codeParams(confidentialID, rpRedirect, newPKCE())), "alice")
	w.approve(t, browser, form, "work.dhp.test")
	p := newPKCE()
	params = codeParams(confidentialID, rpRedirect, p)
	params.Set("prompt", "none")
	resp, _ = get(t, browser, w.authorizeURL(params))
	resp, _ = get(t, browser, location(t, resp).String())
	callback := location(t, resp)
	if callback.Query().Get("code") == "" || callback.Query().Get("iss") != w.issuer {
		t.Fatalf("prompt=none after approval redirected to %s, want a code and iss", callback)
	}
	resp, body = w.exchange(t, callback.Query().Get("code"), p)
	decodeTokens(t, resp, body)
}
