package oidclogin

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// DIDs of the test identities. Each is a syntactically valid did:plc.
const (
	aliceDID = "did:plc:aliceaaaaaaaaaaaaaaaaaaa"
	otherDID = "did:plc:otherbbbbbbbbbbbbbbbbbbb"
)

// world is a loopback DNS tree ". -> test. -> dhp.test." signed with
// DNSSEC, plus the unsigned delegation insecure.test., and a validating
// resolver without a cache that trusts the root's DS.
type world struct {
	server   *dnstest.Server
	root     *dnstest.Zone
	dhp      *dnstest.Zone
	resolver *resolve.Resolver
}

// newWorld builds the zones with the given records, in presentation
// format, in dhp.test. and insecure.test.
func newWorld(tb testing.TB, signed, insecure []string) *world {
	tb.Helper()
	w := &world{
		root: dnstest.MustZone(tb, "."),
		dhp:  dnstest.MustZone(tb, "dhp.test.", signed...),
	}
	tld := dnstest.MustZone(tb, "test.")
	unsigned := dnstest.MustZone(tb, "insecure.test.", insecure...)
	if err := tld.Delegate(unsigned); err != nil {
		tb.Fatal(err)
	}
	if err := dnstest.SignChain(dnstest.SignOptions{}, w.root, tld, w.dhp); err != nil {
		tb.Fatal(err)
	}
	w.server = dnstest.Start(tb, w.root, tld, w.dhp, unsigned)

	r, err := resolve.New(resolve.Config{
		Servers:      []string{w.server.Addr},
		TrustAnchors: w.root.DS(),
		Policy:       resolve.AcceptInsecure,
		Cache:        resolve.CacheConfig{Disabled: true},
		Timeout:      5 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	w.resolver = r
	return w
}

// txt returns the _atproto TXT record of h with the given attributes,
// each in its own character-string.
func txt(h string, attrs ...string) string {
	quoted := make([]string, len(attrs))
	for i, a := range attrs {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Sprintf("_atproto.%s. 300 IN TXT %s", h, strings.Join(quoted, " "))
}

// editTXT replaces the strings of the TXT record at _atproto.<h> in
// dhp.test. and signs it again, as a DNS host does when the record is
// edited.
func (w *world) editTXT(h string, attrs ...string) error {
	name := "_atproto." + h + "."
	if err := w.dhp.Tamper(name, dns.TypeTXT, func(rr dns.RR) { rr.(*dns.TXT).Txt = attrs }); err != nil {
		return err
	}
	return w.dhp.SignRRset(name, dns.TypeTXT, dnstest.SignOptions{})
}

// rp is a relying party on a loopback TLS server: the Login's handler
// under /.dnshandle/ and an application at "/" that reports the identity
// in its request context as JSON.
type rp struct {
	srv   *httptest.Server
	login *Login
	base  string

	mu     sync.Mutex
	errors []error
}

// rpConfig returns a Config for a relying party at base on the world's
// resolver, with a random session key.
func rpConfig(w *world, base string, httpClient *http.Client) Config {
	key := make([]byte, SessionKeySize)
	rand.Read(key)
	return Config{
		BaseURL:    base,
		Resolver:   w.resolver,
		HTTPClient: httpClient,
		SessionKey: key,
		ClientName: "oidclogin test",
	}
}

// newRP starts a relying party. mod may change the Config before New.
func newRP(tb testing.TB, w *world, httpClient *http.Client, mod func(*Config)) *rp {
	tb.Helper()
	r := newUnstartedRP()
	r.start(tb, w, httpClient, mod)
	return r
}

// newUnstartedRP reserves the relying party's address, so that its base
// URL is known before its Login is configured.
func newUnstartedRP() *rp {
	srv := httptest.NewUnstartedServer(nil)
	return &rp{srv: srv, base: "https://" + srv.Listener.Addr().String()}
}

// start creates the Login and serves it.
func (r *rp) start(tb testing.TB, w *world, httpClient *http.Client, mod func(*Config)) {
	tb.Helper()
	cfg := rpConfig(w, r.base, httpClient)
	cfg.OnError = func(_ *http.Request, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.errors = append(r.errors, err)
	}
	if mod != nil {
		mod(&cfg)
	}
	login, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	r.login = login

	mux := http.NewServeMux()
	mux.Handle("/.dnshandle/", login.Handler())
	mux.Handle("/", login.Middleware(http.HandlerFunc(serveIdentity)))
	r.srv.Config.Handler = mux
	r.srv.StartTLS()
	tb.Cleanup(r.srv.Close)
}

// identityView is the JSON that the test application returns.
type identityView struct {
	Path   string `json:"path"`
	Handle string `json:"handle"`
	DID    string `json:"did"`
	Device string `json:"device"`
	DNSSEC string `json:"dnssec"`
	Method string `json:"method"`
}

func serveIdentity(w http.ResponseWriter, r *http.Request) {
	view := identityView{Path: r.URL.RequestURI()}
	if id, ok := verify.FromContext(r.Context()); ok {
		view = identityView{Path: view.Path, Handle: string(id.Handle), DID: id.DID, Device: id.Device, DNSSEC: id.DNSSEC.String(), Method: id.Method}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(view)
}

// lastError returns the last error passed to Config.OnError, nil when
// there was none.
func (r *rp) lastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errors) == 0 {
		return nil
	}
	return r.errors[len(r.errors)-1]
}

// stepOf returns the Step of err, which must be a *Error.
func stepOf(tb testing.TB, err error) Step {
	tb.Helper()
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not a *Error", err, err)
	}
	return e.Step
}

// tlsClient returns an http.Client that trusts the certificate of the
// httptest TLS servers, which all share one test certificate.
func tlsClient(srv *httptest.Server) *http.Client {
	transport := srv.Client().Transport.(*http.Transport).Clone()
	transport.TLSClientConfig.MinVersion = tls.VersionTLS12
	return &http.Client{Transport: transport, Timeout: 10 * time.Second}
}

// newBrowser returns a client with a cookie jar, like a browser.
func newBrowser(tb testing.TB, srv *httptest.Server) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := tlsClient(srv)
	c.Jar = jar
	return c
}

// startLogin posts the login form and follows the redirects. It returns
// the final response with its body read.
func (r *rp) startLogin(tb testing.TB, browser *http.Client, handleInput, returnPath string) (*http.Response, string) {
	tb.Helper()
	form := url.Values{"handle": {handleInput}}
	if returnPath != "" {
		form.Set("return", returnPath)
	}
	resp, err := browser.PostForm(r.base+LoginPath, form)
	if err != nil {
		tb.Fatalf("POST %s: %v", LoginPath, err)
	}
	return resp, readBody(tb, resp)
}

func readBody(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return string(body)
}

// decodeIdentity reads the test application's JSON.
func decodeIdentity(tb testing.TB, resp *http.Response, body string) identityView {
	tb.Helper()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		tb.Fatalf("the login did not reach the application: %s %s\n%s", resp.Request.URL, resp.Status, body)
	}
	var view identityView
	if err := json.Unmarshal([]byte(body), &view); err != nil {
		tb.Fatalf("application response %q: %v", body, err)
	}
	return view
}
