package oidc_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/oidc"
	"github.com/dnshandle/dnshandle/provider/store"
)

// testPassword is the password of every test account.
const testPassword = "correct horse battery staple"

// Clients of every test world.
const (
	confidentialID       = "webapp"
	confidentialSecret   = "webapp-secret-0123456789"
	publicID             = "cli"
	rpRedirect           = "https://rp.test/callback"
	rpLogoutRedirect     = "https://rp.test/signed-out"
	publicRedirect       = "http://127.0.0.1:8765/callback"
	publicLogoutRedirect = "http://127.0.0.1:8765/signed-out"
)

var (
	passwordHashOnce sync.Once
	passwordHash     string
)

// testPasswordHash returns the argon2id hash of testPassword, computed once
// because each hash takes 64 MiB and about 100 ms.
func testPasswordHash(t *testing.T) string {
	passwordHashOnce.Do(func() {
		var err error
		passwordHash, err = store.HashPassword(testPassword)
		if err != nil {
			panic(err)
		}
	})
	return passwordHash
}

// clock is a test clock that starts at the real time and moves only when a
// test advances it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testSessions implements oidc.Sessions with a cookie that carries the
// account ID, the sign-in time in Unix seconds, a random session ID and
// an HMAC of the three. The
// sign-in handler checks the password stored for the account and takes
// the time from the world's clock. SignOut lists the cookie's session in
// the store's signed-out web sessions, as package provider/web does.
type testSessions struct {
	key   []byte
	store store.Store
	now   func() time.Time
}

const sessionCookie = "test_session"

func (s *testSessions) mac(value string) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// sessionID returns the ID under which the store lists the session of a
// cookie value as signed out.
func sessionID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// session returns the account ID and the sign-in time of the request's
// cookie, unless the session was signed out.
func (s *testSessions) session(r *http.Request) (int64, time.Time, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return 0, time.Time{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 || !hmac.Equal([]byte(parts[3]), []byte(s.mac("session:"+parts[0]+":"+parts[1]+":"+parts[2]))) {
		return 0, time.Time{}, false
	}
	if revoked, err := s.store.WebSessionRevoked(r.Context(), sessionID(c.Value)); err != nil || revoked {
		return 0, time.Time{}, false
	}
	id, err1 := strconv.ParseInt(parts[0], 10, 64)
	at, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, false
	}
	return id, time.Unix(at, 0), true
}

func (s *testSessions) Account(r *http.Request) (*store.Account, bool) {
	id, _, ok := s.session(r)
	if !ok {
		return nil, false
	}
	a, err := s.store.AccountByID(r.Context(), id)
	return a, err == nil
}

func (s *testSessions) SignedInAt(r *http.Request) (time.Time, bool) {
	_, at, ok := s.session(r)
	return at, ok
}

func (s *testSessions) SignInURL(next string) string {
	return "/signin?next=" + url.QueryEscape(next)
}

func (s *testSessions) ReauthenticateURL(next string) string {
	return "/signin?reauth=1&next=" + url.QueryEscape(next)
}

func (s *testSessions) CSRFToken(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return s.mac("csrf:" + c.Value)
}

func (s *testSessions) SignOut(w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	if _, _, ok := s.session(r); !ok {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return s.store.InTx(r.Context(), func(tx store.Tx) error {
		return tx.RevokeWebSession(r.Context(), sessionID(c.Value), s.now().Add(24*time.Hour))
	})
}

func (s *testSessions) CheckCSRF(r *http.Request) error {
	want := s.CSRFToken(r)
	got := r.PostFormValue("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errors.New("the csrf field is missing or wrong")
	}
	return nil
}

// signIn serves GET /signin with a bare page and POST /signin with a
// password check that sets the session cookie.
func (s *testSessions) signIn(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		fmt.Fprint(w, "<form method=post>sign in</form>")
		return
	}
	a, err := s.store.AccountByName(r.Context(), r.PostFormValue("name"))
	if err != nil {
		http.Error(w, "unknown account", http.StatusForbidden)
		return
	}
	ok, err := store.CheckPassword(a.PasswordHash, r.PostFormValue("password"))
	if err != nil || !ok {
		http.Error(w, "wrong password", http.StatusForbidden)
		return
	}
	id := strconv.FormatInt(a.ID, 10)
	at := strconv.FormatInt(s.now().Unix(), 10)
	// A random session ID keeps two sign-ins in one second apart, so
	// that signing out one leaves the other.
	sid := randomString()
	value := id + "." + at + "." + sid + "." + s.mac("session:"+id+":"+at+":"+sid)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// world is a provider on a loopback TLS server with accounts and clients.
type world struct {
	t        *testing.T
	srv      *httptest.Server
	issuer   string
	store    store.Store
	provider *oidc.Provider
	clock    *clock
	sessions *testSessions

	// alice owns alice.dhp.test and work.dhp.test; bob owns nothing.
	alice, bob    *store.Account
	aliceIdentity *store.Identity
	workIdentity  *store.Identity
}

// worldOption changes the Config of a new world.
type worldOption func(*oidc.Config)

// newWorld starts a provider with a fresh SQLite store.
func newWorld(t *testing.T, opts ...worldOption) *world {
	t.Helper()
	ctx := t.Context()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "oidc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kek := make([]byte, store.KEKSize)
	_, _ = rand.Read(kek)
	sealer, err := store.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}

	w := &world{t: t, store: st, clock: &clock{now: time.Now()}}
	w.sessions = &testSessions{key: []byte("test session key"), store: st, now: w.clock.Now}
	w.createAccounts()

	// The issuer is the server's URL, so the provider's handler is set
	// after the server started.
	handler := http.NotFoundHandler()
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { handler.ServeHTTP(rw, r) }))
	w.srv.StartTLS()
	t.Cleanup(w.srv.Close)
	w.issuer = w.srv.URL

	cfg := oidc.Config{
		Issuer:   w.issuer,
		Store:    st,
		Sealer:   sealer,
		Sessions: w.sessions,
		StaticClients: []oidc.ClientConfig{
			{ID: confidentialID, Secret: confidentialSecret, RedirectURIs: []string{rpRedirect}, PostLogoutRedirectURIs: []string{rpLogoutRedirect}, Name: "Web App"},
			{ID: publicID, Public: true, RedirectURIs: []string{publicRedirect}, PostLogoutRedirectURIs: []string{publicLogoutRedirect}, Name: "Command Line"},
		},
		AllowRegistration: true,
		Now:               w.clock.Now,
		CleanupInterval:   -1,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	w.provider, err = oidc.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/signin", w.sessions.signIn)
	for _, pattern := range w.provider.Patterns() {
		mux.Handle(pattern, w.provider.Handler())
	}
	handler = mux
	return w
}

func (w *world) createAccounts() {
	t := w.t
	hash := testPasswordHash(t)
	w.alice = &store.Account{Name: "alice", PasswordHash: hash}
	w.bob = &store.Account{Name: "bob", PasswordHash: hash}
	w.aliceIdentity = &store.Identity{Handle: "alice.dhp.test", DID: newDID(t), Hosted: true}
	w.workIdentity = &store.Identity{Handle: "work.dhp.test", DID: newDID(t), Hosted: true}
	err := w.store.InTx(t.Context(), func(tx store.Tx) error {
		for _, a := range []*store.Account{w.alice, w.bob} {
			if err := tx.CreateAccount(t.Context(), a); err != nil {
				return err
			}
		}
		for _, id := range []*store.Identity{w.aliceIdentity, w.workIdentity} {
			id.AccountID = w.alice.ID
			if err := tx.CreateIdentity(t.Context(), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newDID returns the did:key of a new P-256 key.
func newDID(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	did, err := handle.DIDKeyFromPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return did.String()
}

// browser returns an HTTP client with a cookie jar that trusts the test
// server and does not follow redirects.
func (w *world) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return &http.Client{Jar: jar, Transport: w.srv.Client().Transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// apiClient returns an HTTP client without cookies for back-channel calls.
func (w *world) apiClient() *http.Client {
	return &http.Client{Transport: w.srv.Client().Transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get sends a GET and returns the response with its body read.
func get(t *testing.T, c *http.Client, target string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return resp, readBody(t, resp)
}

// postForm sends a form and returns the response with its body read.
func postForm(t *testing.T, c *http.Client, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(target, form)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	return resp, readBody(t, resp)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// location returns the absolute Location of a redirect response.
func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		t.Fatalf("response %s from %s, want a redirect", resp.Status, resp.Request.URL)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("redirect without a good Location: %v", err)
	}
	return loc
}

// oauthErrorOf decodes an OAuth error body.
func oauthErrorOf(t *testing.T, body string) (code, description string) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("body %q is not an OAuth error: %v", body, err)
	}
	return e.Error, e.Description
}

// wantOAuthError checks the status and error code of a JSON error response.
func wantOAuthError(t *testing.T, resp *http.Response, body string, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %s, want %d (body %s)", resp.Status, status, body)
	}
	if got, desc := oauthErrorOf(t, body); got != code {
		t.Errorf("error %q (%s), want %q", got, desc, code)
	}
}

var (
	csrfField     = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	idField       = regexp.MustCompile(`name="id" value="([^"]*)"`)
	identityRadio = regexp.MustCompile(`<input type="radio" id="identity-\d+" name="identity" value="(\d+)"( checked)? required><label[^>]*>@([^<]+)</label>`)
)

// consentForm is what a test reads from the consent page.
type consentForm struct {
	id, csrf string
	// handles maps each offered handle to its identity ID.
	handles map[string]string
	// selected is the preselected handle.
	selected string
}

func parseConsent(t *testing.T, page string) consentForm {
	t.Helper()
	f := consentForm{handles: map[string]string{}}
	if m := csrfField.FindStringSubmatch(page); m != nil {
		f.csrf = html.UnescapeString(m[1])
	}
	if m := idField.FindStringSubmatch(page); m != nil {
		f.id = html.UnescapeString(m[1])
	}
	for _, m := range identityRadio.FindAllStringSubmatch(page, -1) {
		f.handles[m[3]] = m[1]
		if m[2] != "" {
			f.selected = m[3]
		}
	}
	if f.id == "" || f.csrf == "" || len(f.handles) == 0 {
		t.Fatalf("the page is not a consent form:\n%s", page)
	}
	return f
}

// login walks the browser from an authorization URL to the consent page,
// signing in as name on the way when needed, and returns the form.
func (w *world) login(t *testing.T, browser *http.Client, authorizeURL, name string) consentForm {
	t.Helper()
	resp, body := get(t, browser, authorizeURL)
	loginURL := location(t, resp)
	if loginURL.Path != "/oauth/login" {
		t.Fatalf("authorization redirected to %s (body %s), want the login step", loginURL, body)
	}
	resp, body = get(t, browser, loginURL.String())
	if resp.StatusCode == http.StatusSeeOther {
		signIn := location(t, resp)
		if signIn.Path != "/signin" {
			t.Fatalf("login step redirected to %s, want /signin", signIn)
		}
		resp, _ = postForm(t, browser, w.issuer+"/signin", url.Values{"name": {name}, "password": {testPassword}, "next": {signIn.Query().Get("next")}})
		back := location(t, resp)
		resp, body = get(t, browser, back.String())
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login step answered %s: %s", resp.Status, body)
	}
	return parseConsent(t, body)
}

// approve posts the consent form for the handle and returns the redirect
// to the client.
func (w *world) approve(t *testing.T, browser *http.Client, f consentForm, handle string) *url.URL {
	t.Helper()
	identity, ok := f.handles[handle]
	if !ok {
		t.Fatalf("the consent form offers %v, not %s", f.handles, handle)
	}
	resp, body := postForm(t, browser, w.issuer+"/oauth/login", url.Values{"id": {f.id}, "csrf": {f.csrf}, "identity": {identity}, "action": {"approve"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval answered %s: %s", resp.Status, body)
	}
	return location(t, resp)
}

// pkce is a PKCE verifier and its S256 challenge.
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	v := oauth2.GenerateVerifier()
	return pkce{verifier: v, challenge: oauth2.S256ChallengeFromVerifier(v)}
}

// authorizeURL builds an authorization request URL.
func (w *world) authorizeURL(params url.Values) string {
	return w.issuer + "/oauth/authorize?" + params.Encode()
}

// codeParams returns the parameters of a typical authorization request.
func codeParams(clientID, redirectURI string, p pkce) url.Values {
	return url.Values{
		"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid profile offline_access"}, "state": {"state-" + randomString()}, "nonce": {"nonce-" + randomString()},
		"code_challenge": {p.challenge}, "code_challenge_method": {"S256"},
	}
}

func randomString() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// dpopKey makes DPoP proofs with one P-256 key.
type dpopKey struct {
	key *ecdsa.PrivateKey
	jkt string
	now func() time.Time
}

func newDPoPKey(t *testing.T, now func() time.Time) *dpopKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key.Public()}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{key: key, jkt: base64.RawURLEncoding.EncodeToString(thumb), now: now}
}

// proof returns a proof for the method and URL with the nonce and, when
// accessToken is not empty, its ath.
func (k *dpopKey) proof(t *testing.T, method, target, nonce, accessToken string) string {
	t.Helper()
	claims := map[string]any{"jti": randomString(), "htm": method, "htu": target, "iat": k.now().Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return signProof(t, jose.ES256, k.key, claims)
}

// signProof signs claims as a DPoP proof with an embedded public key.
func signProof(t *testing.T, alg jose.SignatureAlgorithm, key any, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return compact
}

// tokenResponse is the JSON of a successful token response.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int    `json:"expires_in"`
}

// post sends a form with headers to an endpoint of the world.
func (w *world) post(t *testing.T, path string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := w.apiClient().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp, readBody(t, resp)
}

// nonce fetches a fresh DPoP nonce from the token endpoint.
func (w *world) nonce(t *testing.T) string {
	t.Helper()
	resp, _ := w.post(t, "/oauth/token", url.Values{}, nil)
	n := resp.Header.Get("DPoP-Nonce")
	if n == "" {
		t.Fatal("the token endpoint sent no DPoP-Nonce header")
	}
	return n
}

// tokenWithDPoP sends a token request with a fresh proof of key, and
// returns the response.
func (w *world) tokenWithDPoP(t *testing.T, key *dpopKey, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	if header == nil {
		header = http.Header{}
	}
	header.Set("DPoP", key.proof(t, http.MethodPost, w.issuer+"/oauth/token", w.nonce(t), ""))
	return w.post(t, "/oauth/token", form, header)
}

// decodeTokens decodes a successful token response.
func decodeTokens(t *testing.T, resp *http.Response, body string) tokenResponse {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token response %s: %s", resp.Status, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal([]byte(body), &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// basicAuth returns the Authorization header of the confidential client.
func basicAuth() http.Header {
	h := http.Header{}
	req := &http.Request{Header: h}
	req.SetBasicAuth(confidentialID, confidentialSecret)
	return h
}

// userinfo calls the userinfo endpoint with the header and returns the
// response.
func (w *world) userinfo(t *testing.T, authorization, proof string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, w.issuer+"/oauth/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := w.apiClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

// codeFlow runs an authorization request of the confidential client with
// the params through sign-in and approval of handle, and returns the
// redirect to the client.
func (w *world) codeFlow(t *testing.T, params url.Values, handle string) *url.URL {
	t.Helper()
	browser := w.browser()
	form := w.login(t, browser, w.authorizeURL(params), "alice")
	return w.approve(t, browser, form, handle)
}

// exchange redeems a code of the confidential client without DPoP.
func (w *world) exchange(t *testing.T, code string, p pkce) (*http.Response, string) {
	t.Helper()
	return w.post(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpRedirect}, "code_verifier": {p.verifier}}, basicAuth())
}
