package proxy

import (
	"crypto/x509"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/verify"
)

// distributionPoint serves the CRL the test set last over HTTPS on
// loopback, or a 503 before the first one.
type distributionPoint struct {
	srv *httptest.Server
	mu  sync.Mutex
	crl []byte
}

func startDistributionPoint(tb testing.TB) *distributionPoint {
	tb.Helper()
	dp := &distributionPoint{}
	dp.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		dp.mu.Lock()
		crl := dp.crl
		dp.mu.Unlock()
		if crl == nil {
			http.Error(w, "CRL unavailable; try again later", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(crl)
	}))
	tb.Cleanup(dp.srv.Close)
	return dp
}

// publish signs and serves a new CRL of id that lists the leaves of
// revoked.
func (dp *distributionPoint) publish(tb testing.TB, id *identity, number int64, revoked ...*device) {
	tb.Helper()
	now := time.Now()
	entries := make([]pki.RevokedCert, len(revoked))
	for i, d := range revoked {
		entries[i] = pki.RevokedCert{Serial: d.chain[0].SerialNumber, RevokedAt: now, Reason: pki.ReasonKeyCompromise}
	}
	der, err := pki.CreateCRL(nil, id.csc, entries, big.NewInt(number), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	dp.crl = der
}

// issueWithCRL makes a device certificate under the identity's CSC that
// names crlURL as its CRL distribution point.
func (id *identity) issueWithCRL(tb testing.TB, label, crlURL string) *device {
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
	leaf, err := pki.IssueDevice(nil, id.csc, csr, pki.DeviceOptions{Label: label, CRLURL: crlURL})
	if err != nil {
		tb.Fatal(err)
	}
	return &device{key: key, chain: []*x509.Certificate{leaf, id.csc.Certificate}}
}

func TestFetchedCRLRejectsRevokedDevice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	dp := startDistributionPoint(t)
	phone := w.bob.issueWithCRL(t, "phone", dp.srv.URL+"/crl/bob")
	dp.publish(t, w.bob, 1)

	// The fetcher fetches the CRL at every login, so the revocation
	// below shows at the next request.
	fetcher := &verify.CRLFetcher{Client: dp.srv.Client(), RefreshInterval: -1}
	v := &verify.Verifier{Resolver: w.resolver, Timeout: 10 * time.Second, CRLs: fetcher}
	f := startProxy(t, w, up, Config{Verifier: v})

	resp, body := do(t, f.client(t, phone), newRequest(t, f.srv.URL+"/inbox", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("phone before its revocation: status %d, want 200; body %q", resp.StatusCode, body)
	}
	if got := forwarded(t, body).Headers.Get(HeaderHandle); got != "bob.dhp.test" {
		t.Errorf("upstream got %s %q, want bob.dhp.test", HeaderHandle, got)
	}

	dp.publish(t, w.bob, 2, phone)
	resp, body = do(t, f.client(t, phone), newRequest(t, f.srv.URL+"/inbox", nil))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("phone after its revocation: status %d, want 403; body %q", resp.StatusCode, body)
	}
	for _, want := range []string{"bob.dhp.test", "failed the revocation check", "revoked this certificate"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q:\n%s", want, body)
		}
	}
	if !strings.Contains(f.log.String(), "was revoked") {
		t.Errorf("the log lacks the verifier's error:\n%s", f.log)
	}
	if got := up.lastRequest(); got == nil || got.Path != "/inbox" {
		t.Fatalf("upstream saw %+v, want the request before the revocation", got)
	}
}

func TestUnreachableCRLGets503(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	dp := startDistributionPoint(t) // serves 503 until a CRL is published
	phone := w.bob.issueWithCRL(t, "phone", dp.srv.URL+"/crl/bob")

	fetcher := &verify.CRLFetcher{Client: dp.srv.Client()}
	v := &verify.Verifier{Resolver: w.resolver, Timeout: 10 * time.Second, CRLs: fetcher}
	f := startProxy(t, w, up, Config{Verifier: v})

	resp, body := do(t, f.client(t, phone), newRequest(t, f.srv.URL+"/", nil))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503; body %q", resp.StatusCode, body)
	}
	for _, want := range []string{"failed the revocation check", "could not fetch the revocation list", "Try again later"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, dp.srv.URL) {
		t.Errorf("answer shows the CRL URL, an internal detail:\n%s", body)
	}
	if !strings.Contains(f.log.String(), dp.srv.URL+"/crl/bob") {
		t.Errorf("the log lacks the failed CRL URL:\n%s", f.log)
	}
	if up.lastRequest() != nil {
		t.Error("a request whose revocation status is unknown reached the upstream")
	}
}
