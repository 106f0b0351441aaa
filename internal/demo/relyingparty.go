package demo

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/oidclogin"
	"github.com/dnshandle/dnshandle/proxy"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// relyingParty is a small web application behind `dnshandle proxy`'s
// front (package proxy): visitors log in with a device certificate or,
// without one, through "sign in with your DNS handle" over OIDC.
type relyingParty struct {
	url      string
	serverCA *x509.Certificate

	stop func()
	app  *http.Server

	mu      sync.Mutex
	lastID  *verify.Identity
	lastErr error
}

// startRelyingParty serves the application on a loopback port and the
// proxy in front of it on another, with a verifier that resolves handles
// through resolver. OIDC logins resolve at dnsAddr, validated from
// anchors, and fetch the provider's documents with providerClient, which
// also fetches the CRLs named in device certificates.
func startRelyingParty(ctx context.Context, resolver verify.HandleResolver, dnsAddr string, anchors []dns.RR, providerClient *http.Client) (*relyingParty, error) {
	cert, ca, err := serverCertificate()
	if err != nil {
		return nil, err
	}
	rp := &relyingParty{serverCA: ca}

	appListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rp.app = &http.Server{Handler: http.HandlerFunc(rp.serveApp), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rp.app.Serve(appListener) }()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = rp.app.Close()
		return nil, err
	}
	rp.url = "https://" + listener.Addr().String() + "/"

	// The OIDC login resolves the handle twice, the second time after the
	// code exchange: it must see fresh answers, so its resolver has no cache.
	fresh, err := resolve.New(resolve.Config{Servers: []string{dnsAddr}, TrustAnchors: anchors, Cache: resolve.CacheConfig{Disabled: true}})
	if err != nil {
		return nil, err
	}
	login, err := oidclogin.New(oidclogin.Config{
		BaseURL: "https://" + listener.Addr().String(), Resolver: fresh, HTTPClient: providerClient,
		ClientName: "dnshandle demo site", SessionKey: randomKey(),
	})
	if err != nil {
		return nil, err
	}
	v := &verify.Verifier{Resolver: resolver, CRLs: &verify.CRLFetcher{
		Client: providerClient,
		// Fetch at every login, so that the demo's revocation shows at
		// the next request. The default keeps a CRL for up to an hour,
		// or for the provider's Cache-Control max-age.
		RefreshInterval: -1,
	}}
	v.RequestError = func(_ *http.Request, err error) {
		rp.mu.Lock()
		rp.lastErr = err
		rp.mu.Unlock()
	}
	front, err := proxy.New(proxy.Config{
		Upstream: &url.URL{Scheme: "http", Host: appListener.Addr().String()},
		Verifier: v, Realm: "dnshandle demo",
		Login: login.Handler(), SessionIdentity: login.Identity,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = front.Serve(ctx, listener, &tls.Config{Certificates: []tls.Certificate{cert}})
	}()
	rp.stop = func() {
		cancel()
		<-done
		_ = rp.app.Close()
	}
	return rp, nil
}

// serveApp is the application: it trusts the identity headers, which only
// the proxy can set.
func (rp *relyingParty) serveApp(w http.ResponseWriter, r *http.Request) {
	id := &verify.Identity{
		Handle: handle.Handle(r.Header.Get(proxy.HeaderHandle)),
		DID:    r.Header.Get(proxy.HeaderDID), Device: r.Header.Get(proxy.HeaderDevice),
		Method: r.Header.Get(proxy.HeaderMethod),
	}
	rp.mu.Lock()
	rp.lastID = id
	rp.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, appPage, html.EscapeString(id.Handle.Display()), html.EscapeString(id.DID), html.EscapeString(id.Method))
}

// appTitle is the title and the heading of the application's page.
const appTitle = "demo site"

// appPage is the application's page; its paragraph names the identity.
const appPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>` + appTitle + `</title></head>
<body>
<main>
<h1>` + appTitle + `</h1>
<p>signed in as %s (%s) with %s</p>
</main>
</body>
</html>
`

func (rp *relyingParty) close() { rp.stop() }

func (rp *relyingParty) lastIdentity() *verify.Identity {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.lastID
}

func (rp *relyingParty) lastError() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.lastErr
}

// client returns an HTTP client that trusts the relying party's server
// certificate and presents cert (none when cert is nil), on a fresh
// connection each time.
func (rp *relyingParty) client(cert *tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(rp.serverCA)
	device := &verify.Client{Base: &tls.Config{RootCAs: roots}}
	if cert != nil {
		device.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{
		Transport: &http.Transport{DialTLSContext: device.DialTLSContext, DisableKeepAlives: true},
		Timeout:   15 * time.Second,
	}
}

// get fetches the page with cert and returns the text of its paragraph,
// which names the identity; any status but 200 is an error.
func (rp *relyingParty) get(ctx context.Context, cert *tls.Certificate) (string, error) {
	status, _, body, err := rp.fetch(ctx, cert)
	if err != nil {
		return "", err
	}
	p := &page{Body: body}
	if status != http.StatusOK {
		return "", fmt.Errorf("status %d: %.300s", status, p.text())
	}
	return strings.TrimSpace(strings.TrimPrefix(p.text(), appTitle)), nil
}

// fetch sends an API request (no Accept: text/html) with cert and returns
// the status, the WWW-Authenticate header and the body.
func (rp *relyingParty) fetch(ctx context.Context, cert *tls.Certificate) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rp.url, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := rp.client(cert).Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, err
}

func randomKey() []byte {
	key := make([]byte, oidclogin.SessionKeySize)
	_, _ = rand.Read(key) // crypto/rand.Read does not fail on supported systems
	return key
}
