package verify

import (
	"context"
	"crypto/x509"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// fakeClock is a clock that moves only when the test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// crlServer is a CRL distribution point over HTTPS on loopback. Every
// path but /moved serves the response the test set last; /moved
// redirects to /crl.
type crlServer struct {
	srv *httptest.Server

	mu           sync.Mutex
	status       int
	body         []byte
	cacheControl string
	chunked      bool
	block        chan struct{} // when set, requests wait until it is closed
	requests     int
}

func startCRLServer(tb testing.TB) *crlServer {
	tb.Helper()
	s := &crlServer{status: http.StatusOK}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *crlServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/moved" {
		http.Redirect(w, r, "/crl", http.StatusMovedPermanently)
		return
	}
	s.mu.Lock()
	s.requests++
	status, body, cacheControl, chunked, block := s.status, s.body, s.cacheControl, s.chunked, s.block
	s.mu.Unlock()
	if block != nil {
		<-block
	}

	w.Header().Set("Content-Type", "application/pkix-crl")
	if cacheControl != "" {
		w.Header().Set("Cache-Control", cacheControl)
	}
	if !chunked {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if !chunked {
		_, _ = w.Write(body)
		return
	}
	// Two writes with a flush between them send the body chunked,
	// without a Content-Length.
	half := len(body) / 2
	_, _ = w.Write(body[:half])
	w.(http.Flusher).Flush()
	_, _ = w.Write(body[half:])
}

// set makes the server respond with status and body from now on.
func (s *crlServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func (s *crlServer) setCacheControl(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cacheControl = value
}

func (s *crlServer) setChunked(chunked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunked = chunked
}

func (s *crlServer) setBlock(block chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = block
}

func (s *crlServer) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// crlWorld is one identity, alice.dhp.test, in a signed zone on loopback,
// whose device certificates name a crlServer as their CRL distribution
// point, and a fake clock for the CRLs, the Verifier and the fetcher.
type crlWorld struct {
	clock    *fakeClock
	dp       *crlServer
	resolver *resolve.Resolver

	h      handle.Handle
	csc    *pki.CSC
	crlURL string
	// laptop and phone name dp's /crl, moved names /moved, noDP has no
	// distribution point and ldap only an ldap one.
	laptop, phone, moved, noDP, ldap []*x509.Certificate
}

func newCRLWorld(tb testing.TB) *crlWorld {
	tb.Helper()
	w := &crlWorld{
		clock: &fakeClock{now: time.Now().UTC().Truncate(time.Second)},
		dp:    startCRLServer(tb),
		h:     "alice.dhp.test",
	}
	w.crlURL = w.dp.srv.URL + "/crl"

	var err error
	w.csc, err = pki.NewCSC(nil, w.h, pki.CSCOptions{Now: w.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	w.laptop = w.issue(tb, "laptop", w.crlURL)
	w.phone = w.issue(tb, "phone", w.crlURL)
	w.moved = w.issue(tb, "moved", w.dp.srv.URL+"/moved")
	w.noDP = w.issue(tb, "old tablet", "")

	template := leafTemplate(string(w.h), w.csc.DID.String())
	template.CRLDistributionPoints = []string{"ldap://ldap.dhp.test/cn=alice"}
	key := newKey(tb, pki.KeyP256)
	w.ldap = []*x509.Certificate{issueLeaf(tb, template, w.csc.Certificate, key.Public(), w.csc.Key), w.csc.Certificate}

	set := records.HandleRecords{Handle: w.h, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(w.csc.Certificate)}, DID: w.csc.DID.String()}
	root := dnstest.MustZone(tb, ".")
	tld := dnstest.MustZone(tb, "test.")
	dhp := dnstest.MustZone(tb, "dhp.test.", set.ZoneText())
	if err := dnstest.SignChain(dnstest.SignOptions{}, root, tld, dhp); err != nil {
		tb.Fatal(err)
	}
	w.resolver = newResolver(tb, dnstest.Start(tb, root, tld, dhp), root, resolve.RequireSecure)
	return w
}

// issue returns the chain [leaf, CSC] of a new device with the CRL URL.
func (w *crlWorld) issue(tb testing.TB, label, crlURL string) []*x509.Certificate {
	tb.Helper()
	key := newKey(tb, pki.KeyP256)
	csrDER, err := pki.CreateCSR(nil, key, w.h)
	if err != nil {
		tb.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := pki.IssueDevice(nil, w.csc, csr, pki.DeviceOptions{Label: label, CRLURL: crlURL, Now: w.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return []*x509.Certificate{leaf, w.csc.Certificate}
}

// crl returns a CRL of the world's CSC with the number, valid from
// thisUpdate for lifetime, that lists the leaves of chains as revoked.
func (w *crlWorld) crl(tb testing.TB, csc *pki.CSC, number int64, thisUpdate time.Time, lifetime time.Duration, chains ...[]*x509.Certificate) []byte {
	tb.Helper()
	revoked := make([]pki.RevokedCert, len(chains))
	for i, chain := range chains {
		revoked[i] = pki.RevokedCert{Serial: chain[0].SerialNumber, RevokedAt: thisUpdate, Reason: pki.ReasonKeyCompromise}
	}
	der, err := pki.CreateCRL(nil, csc, revoked, big.NewInt(number), thisUpdate, thisUpdate.Add(lifetime))
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// fetcher returns a CRLFetcher on the world's clock that trusts the
// distribution point, changed by mods.
func (w *crlWorld) fetcher(mods ...func(*CRLFetcher)) *CRLFetcher {
	f := &CRLFetcher{Client: w.dp.srv.Client(), Now: w.clock.Now}
	for _, mod := range mods {
		mod(f)
	}
	return f
}

// verifier returns a Verifier on the world's resolver and clock that
// checks revocation with f.
func (w *crlWorld) verifier(f *CRLFetcher) *Verifier {
	return &Verifier{Resolver: w.resolver, Timeout: 10 * time.Second, Now: w.clock.Now, CRLs: f}
}

func (w *crlWorld) verify(t *testing.T, v *Verifier, chain []*x509.Certificate) error {
	t.Helper()
	_, err := v.VerifyChain(context.Background(), chain)
	return err
}
