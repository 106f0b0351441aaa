package oidclogin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"
)

// The example OP's user and the client registered there for the RP.
const (
	zitadelUser     = "alice"
	zitadelPassword = "verysecure"
	zitadelClientID = "dnshandle-rp"
	zitadelSecret   = "rp-secret"
)

// zitadelOP is zitadel's example OpenID provider with its example storage
// on a loopback TLS server. Its one user has the sub aliceDID.
type zitadelOP struct {
	srv    *httptest.Server
	issuer string
}

// startZitadel starts the OP with a web client whose redirect URI is the
// callback of an RP at rpBase.
func startZitadel(tb testing.TB, rpBase string) *zitadelOP {
	tb.Helper()
	srv := httptest.NewUnstartedServer(nil)
	op := &zitadelOP{srv: srv, issuer: "https://" + srv.Listener.Addr().String()}

	// The example user store reads users from a JSON file, which lets the
	// user's ID, and with it the ID token's sub, be a DID.
	users := map[string]*storage.User{
		aliceDID: {
			ID:                aliceDID,
			Username:          zitadelUser,
			Password:          zitadelPassword,
			FirstName:         "Alice",
			LastName:          "Example",
			Email:             "alice@dhp.test",
			EmailVerified:     true,
			PreferredLanguage: language.English,
		},
	}
	data, err := json.Marshal(users)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "users.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	userStore, err := storage.StoreFromFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	clients := map[string]*storage.Client{
		zitadelClientID: storage.WebClient(zitadelClientID, zitadelSecret, rpBase+CallbackPath),
	}
	store := storage.NewStorageWithClients(userStore, clients)

	srv.Config.Handler = exampleop.SetupServer(op.issuer, store, nil, false)
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return op
}

// hiddenID finds the auth request ID in the example OP's login form.
var hiddenID = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)

// signInAtZitadel fills the example OP's login form that resp shows and
// follows the redirects back to the RP.
func signInAtZitadel(tb testing.TB, browser *http.Client, resp *http.Response, body string) (*http.Response, string) {
	tb.Helper()
	if !strings.HasSuffix(resp.Request.URL.Path, "/login/username") {
		tb.Fatalf("expected the OP's login form, got %s %s\n%s", resp.Request.URL, resp.Status, body)
	}
	m := hiddenID.FindStringSubmatch(body)
	if m == nil {
		tb.Fatalf("no auth request ID in the OP's login form:\n%s", body)
	}
	form := url.Values{"id": {m[1]}, "username": {zitadelUser}, "password": {zitadelPassword}}
	target := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	next, err := browser.PostForm(target.String(), form)
	if err != nil {
		tb.Fatalf("POST %s: %v", target, err)
	}
	return next, readBody(tb, next)
}

// zitadelWorld starts an RP and the example OP and publishes handles for
// them: alice.dhp.test (did= the user's sub, oauth= the OP).
func zitadelWorld(tb testing.TB, mod func(*Config)) (*world, *rp, *zitadelOP) {
	tb.Helper()
	// The RP's address is needed for the OP's client and the OP's
	// issuer for the DNS records, so the listeners come first.
	r := newUnstartedRP()
	op := startZitadel(tb, r.base)
	w := newWorld(tb, []string{
		txt("alice.dhp.test", "did="+aliceDID, "oauth="+op.issuer),
		txt("moved.dhp.test", "did="+otherDID, "oauth="+op.issuer),
	}, nil)
	r.start(tb, w, tlsClient(op.srv), func(cfg *Config) {
		cfg.StaticClients = map[string]Client{op.issuer: {ID: zitadelClientID, Secret: zitadelSecret}}
		if mod != nil {
			mod(cfg)
		}
	})
	return w, r, op
}

func TestZitadelFullLogin(t *testing.T) {
	t.Parallel()
	_, r, op := zitadelWorld(t, nil)
	browser := newBrowser(t, r.srv)

	resp, body := r.startLogin(t, browser, "@Alice.DHP.test", "/welcome?tab=1")
	if !strings.HasPrefix(resp.Request.URL.String(), op.issuer) {
		t.Fatalf("the login did not reach the OP: %s %s\n%s", resp.Request.URL, resp.Status, body)
	}
	if hint := resp.Request.URL.Query().Get("authRequestID"); hint == "" {
		t.Fatalf("the OP's login form has no auth request: %s", resp.Request.URL)
	}

	resp, body = signInAtZitadel(t, browser, resp, body)
	view := decodeIdentity(t, resp, body)
	want := identityView{Path: "/welcome?tab=1", Handle: "alice.dhp.test", DID: aliceDID, Device: "", DNSSEC: "secure", Method: "oidc"}
	if view != want {
		t.Fatalf("identity after login = %+v, want %+v (last error: %v)", view, want, r.lastError())
	}

	// The session lasts: a later request carries the identity too.
	resp, err := browser.Get(r.base + "/later")
	if err != nil {
		t.Fatal(err)
	}
	if again := decodeIdentity(t, resp, readBody(t, resp)); again.DID != aliceDID {
		t.Fatalf("second request identity = %+v, want DID %s", again, aliceDID)
	}

	// Logout clears it and, because the OP advertises an
	// end_session_endpoint, sends the browser there with the ID token. The
	// example OP's client has no post_logout_redirect_uri, so the browser
	// ends on the OP's own page.
	var visited []*url.URL
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		visited = append(visited, req.URL)
		return nil
	}
	resp, err = browser.PostForm(r.base+LogoutPath, url.Values{"return": {"/bye"}})
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if resp.Request.URL.String() != op.issuer+"/logged-out" || body != "signed out successfully" {
		t.Fatalf("logout ended at %s with %q, want the OP's signed-out page", resp.Request.URL, body)
	}
	if len(visited) == 0 || visited[0].Path != "/end_session" {
		t.Fatalf("logout redirects %v, want the OP's end_session_endpoint first", visited)
	}
	query := visited[0].Query()
	if query.Get("id_token_hint") == "" || query.Get("client_id") != zitadelClientID || query.Has("post_logout_redirect_uri") || query.Has("state") {
		t.Errorf("end session request %s, want id_token_hint and client_id only", visited[0])
	}
	resp, err = browser.Get(r.base + "/bye")
	if err != nil {
		t.Fatal(err)
	}
	if after := decodeIdentity(t, resp, readBody(t, resp)); after.DID != "" {
		t.Fatalf("after logout = %+v, want no identity", after)
	}
}

// A handle whose did= names another identity than the one the OP signs in
// must not log in, even though the OP authenticates the user.
func TestZitadelHandleOfAnotherIdentity(t *testing.T) {
	t.Parallel()
	_, r, _ := zitadelWorld(t, nil)
	browser := newBrowser(t, r.srv)

	resp, body := r.startLogin(t, browser, "moved.dhp.test", "")
	resp, body = signInAtZitadel(t, browser, resp, body)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status = %s, want 403\n%s", resp.Status, body)
	}
	var binding *BindingError
	if err := r.lastError(); stepOf(t, err) != StepBinding || !errors.As(err, &binding) || binding.Attribute != "did" {
		t.Fatalf("error = %v, want a did binding error", err)
	}
	if !strings.Contains(body, "not the subject") {
		t.Errorf("the page does not explain the binding failure:\n%s", body)
	}
}
