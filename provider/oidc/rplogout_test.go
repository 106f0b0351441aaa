package oidc_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/oidclogin"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// relyingParty is a site that signs people in with package oidclogin, on
// a loopback TLS server, and finds the provider through DNSSEC-signed
// records on a loopback DNS server: _atproto.alice.dhp.test carries alice's
// DID and oauth=<issuer>. Its page at "/" shows the signed-in handle.
type relyingParty struct {
	srv  *httptest.Server
	base string
}

func newRelyingParty(t *testing.T, w *world) *relyingParty {
	t.Helper()
	root := dnstest.MustZone(t, ".")
	tld := dnstest.MustZone(t, "test.")
	dhp := dnstest.MustZone(t, "dhp.test.",
		fmt.Sprintf("_atproto.alice.dhp.test. 300 IN TXT %q %q", "did="+w.aliceIdentity.DID, "oauth="+w.issuer))
	if err := dnstest.SignChain(dnstest.SignOptions{}, root, tld, dhp); err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Start(t, root, tld, dhp)
	resolver, err := resolve.New(resolve.Config{Servers: []string{dns.Addr}, TrustAnchors: root.DS(),
		Cache: resolve.CacheConfig{Disabled: true}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	rp := &relyingParty{srv: httptest.NewUnstartedServer(nil)}
	rp.base = "https://" + rp.srv.Listener.Addr().String()
	key := make([]byte, oidclogin.SessionKeySize)
	_, _ = rand.Read(key)
	login, err := oidclogin.New(oidclogin.Config{BaseURL: rp.base, Resolver: resolver, HTTPClient: w.apiClient(),
		SessionKey: key, ClientName: "Relying Party", OnError: func(_ *http.Request, err error) { t.Logf("relying party: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/.dnshandle/", login.Handler())
	mux.Handle("/", login.Middleware(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		who := "nobody"
		if id, ok := verify.FromContext(r.Context()); ok {
			who = string(id.Handle)
		}
		fmt.Fprintf(rw, "%s signed in at %s", who, r.URL.Path)
	})))
	rp.srv.Config.Handler = mux
	rp.srv.StartTLS()
	t.Cleanup(rp.srv.Close)
	return rp
}

// followRedirects follows the redirects of resp with GET requests, as a
// browser does, and returns the first response that is not a redirect.
func followRedirects(t *testing.T, browser *http.Client, resp *http.Response, body string) (*http.Response, string) {
	t.Helper()
	for range 10 {
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return resp, body
		}
		resp, body = get(t, browser, location(t, resp).String())
	}
	t.Fatalf("more than 10 redirects, the last to %s", resp.Header.Get("Location"))
	return nil, ""
}

// TestRelyingPartyLogout runs a login of package oidclogin against the
// provider, then a logout at the relying party. The relying party ends its
// session and sends the browser through the end-session endpoint with its
// ID token, which ends the provider's web session and revokes the grant,
// and back to the relying party's return path with the state.
func TestRelyingPartyLogout(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newRelyingParty(t, w)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := w.browser()
	browser.Jar = jar

	// Login: the site sends the browser to the provider, where alice signs
	// in and approves the handle.
	resp, body := postForm(t, browser, rp.base+oidclogin.LoginPath, url.Values{"handle": {"alice.dhp.test"}, "return": {"/inbox"}})
	resp, body = followRedirects(t, browser, resp, body)
	if resp.Request.URL.Path != "/signin" {
		t.Fatalf("the login went to %s, want the provider's sign-in page:\n%s", resp.Request.URL, body)
	}
	resp, _ = postForm(t, browser, w.issuer+"/signin", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {resp.Request.URL.Query().Get("next")}})
	_, body = followRedirects(t, browser, resp, "")
	callback := w.approve(t, browser, parseConsent(t, body), "alice.dhp.test")
	resp, body = get(t, browser, callback.String())
	_, body = followRedirects(t, browser, resp, body)
	if body != "alice.dhp.test signed in at /inbox" {
		t.Fatalf("after the login the site shows %q", body)
	}

	// Logout at the site.
	resp, _ = postForm(t, browser, rp.base+oidclogin.LogoutPath, url.Values{"return": {"/bye"}})
	end := location(t, resp)
	if end.Path != "/oauth/end_session" || end.Query().Get("id_token_hint") == "" || end.Query().Get("post_logout_redirect_uri") != rp.base+oidclogin.LogoutPath {
		t.Fatalf("the logout went to %s, want the end-session endpoint with id_token_hint and post_logout_redirect_uri", end)
	}
	resp, body = get(t, browser, end.String())
	back := location(t, resp)
	if back.Path != oidclogin.LogoutPath || back.Query().Get("state") != end.Query().Get("state") {
		t.Fatalf("the end-session endpoint sent the browser to %s, want %s with state %q", back, oidclogin.LogoutPath, end.Query().Get("state"))
	}
	_, body = followRedirects(t, browser, resp, body)
	if body != "nobody signed in at /bye" {
		t.Fatalf("after the logout the site shows %q", body)
	}

	if w.signedIn(t, browser) {
		t.Error("the browser is still signed in at the provider")
	}
	// The ID token names its grant in sid: the grant, with the site's
	// access token, is revoked.
	sid, _ := claimsOf(t, end.Query().Get("id_token_hint"))["sid"].(string)
	grant, err := w.store.OIDCAuthRequest(t.Context(), sid)
	if err != nil {
		t.Fatalf("the grant %q of the ID token: %v", sid, err)
	}
	if grant.RevokedAt.IsZero() || grant.ClientID != end.Query().Get("client_id") {
		t.Errorf("grant %+v of the site's client %s is not revoked", grant, end.Query().Get("client_id"))
	}
	entries, err := w.store.Audit(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "oidc.logout" || entries[0].Subject != "alice.dhp.test" {
		t.Errorf("newest audit entries %+v, want the logout", entries)
	}
}
