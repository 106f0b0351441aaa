package web_test

import (
	"crypto/tls"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/dnshandle/dnshandle/provider/oidc"
	"github.com/dnshandle/dnshandle/provider/web"
)

// Client of the OpenID provider in oidcWorld.
const (
	oidcClientID = "site"
	oidcRedirect = "https://site.test/callback"
)

// oidcWorld is a world whose server also mounts the OpenID provider, with
// the pages as its Sessions, as dnshandle serve does.
func oidcWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{}
	web.TLSClientAuth(srv.TLS)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	op, err := oidc.New(t.Context(), oidc.Config{
		Issuer: srv.URL, Store: w.svc.Store, Sealer: w.svc.Sealer, Sessions: w.web,
		StaticClients: []oidc.ClientConfig{{ID: oidcClientID, Public: true, RedirectURIs: []string{oidcRedirect}, Name: "Site"}},
		Now:           w.clock.Now, CleanupInterval: -1,
	})
	if err != nil {
		t.Fatalf("oidc.New: %v", err)
	}
	for _, p := range op.Patterns() {
		mux.Handle(p, w.web.KeepSession(op.Handler()))
	}
	mux.Handle("/", w.web.Handler())
	w.srv = srv
	return w
}

// authorize sends b to the authorization endpoint with extra parameters
// and returns the path of the login step it is redirected to.
func (b *browser) authorize(extra url.Values) string {
	b.t.Helper()
	v := oauth2.GenerateVerifier()
	params := url.Values{
		"client_id": {oidcClientID}, "redirect_uri": {oidcRedirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"},
	}
	for k, values := range extra {
		params[k] = values
	}
	resp := b.get("/oauth/authorize?" + params.Encode())
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path != "/oauth/login" {
		b.t.Fatalf("authorization: %s to %q, want a redirect to the login step:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
	}
	return loc.RequestURI()
}

// follow returns the Location of a 303 response, and fails the test for
// any other response.
func follow(t *testing.T, resp *response, what string) string {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s: %s, want 303:\n%s", what, resp.Status, resp.Body)
	}
	return resp.Header.Get("Location")
}

var hrefPattern = regexp.MustCompile(`href="(/identities/new[^"]*)"`)

// approveConsent posts the consent form of page for its preselected
// handle and returns the redirect to the site.
func (b *browser) approveConsent(page string) *url.URL {
	b.t.Helper()
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(page)
	identity := regexp.MustCompile(`name="identity" value="(\d+)" checked`).FindStringSubmatch(page)
	token := csrfPattern.FindStringSubmatch(page)
	if id == nil || identity == nil || token == nil {
		b.t.Fatalf("not a consent page:\n%s", page)
	}
	resp := b.post("/oauth/login", url.Values{"id": {html.UnescapeString(id[1])}, "identity": {identity[1]},
		"csrf": {html.UnescapeString(token[1])}, "action": {"approve"}})
	loc, err := url.Parse(follow(b.t, resp, "approval"))
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// TestOIDCSignUpKeepsWayBack creates an account and a hosted handle from
// the sign-in page of an OpenID request, and ends at the consent page of
// that request.
func TestOIDCSignUpKeepsWayBack(t *testing.T) {
	t.Parallel()
	w := oidcWorld(t)
	b := w.browser()
	login := b.authorize(nil)

	signIn := follow(t, b.get(login), "login step without a session")
	signUpLink := hrefOf(t, b.get(signIn).Body, `/signup?next=`)
	back := follow(t, b.submit(signUpLink, "/signup", url.Values{"name": {"carol"}, "password": {testPassword},
		"password_repeat": {testPassword}, "next": {login}}), "sign-up")
	if back != login {
		t.Fatalf("sign-up went to %q, want back to the login step %q", back, login)
	}

	noHandle := b.get(back)
	m := hrefPattern.FindStringSubmatch(noHandle.Body)
	if noHandle.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("login step for a new account: %s, want the page that links to the handle form:\n%s", noHandle.Status, noHandle.Body)
	}
	handleForm := html.UnescapeString(m[1])
	back = follow(t, b.submit(handleForm, "/identities", url.Values{"kind": {"hosted"}, "name": {"carol"}, "zone": {"dhp.test"},
		"next": {login}}), "handle creation")
	if back != login {
		t.Fatalf("handle creation went to %q, want back to the login step %q", back, login)
	}

	consent := b.get(back)
	if consent.StatusCode != http.StatusOK || !strings.Contains(consent.Body, "@carol.dhp.test") {
		t.Fatalf("login step after sign-up: %s, want the consent page with @carol.dhp.test:\n%s", consent.Status, consent.Body)
	}
	callback := b.approveConsent(consent.Body)
	if callback.Query().Get("code") == "" || callback.Query().Get("state") != "s" {
		t.Errorf("approval redirected to %s, want a code and the state", callback)
	}
}

// hrefOf returns the first link of page that starts with prefix, in the
// form a browser requests it.
func hrefOf(t *testing.T, page, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(`href="(` + regexp.QuoteMeta(prefix) + `[^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page has no link that starts with %s:\n%s", prefix, page)
	}
	u, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// TestOIDCPromptLoginSignsInAgain runs prompt=login against the real
// pages: a signed-in person gets the sign-in form, and after signing in
// the request goes on to the consent page.
func TestOIDCPromptLoginSignsInAgain(t *testing.T) {
	t.Parallel()
	w := oidcWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	b.createHosted("alice")
	old := b.sessionCookie()
	w.clock.Advance(time.Minute)

	login := b.authorize(url.Values{"prompt": {"login"}})
	signIn := follow(t, b.get(login), "login step with prompt=login")
	if want := w.web.ReauthenticateURL(login); signIn != want {
		t.Fatalf("login step with prompt=login went to %q, want %q", signIn, want)
	}
	back := follow(t, b.submit(signIn, "/signin", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {login}}), "new sign-in")
	if back != login {
		t.Fatalf("new sign-in went to %q, want the login step %q", back, login)
	}
	consent := b.get(back)
	if consent.StatusCode != http.StatusOK || !strings.Contains(consent.Body, "@alice.dhp.test") {
		t.Fatalf("login step after the new sign-in: %s, want the consent page:\n%s", consent.Status, consent.Body)
	}
	if b.sessionCookie() == old {
		t.Error("the new sign-in kept the old session")
	}
	b.approveConsent(consent.Body)
}
