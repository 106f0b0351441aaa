package proxy

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/internal/interop"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// identity is a handle with its CSC, made in the test as a provider makes
// it.
type identity struct {
	h   handle.Handle
	csc *pki.CSC
}

func newIdentity(tb testing.TB, h handle.Handle) *identity {
	tb.Helper()
	csc, err := pki.NewCSC(nil, h, pki.CSCOptions{})
	if err != nil {
		tb.Fatalf("NewCSC(%s): %v", h, err)
	}
	return &identity{h: h, csc: csc}
}

func (id *identity) zoneText() string {
	return records.HandleRecords{Handle: id.h, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(id.csc.Certificate)}, DID: id.csc.DID.String()}.ZoneText()
}

// device is a device key and its certificate chain [leaf, CSC].
type device struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

// issue makes a device certificate under the identity's CSC.
func (id *identity) issue(tb testing.TB, label string) *device {
	tb.Helper()
	key, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		tb.Fatal(err)
	}
	csrDER, err := pki.CreateCSR(nil, key, id.h)
	if err != nil {
		tb.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := pki.IssueDevice(nil, id.csc, csr, pki.DeviceOptions{Label: label})
	if err != nil {
		tb.Fatal(err)
	}
	return &device{key: key, chain: []*x509.Certificate{leaf, id.csc.Certificate}}
}

func (d *device) tlsCertificate() tls.Certificate {
	cert := tls.Certificate{PrivateKey: d.key, Leaf: d.chain[0]}
	for _, c := range d.chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert
}

// world is a signed DNS tree on loopback with alice.dhp.test and
// bob.dhp.test, a device of each, a device of bob that his CSC revoked, and
// a device for alice.dhp.test under a CSC that no TLSA record accredits.
type world struct {
	dns      *dnstest.Server
	root     *dnstest.Zone
	resolver *resolve.Resolver

	alice, bob             *identity
	aliceLaptop, bobLaptop *device
	bobRevoked, foreign    *device
	crls                   map[string][]byte // CSC subject -> CRL
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	w := &world{alice: newIdentity(tb, "alice.dhp.test"), bob: newIdentity(tb, "bob.dhp.test"), crls: map[string][]byte{}}
	w.aliceLaptop = w.alice.issue(tb, "laptop")
	w.bobLaptop = w.bob.issue(tb, "laptop")
	w.bobRevoked = w.bob.issue(tb, "stolen phone")
	w.foreign = newIdentity(tb, "alice.dhp.test").issue(tb, "forged")

	now := time.Now()
	crl, err := pki.CreateCRL(nil, w.bob.csc, []pki.RevokedCert{{Serial: w.bobRevoked.chain[0].SerialNumber, RevokedAt: now.Add(-time.Minute), Reason: pki.ReasonKeyCompromise}},
		big.NewInt(1), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	w.crls[w.bob.csc.Certificate.Subject.String()] = crl

	w.root = dnstest.MustZone(tb, ".")
	tld := dnstest.MustZone(tb, "test.")
	dhp := dnstest.MustZone(tb, "dhp.test.", w.alice.zoneText(), w.bob.zoneText())
	if err := dnstest.SignChain(dnstest.SignOptions{}, w.root, tld, dhp); err != nil {
		tb.Fatal(err)
	}
	w.dns = dnstest.Start(tb, w.root, tld, dhp)
	w.resolver, err = resolve.New(resolve.Config{Servers: []string{w.dns.Addr}, TrustAnchors: w.root.DS()})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// verifier returns a new Verifier on the world's resolver that checks
// the CRLs of the world.
func (w *world) verifier() *verify.Verifier {
	return &verify.Verifier{
		Resolver: w.resolver,
		Timeout:  10 * time.Second,
		CRLs: verify.CRLSourceFunc(func(_ context.Context, csc *x509.Certificate) ([]byte, error) {
			return w.crls[csc.Subject.String()], nil
		}),
	}
}

// seen is what the upstream application received in one request.
type seen struct {
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Host    string      `json:"host"`
	Headers http.Header `json:"headers"`
}

// upstream is the application behind the proxy: it responds to every
// request with a JSON copy of it, and keeps the last one.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last *seen
}

func startUpstream(tb testing.TB) *upstream {
	tb.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &seen{Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, Headers: r.Header.Clone()}
		u.mu.Lock()
		u.last = s
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	}))
	tb.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) url(tb testing.TB) *url.URL {
	tb.Helper()
	parsed, err := url.Parse(u.srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return parsed
}

func (u *upstream) lastRequest() *seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// newTestLogger returns a JSON logger of every level that writes to w.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// front is a proxy served over TLS on loopback.
type front struct {
	proxy *Proxy
	srv   *httptest.Server
	roots *x509.CertPool
	log   *interop.LockedBuffer
}

// startProxy serves a Proxy for cfg over TLS with httptest. Upstream,
// Verifier and Logger default to the given upstream, a new world verifier
// and a JSON log in front.log.
func startProxy(tb testing.TB, w *world, up *upstream, cfg Config) *front {
	tb.Helper()
	f := &front{log: &interop.LockedBuffer{}}
	if cfg.Upstream == nil {
		cfg.Upstream = up.url(tb)
	}
	if cfg.Verifier == nil {
		cfg.Verifier = w.verifier()
	}
	if cfg.Logger == nil {
		cfg.Logger = newTestLogger(f.log)
	}
	if cfg.Realm == "" {
		cfg.Realm = "test"
	}
	p, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	f.proxy = p
	f.srv = httptest.NewUnstartedServer(p)
	f.srv.TLS = p.TLSConfig(nil)
	f.srv.StartTLS()
	tb.Cleanup(f.srv.Close)
	f.roots = x509.NewCertPool()
	f.roots.AddCert(f.srv.Certificate())
	return f
}

// client returns an HTTP client that trusts the proxy and presents dev's
// certificate, or none when dev is nil. It opens a new connection for
// every request.
func (f *front) client(tb testing.TB, dev *device) *http.Client {
	tb.Helper()
	device := &verify.Client{Base: &tls.Config{RootCAs: f.roots}}
	if dev != nil {
		device.Certificates = []tls.Certificate{dev.tlsCertificate()}
	}
	c := &http.Client{Transport: &http.Transport{DialTLSContext: device.DialTLSContext, DisableKeepAlives: true}}
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

// do sends req and returns the response with its body read.
func do(tb testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	tb.Helper()
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, string(body)
}

func newRequest(tb testing.TB, target string, header http.Header) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for name, values := range header {
		// Direct map access keeps names exactly as the test wrote them,
		// as a client on the wire may send them.
		req.Header[name] = values
	}
	return req
}
