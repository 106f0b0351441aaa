package oidclogin

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// logout posts the logout form with the return path and follows the
// redirects. It returns the final response with its body read and the
// URLs the browser was redirected to.
func (r *rp) logout(tb testing.TB, browser *http.Client, returnPath string) (*http.Response, string, []*url.URL) {
	tb.Helper()
	var visited []*url.URL
	client := *browser
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		visited = append(visited, req.URL)
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}
	resp, err := client.PostForm(r.base+LogoutPath, url.Values{"return": {returnPath}})
	if err != nil {
		tb.Fatalf("POST %s: %v", LogoutPath, err)
	}
	return resp, readBody(tb, resp), visited
}

// cookieNames returns the names of the cookies the browser holds for the
// relying party.
func (r *rp) cookieNames(browser *http.Client) []string {
	u, _ := url.Parse(r.base)
	var names []string
	for _, c := range browser.Jar.Cookies(u) {
		names = append(names, c.Name)
	}
	return names
}

// TestLogoutAtProvider logs out at the site: the browser goes to the
// provider's end_session_endpoint with the ID token of the login, comes
// back to LogoutPath with the state, and ends at the return path without
// a session.
func TestLogoutAtProvider(t *testing.T) {
	t.Parallel()
	_, r, op := testOPWorld(t, testOPOptions{}, nil)
	browser := newBrowser(t, r.srv)
	resp, body := r.startLogin(t, browser, "alice.dhp.test", "/inbox")
	decodeIdentity(t, resp, body)

	resp, body, visited := r.logout(t, browser, "/bye?tab=2")
	if view := decodeIdentity(t, resp, body); view.Path != "/bye?tab=2" || view.DID != "" {
		t.Fatalf("after logout the browser is at %+v, want /bye?tab=2 without an identity", view)
	}
	if len(visited) != 3 || visited[0].Path != "/end_session" || visited[1].Path != LogoutPath {
		t.Fatalf("logout redirects %v, want the end_session_endpoint, then LogoutPath, then the return path", visited)
	}

	ends := op.snapshot().endSessions
	if len(ends) != 1 {
		t.Fatalf("end session requests = %d, want 1", len(ends))
	}
	req := ends[0]
	op.mu.Lock()
	client, issued := op.idTokens[req.Get("id_token_hint")]
	op.mu.Unlock()
	checks := []struct{ name, got, want string }{
		{"client of id_token_hint", client, req.Get("client_id")},
		{"post_logout_redirect_uri", req.Get("post_logout_redirect_uri"), r.base + LogoutPath},
		{"state returned", visited[1].Query().Get("state"), req.Get("state")},
	}
	if !issued {
		t.Errorf("id_token_hint %q is not an ID token the provider issued", req.Get("id_token_hint"))
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(req.Get("state")) != 43 {
		t.Errorf("state %q is not 32 random bytes", req.Get("state"))
	}
	if names := r.cookieNames(browser); len(names) != 0 {
		t.Errorf("cookies left after the logout: %v", names)
	}
}

// TestLogoutVariants runs logouts that end at this site or on the
// provider's page.
func TestLogoutVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts testOPOptions
		// provider is the number of end_session requests, and final
		// the page the browser ends on: "site" for the return path,
		// "provider" for the provider's page.
		provider int
		final    string
	}{
		{"provider without end_session_endpoint", testOPOptions{noEndSession: true}, 0, "site"},
		{"provider that did not register the logout URI", testOPOptions{ignorePostLogout: true}, 1, "provider"},
		{"ID token too large for the cookie", testOPOptions{mutateIDToken: func(c map[string]any) { c["padding"] = strings.Repeat("p", 4000) }}, 0, "site"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, r, op := testOPWorld(t, tc.opts, nil)
			browser := newBrowser(t, r.srv)
			resp, body := r.startLogin(t, browser, "alice.dhp.test", "/")
			decodeIdentity(t, resp, body)

			resp, body, _ = r.logout(t, browser, "/bye")
			switch tc.final {
			case "site":
				if view := decodeIdentity(t, resp, body); view.Path != "/bye" || view.DID != "" {
					t.Errorf("after logout the browser is at %+v, want /bye without an identity", view)
				}
			case "provider":
				if !strings.HasPrefix(resp.Request.URL.String(), op.issuer+"/end_session") || body != "signed out at the test provider" {
					t.Errorf("after logout the browser is at %s with %q, want the provider's page", resp.Request.URL, body)
				}
			}
			ends := op.snapshot().endSessions
			if len(ends) != tc.provider {
				t.Fatalf("end session requests = %d, want %d", len(ends), tc.provider)
			}
			if tc.provider > 0 && (ends[0].Has("post_logout_redirect_uri") || ends[0].Has("state")) {
				t.Errorf("end session request %v carries a post_logout_redirect_uri the client did not register", ends[0])
			}
			resp, err := browser.Get(r.base + "/after")
			if err != nil {
				t.Fatal(err)
			}
			if view := decodeIdentity(t, resp, readBody(t, resp)); view.DID != "" {
				t.Errorf("the session survived the logout: %+v", view)
			}
		})
	}
}

// TestLogoutStaticClient sends post_logout_redirect_uri for a static
// client only when Client.PostLogoutRedirect is set.
func TestLogoutStaticClient(t *testing.T) {
	t.Parallel()
	for _, registered := range []bool{true, false} {
		t.Run(map[bool]string{true: "registered", false: "not registered"}[registered], func(t *testing.T) {
			t.Parallel()
			op := startTestOP(t, testOPOptions{})
			w := newWorld(t, []string{txt("alice.dhp.test", "did="+aliceDID, "oauth="+op.issuer)}, nil)
			r := newUnstartedRP()
			op.clients["static"] = testClient{secret: "static-secret", redirectURI: r.base + CallbackPath, authMethod: authBasic,
				postLogoutRedirectURIs: []string{r.base + LogoutPath}}
			r.start(t, w, tlsClient(op.srv), func(cfg *Config) {
				cfg.StaticClients = map[string]Client{op.issuer: {ID: "static", Secret: "static-secret", PostLogoutRedirect: registered}}
			})
			browser := newBrowser(t, r.srv)
			resp, body := r.startLogin(t, browser, "alice.dhp.test", "/")
			decodeIdentity(t, resp, body)

			resp, body, _ = r.logout(t, browser, "/bye")
			ends := op.snapshot().endSessions
			if len(ends) != 1 || ends[0].Get("client_id") != "static" {
				t.Fatalf("end session requests %v, want one of client static", ends)
			}
			if got := ends[0].Get("post_logout_redirect_uri"); (got != "") != registered {
				t.Errorf("post_logout_redirect_uri = %q with PostLogoutRedirect %v", got, registered)
			}
			if registered {
				if view := decodeIdentity(t, resp, body); view.Path != "/bye" || view.DID != "" {
					t.Errorf("after logout the browser is at %+v, want /bye", view)
				}
			} else if body != "signed out at the test provider" {
				t.Errorf("after logout the browser is at %s with %q, want the provider's page", resp.Request.URL, body)
			}
		})
	}
}

// TestLogoutProviderUnreachable ends the session at the site only, and
// reports the failure, when the provider's discovery document cannot be
// fetched at the logout.
func TestLogoutProviderUnreachable(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	_, r, op := testOPWorld(t, testOPOptions{}, func(cfg *Config) { cfg.Now = clock })
	browser := newBrowser(t, r.srv)
	resp, body := r.startLogin(t, browser, "alice.dhp.test", "/")
	decodeIdentity(t, resp, body)

	// The cached discovery document expires, and the provider is gone.
	mu.Lock()
	now = now.Add(discoveryTTL + time.Minute)
	mu.Unlock()
	op.srv.Close()

	resp, body, visited := r.logout(t, browser, "/bye")
	if view := decodeIdentity(t, resp, body); view.Path != "/bye" || view.DID != "" {
		t.Fatalf("after logout the browser is at %+v, want /bye without an identity", view)
	}
	if len(visited) != 1 {
		t.Errorf("logout redirects %v, want the return path only", visited)
	}
	if err := r.lastError(); stepOf(t, err) != StepLogout {
		t.Errorf("reported error %v, want a StepLogout *Error", err)
	}
}

// TestLogoutReturnWrongState ends at "/" when the provider sends back a
// state that is not the one of the pending logout.
func TestLogoutReturnWrongState(t *testing.T) {
	t.Parallel()
	_, r, _ := testOPWorld(t, testOPOptions{logoutState: "forged"}, nil)
	browser := newBrowser(t, r.srv)
	resp, body := r.startLogin(t, browser, "alice.dhp.test", "/")
	decodeIdentity(t, resp, body)

	resp, body, _ = r.logout(t, browser, "/bye")
	if view := decodeIdentity(t, resp, body); view.Path != "/" || view.DID != "" {
		t.Fatalf("after a logout with a wrong state the browser is at %+v, want / without an identity", view)
	}
	err := r.lastError()
	var stateErr *LogoutStateError
	if stepOf(t, err) != StepLogout || !errors.As(err, &stateErr) || stateErr.Problem != StateMismatch {
		t.Errorf("reported error %v, want a StepLogout *LogoutStateError with StateMismatch", err)
	}
}

// TestLogoutReturnRequests sends the browser's GET to LogoutPath in ways
// a provider or an attacker could: only the sealed cookie chooses the
// target, never the query.
func TestLogoutReturnRequests(t *testing.T) {
	t.Parallel()
	l := newTestLogin(t)
	now := time.Now()
	pending := func(state, ret string, expires time.Time) *http.Cookie {
		value := l.cookies.encodeLogout(&logoutData{State: state, Return: ret, Expires: expires.Unix()})
		return &http.Cookie{Name: l.cookies.logout.name, Value: value}
	}
	tests := []struct {
		name   string
		query  string
		cookie *http.Cookie
		want   string
	}{
		{"matching state", "?state=s1", pending("s1", "/bye", now.Add(time.Minute)), "/bye"},
		{"no cookie", "?state=s1&return=https://evil.test/", nil, "/"},
		{"other state", "?state=s2", pending("s1", "/bye", now.Add(time.Minute)), "/"},
		{"repeated state", "?state=s1&state=s1", pending("s1", "/bye", now.Add(time.Minute)), "/"},
		{"no state", "", pending("s1", "/bye", now.Add(time.Minute)), "/"},
		{"expired", "?state=s1", pending("s1", "/bye", now.Add(-time.Minute)), "/"},
		{"foreign return path in the cookie", "?state=s1", pending("s1", "//evil.test/", now.Add(time.Minute)), "/"},
		{"session cookie value", "?state=s1", &http.Cookie{Name: l.cookies.logout.name,
			Value: l.cookies.encodeSession(testIdentity, "https://idp.test", now.Add(time.Hour), providerSession{})}, "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "https://rp.test"+LogoutPath+tc.query, nil)
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			rec := httptest.NewRecorder()
			l.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tc.want {
				t.Fatalf("GET %s: %d to %q, want 303 to %q", LogoutPath+tc.query, rec.Code, rec.Header().Get("Location"), tc.want)
			}
			cleared := false
			for _, c := range rec.Result().Cookies() {
				cleared = cleared || (c.Name == l.cookies.logout.name && c.MaxAge < 0)
			}
			if cleared != (tc.cookie != nil) {
				t.Errorf("pending-logout cookie cleared = %v, want %v", cleared, tc.cookie != nil)
			}
		})
	}
}

// TestSessionCookieKeepsIDToken checks that a session keeps the client
// and the ID token, and leaves out an ID token that would make the
// cookie too large.
func TestSessionCookieKeepsIDToken(t *testing.T) {
	t.Parallel()
	c := testCodec(t, 0x11, true)
	now := time.Now()
	tests := []struct {
		name, idToken, want string
	}{
		{"small", "header.payload.signature", "header.payload.signature"},
		{"too large", strings.Repeat("t", maxCookieValue), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			value := c.encodeSession(testIdentity, "https://idp.test", now.Add(time.Hour), providerSession{ClientID: "client-1", IDToken: tc.idToken})
			if len(value) > maxCookieValue {
				t.Fatalf("cookie value of %d bytes, over the %d that open", len(value), maxCookieValue)
			}
			s, id, err := c.decodeSessionData(value, now)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if id.DID != testIdentity.DID || s.ClientID != "client-1" || s.IDToken != tc.want {
				t.Errorf("session %+v, want client-1 and ID token %q", s, tc.want)
			}
		})
	}
}

// A copy of the session cookie taken before the logout opens nothing
// afterwards.
func TestLogoutEndsCopiedCookie(t *testing.T) {
	t.Parallel()
	_, r, _ := testOPWorld(t, testOPOptions{}, nil)
	browser := newBrowser(t, r.srv)
	resp, body := r.startLogin(t, browser, "alice.dhp.test", "/inbox")
	decodeIdentity(t, resp, body)
	u, _ := url.Parse(r.base)
	var saved []*http.Cookie
	for _, c := range browser.Jar.Cookies(u) {
		saved = append(saved, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	if len(saved) == 0 {
		t.Fatal("no session cookie after the login")
	}

	r.logout(t, browser, "/")

	req := httptest.NewRequest(http.MethodGet, r.base+"/", nil)
	for _, c := range saved {
		req.AddCookie(c)
	}
	if id, ok := r.login.Identity(req); ok {
		t.Errorf("the copied cookie still signs in as %s after the logout", id.Handle)
	}
}

// GET on LogoutPath while signed in leads to the page with the sign-out
// button and keeps the session.
func TestLogoutByGetShowsButton(t *testing.T) {
	t.Parallel()
	_, r, _ := testOPWorld(t, testOPOptions{}, nil)
	browser := newBrowser(t, r.srv)
	resp, body := r.startLogin(t, browser, "alice.dhp.test", "/inbox")
	decodeIdentity(t, resp, body)

	client := *browser
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(r.base + LogoutPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != LoginPath {
		t.Errorf("GET %s signed in: %s to %q, want 303 to %s", LogoutPath, resp.Status, resp.Header.Get("Location"), LoginPath)
	}
	if names := r.cookieNames(browser); len(names) == 0 {
		t.Error("GET on the logout path ended the session")
	}
}
