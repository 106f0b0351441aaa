package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// startWhoami serves, over TLS 1.3 on loopback, the verified handle of
// each request, or 401 without one.
func startWhoami(t *testing.T, v *verify.Verifier) *httptest.Server {
	t.Helper()
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := verify.FromContext(r.Context())
		_, _ = io.WriteString(w, string(id.Handle))
	})
	srv := httptest.NewUnstartedServer(v.Middleware(verify.RequireIdentity("test", "", page)))
	srv.TLS = verify.ServerConfig(nil, v)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestSiteDialerPresentsChosenHandlePerOrigin(t *testing.T) {
	t.Parallel()
	alice := newTestIdentity(t, "alice.dhp.test")
	bob := newTestIdentity(t, "bob.dhp.test")
	root := dnstest.MustZone(t, ".")
	tld := dnstest.MustZone(t, "test.")
	dhp := dnstest.MustZone(t, "dhp.test.", alice.zoneText(), bob.zoneText())
	if err := dnstest.SignChain(dnstest.SignOptions{}, root, tld, dhp); err != nil {
		t.Fatal(err)
	}
	server := dnstest.Start(t, root, tld, dhp)
	resolver, err := resolve.New(resolve.Config{Servers: []string{server.Addr}, TrustAnchors: root.DS()})
	if err != nil {
		t.Fatal(err)
	}
	v := &verify.Verifier{Resolver: resolver, Timeout: 10 * time.Second}

	// Three sites on one host, which differ in the port only.
	siteA, siteB, siteC := startWhoami(t, v), startWhoami(t, v), startWhoami(t, v)
	roots := x509.NewCertPool()
	for _, s := range []*httptest.Server{siteA, siteB, siteC} {
		roots.AddCert(s.Certificate())
	}

	dir := t.TempDir()
	alice.enroll(t, dir, "laptop")
	bob.enroll(t, dir, "laptop")
	sites, err := LoadSites(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []SiteChoice{{siteA.URL, alice.h}, {siteB.URL, bob.h}} {
		origin, err := ParseOrigin(c.Origin)
		if err != nil {
			t.Fatal(err)
		}
		if err := sites.Set(origin, c.Handle); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	presented := map[string]string{}
	dialer := &SiteDialer{Dir: dir, Sites: sites, Base: &tls.Config{RootCAs: roots},
		Presented: func(origin string, leaf *x509.Certificate) {
			mu.Lock()
			defer mu.Unlock()
			if leaf == nil {
				presented[origin] = "none"
				return
			}
			presented[origin] = leaf.DNSNames[0]
		}}
	client := &http.Client{Transport: &http.Transport{DialTLSContext: dialer.DialTLSContext}}
	t.Cleanup(client.CloseIdleConnections)

	cases := []struct {
		name   string
		url    string
		status int
		body   string
		sent   string
	}{
		{"site chosen for alice", siteA.URL, http.StatusOK, "alice.dhp.test", "alice.dhp.test"},
		{"site chosen for bob", siteB.URL, http.StatusOK, "bob.dhp.test", "bob.dhp.test"},
		{"site without a choice", siteC.URL, http.StatusUnauthorized, "401 Unauthorized", "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.HasPrefix(string(body), tc.body) {
				t.Errorf("status %d body %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			origin, _ := ParseOrigin(tc.url)
			mu.Lock()
			defer mu.Unlock()
			if presented[origin] != tc.sent {
				t.Errorf("presented %q at %s, want %q", presented[origin], origin, tc.sent)
			}
		})
	}
}

func TestSiteDialerRefusesUnusableChoice(t *testing.T) {
	t.Parallel()
	alice := newTestIdentity(t, "alice.dhp.test")
	dir := t.TempDir()
	dev := alice.enroll(t, dir, "laptop")
	sites, err := LoadSites(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := sites.Set("https://127.0.0.1:1", "alice.dhp.test"); err != nil {
		t.Fatal(err)
	}
	if err := sites.Set("https://127.0.0.1:2", "bob.dhp.test"); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		addr string
		now  time.Time
		want string
	}{
		{"handle not enrolled", "127.0.0.1:2", time.Now(), "no enrolled device could be read"},
		{"certificate expired", "127.0.0.1:1", dev.NotAfter.Add(time.Minute), "expired on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &SiteDialer{Dir: dir, Sites: sites, Now: func() time.Time { return tc.now }}
			_, err := d.DialTLSContext(t.Context(), "tcp", tc.addr)
			var ce *ChoiceError
			if !errors.As(err, &ce) {
				t.Fatalf("DialTLSContext = %v, want *ChoiceError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
