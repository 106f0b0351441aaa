package web_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/provider"
	"github.com/dnshandle/dnshandle/provider/dnsserver"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/web"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// clock is a settable clock for the pages' session and rate-limit times.
// It starts at the real time so that certificates made in the test are
// valid at it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// world is a provider on a fresh SQLite store with the zone dhp.test.
// served by its own authoritative DNS server, an own domain example.com.
// served by a test DNS server without DNSSEC, and the pages behind an
// HTTPS test server that requests client certificates.
type world struct {
	t        *testing.T
	svc      *provider.Service
	web      *web.Web
	srv      *httptest.Server
	clock    *clock
	ownZone  *dnstest.Zone
	verifier *verify.Verifier
}

// worldOptions changes the pages' configuration before New.
type worldOptions func(*web.Config)

func newWorld(t *testing.T, opts ...worldOptions) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, clock: &clock{t: time.Now()}}

	cfg := &provider.Config{DataDir: t.TempDir(), DNS: provider.DNSConfig{Zones: []provider.ZoneConfig{{Name: "dhp.test"}}}}
	cfg.ACME.BaseURL = "https://dhp.test/acme"
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, cfg.DataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	sealer, err := store.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	w.svc = &provider.Service{Store: st, Sealer: sealer, Signer: &dnsserver.Signer{Store: st, Sealer: sealer}, Config: cfg}
	if _, err := w.svc.EnsureZones(ctx); err != nil {
		t.Fatal(err)
	}

	w.ownZone = dnstest.MustZone(t, "example.com.", "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60")
	own := dnstest.Start(t, w.ownZone)
	w.svc.Resolver, err = resolve.New(resolve.Config{Servers: []string{own.Addr}, Policy: resolve.AcceptInsecure, Cache: resolve.CacheConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	w.verifier = &verify.Verifier{Resolver: w.providerResolver()}

	wc := web.Config{
		Provider: w.svc, Store: st, Verifier: w.verifier, Zones: []string{"dhp.test."},
		ACMEDirectoryURL: "https://dhp.test/acme/directory", Now: w.clock.Now,
	}
	for _, o := range opts {
		o(&wc)
	}
	if w.web, err = web.New(wc); err != nil {
		t.Fatalf("web.New: %v", err)
	}

	w.srv = httptest.NewUnstartedServer(w.web.Handler())
	w.srv.TLS = &tls.Config{}
	web.TLSClientAuth(w.srv.TLS)
	w.srv.StartTLS()
	t.Cleanup(w.srv.Close)
	return w
}

// providerResolver starts the provider's DNS server and returns a
// validating resolver for it, with the zone's DS as trust anchor.
func (w *world) providerResolver() *resolve.Resolver {
	t := w.t
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := dnsserver.NewServer(w.svc.Store, dnsserver.Config{Addr: "127.0.0.1:0", Zones: []string{"dhp.test."}, SerialRefresh: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	ds, err := w.svc.Signer.DS(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	anchors := make([]dns.RR, len(ds))
	for i, d := range ds {
		anchors[i] = d
	}
	r, err := resolve.New(resolve.Config{Servers: []string{srv.Addr()}, TrustAnchors: anchors, Cache: resolve.CacheConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// browser is an HTTPS client with a cookie jar that does not follow
// redirects, so tests see each 303 and its Location.
type browser struct {
	t    *testing.T
	w    *world
	c    *http.Client
	jar  *cookiejar.Jar
	base string
}

// browser returns a new client of the world's server; certs are the
// client certificates it offers when asked.
func (w *world) browser(certs ...tls.Certificate) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		w.t.Fatal(err)
	}
	transport := w.srv.Client().Transport.(*http.Transport).Clone()
	transport.TLSClientConfig = transport.TLSClientConfig.Clone()
	transport.TLSClientConfig.Certificates = certs
	c := &http.Client{
		Transport: transport, Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &browser{t: w.t, w: w, c: c, jar: jar, base: w.srv.URL}
}

// response is a finished response with its body read.
type response struct {
	*http.Response
	Body string
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read the body: %v", req.Method, req.URL.Path, err)
	}
	return &response{Response: resp, Body: string(body)}
}

func (b *browser) get(path string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends form to path as application/x-www-form-urlencoded, with the
// extra headers given as name, value pairs.
func (b *browser) post(path string, form url.Values, headers ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads path and returns the CSRF token of its forms.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	resp := b.get(path)
	m := csrfPattern.FindStringSubmatch(resp.Body)
	if m == nil {
		b.t.Fatalf("GET %s: %s, no csrf field in the page:\n%s", path, resp.Status, resp.Body)
	}
	return html.UnescapeString(m[1])
}

// submit loads formPage for its CSRF token and posts form to path with it.
func (b *browser) submit(formPage, path string, form url.Values) *response {
	b.t.Helper()
	token := b.csrf(formPage)
	form.Set("csrf", token)
	return b.post(path, form)
}

// sessionCookie returns the value of the session cookie in the jar.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == web.SessionCookie {
			return c.Value
		}
	}
	return ""
}

// signUp creates the account name with password through the sign-up page
// and leaves b signed in.
func (b *browser) signUp(name, password string) {
	b.t.Helper()
	resp := b.submit("/signup", "/signup", url.Values{"name": {name}, "password": {password}, "password_repeat": {password}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		b.t.Fatalf("sign up %s: %s to %q, want 303 to /:\n%s", name, resp.Status, resp.Header.Get("Location"), resp.Body)
	}
}

// signIn signs b in with a password and fails the test unless it works.
func (b *browser) signIn(name, password string) {
	b.t.Helper()
	resp := b.submit("/signin", "/signin", url.Values{"name": {name}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in %s: %s, want 303:\n%s", name, resp.Status, resp.Body)
	}
}

// createHosted creates the hosted handle name.dhp.test for the signed-in
// account.
func (b *browser) createHosted(name string) string {
	b.t.Helper()
	resp := b.submit("/identities/new", "/identities", url.Values{"kind": {"hosted"}, "name": {name}, "zone": {"dhp.test"}})
	h := name + ".dhp.test"
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/identities/"+h {
		b.t.Fatalf("create %s: %s to %q:\n%s", h, resp.Status, resp.Header.Get("Location"), resp.Body)
	}
	return h
}

// wantRedirectToSignIn fails unless resp sends the browser to sign in.
func wantRedirectToSignIn(t *testing.T, resp *response) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("%s to %q, want 303 to the sign-in page", resp.Status, resp.Header.Get("Location"))
	}
}

const testPassword = "correct horse battery staple"
