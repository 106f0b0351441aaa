package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/verify"
)

// forwarded decodes the upstream's echo of a request.
func forwarded(t *testing.T, body string) *seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("upstream answer is not its JSON echo: %v\n%s", err, body)
	}
	return &s
}

// identityHeaders returns the headers of h that the proxy owns.
func identityHeaders(h http.Header) map[string][]string {
	got := map[string][]string{}
	for name, values := range h {
		if isIdentityHeader(name) {
			got[name] = values
		}
	}
	return got
}

func wantHeaders(t *testing.T, got http.Header, want map[string][]string) {
	t.Helper()
	own := identityHeaders(got)
	if len(own) != len(want) {
		t.Errorf("upstream got identity headers %v, want %v", own, want)
	}
	for name, values := range want {
		if !slices.Equal(own[name], values) {
			t.Errorf("upstream header %s = %q, want %q", name, own[name], values)
		}
	}
}

func TestCertificateLoginForwardsIdentity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	f := startProxy(t, w, up, Config{})

	resp, body := do(t, f.client(t, w.aliceLaptop), newRequest(t, f.srv.URL+"/app/page?x=1", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	s := forwarded(t, body)
	if s.Path != "/app/page" || s.Query != "x=1" {
		t.Errorf("upstream got %s?%s, want /app/page?x=1", s.Path, s.Query)
	}
	wantHeaders(t, s.Headers, map[string][]string{
		"Dns-Handle":        {"alice.dhp.test"},
		"Dns-Handle-Did":    {w.alice.csc.DID.String()},
		"Dns-Handle-Device": {pki.SPKIFingerprint(w.aliceLaptop.chain[0])},
		"Dns-Handle-Method": {"tls"},
	})
	if got := s.Headers.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https", got)
	}

	if !strings.Contains(f.log.String(), `"handle":"alice.dhp.test"`) {
		t.Errorf("access log lacks the handle:\n%s", f.log)
	}
}

func TestForgedIdentityHeadersStripped(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	f := startProxy(t, w, up, Config{})

	forged := http.Header{
		"dns-handle":           {"mallory.dhp.test", "eve.dhp.test"},
		"DNS-HANDLE-DID":       {"did:plc:abcdefghijklmnopqrstuvwx"},
		"Dns-Handle-Device":    {"00", "11"},
		"dns-handle-method":    {"oidc"},
		"DNS_Handle":           {"mallory.dhp.test"},
		"Dns-Handle-Extra":     {"x"},
		"Connection":           {"DNS-Handle"},
		"X-Unrelated-DNS-Head": {"kept"},
	}
	resp, body := do(t, f.client(t, w.bobLaptop), newRequest(t, f.srv.URL+"/", forged))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	s := forwarded(t, body)
	wantHeaders(t, s.Headers, map[string][]string{
		"Dns-Handle":        {"bob.dhp.test"},
		"Dns-Handle-Did":    {w.bob.csc.DID.String()},
		"Dns-Handle-Device": {pki.SPKIFingerprint(w.bobLaptop.chain[0])},
		"Dns-Handle-Method": {"tls"},
	})
	if got := s.Headers.Get("X-Unrelated-Dns-Head"); got != "kept" {
		t.Errorf("an unrelated header was removed: X-Unrelated-DNS-Head = %q", got)
	}
}

func TestIsIdentityHeader(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		want bool
	}{
		{"DNS-Handle", true},
		{"dns-handle-did", true},
		{"DNS_HANDLE_DEVICE", true},
		{"Dns-Handle-Anything", true},
		{"X-DNS-Handle", false},
		{"Handle", false},
		{"DNS", false},
	}
	for _, tc := range cases {
		if got := isIdentityHeader(tc.name); got != tc.want {
			t.Errorf("isIdentityHeader(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNoCertificateBrowserGetsSignInPage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	login := http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("login handler")) })

	cases := []struct {
		name      string
		login     http.Handler
		want      []string
		challenge string
		// formAction is the page's CSP form-action: the sign-in form's
		// POST redirects to the provider, which browsers check against it.
		formAction string
	}{
		{"oidc configured", login,
			[]string{"Sign in with your DNS handle", `action="/.dnshandle/login"`, `name="return" value="/private?a=1"`, `method="post"`},
			`DNSHandle realm="test", login="https://` + "%HOST%" + `/.dnshandle/login"`, "form-action https:"},
		{"oidc not configured", nil,
			[]string{"Sign in with your DNS handle", "OIDC sign-in is not configured"},
			`DNSHandle realm="test"`, "form-action 'self'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startProxy(t, w, up, Config{Login: tc.login})
			req := newRequest(t, f.srv.URL+"/private?a=1", http.Header{"Accept": {"text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}})
			resp, body := do(t, f.client(t, nil), req)

			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, tc.formAction) || !strings.HasPrefix(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy = %q, want default-src 'none' and %s", csp, tc.formAction)
			}
			challenge := strings.ReplaceAll(tc.challenge, "%HOST%", f.srv.Listener.Addr().String())
			if got := resp.Header.Get("WWW-Authenticate"); got != challenge {
				t.Errorf("WWW-Authenticate = %s, want %s", got, challenge)
			}
			if up.lastRequest() != nil {
				t.Error("a request without identity reached the upstream")
			}
		})
	}
}

func TestNoCertificateAPIGetsChallenge(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	f := startProxy(t, w, up, Config{})

	for _, accept := range []string{"", "application/json", "*/*"} {
		t.Run("accept "+accept, func(t *testing.T) {
			resp, body := do(t, f.client(t, nil), newRequest(t, f.srv.URL+"/api", http.Header{"Accept": {accept}}))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != `DNSHandle realm="test"` {
				t.Errorf("WWW-Authenticate = %s", got)
			}
			if !strings.HasPrefix(body, "401 Unauthorized") {
				t.Errorf("body %q, want the plain-text challenge of verify.RequireIdentity", body)
			}
		})
	}
}

func TestFailedCertificateRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	f := startProxy(t, w, up, Config{})

	cases := []struct {
		name   string
		dev    *device
		accept string
		want   []string
	}{
		{"revoked", w.bobRevoked, "", []string{"403 Forbidden", "bob.dhp.test", "failed the revocation check"}},
		{"foreign CSC", w.foreign, "", []string{"403 Forbidden", "alice.dhp.test", "failed the tlsa check"}},
		{"revoked in a browser", w.bobRevoked, "text/html", []string{"not accepted", "<code>revocation</code>", "<code>bob.dhp.test</code>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, f.client(t, tc.dev), newRequest(t, f.srv.URL+"/", http.Header{"Accept": {tc.accept}}))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403; body %q", resp.StatusCode, body)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("answer lacks %q:\n%s", want, body)
				}
			}
			// The response names the step, not the verifier's
			// error text with serial numbers and resolver details.
			if strings.Contains(body, "serial") || strings.Contains(body, w.dns.Addr) {
				t.Errorf("answer shows internal details:\n%s", body)
			}
		})
	}
	if up.lastRequest() != nil {
		t.Error("a request with a failed certificate reached the upstream")
	}
	if !strings.Contains(f.log.String(), "was revoked") {
		t.Errorf("the log lacks the verifier's error:\n%s", f.log)
	}
}

func TestSessionIdentityForwarded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	did := w.alice.csc.DID.String()
	session := func(r *http.Request) (*verify.Identity, bool) {
		c, err := r.Cookie("rp_session")
		if err != nil || c.Value != "good" {
			return nil, false
		}
		return &verify.Identity{Handle: "alice.dhp.test", DID: did, Method: "oidc"}, true
	}
	f := startProxy(t, w, up, Config{SessionIdentity: session, SessionCookies: []string{"rp_session"}})

	cases := []struct {
		name string
		dev  *device
	}{
		{"no certificate", nil},
		{"failed certificate", w.bobRevoked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(t, f.srv.URL+"/", http.Header{
				"Cookie":     {"theme=dark; rp_session=good; __Host-dnshandle_login=sealed", "dnshandle_login_pending=x"},
				"DNS-Handle": {"mallory.dhp.test"},
			})
			resp, body := do(t, f.client(t, tc.dev), req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			s := forwarded(t, body)
			wantHeaders(t, s.Headers, map[string][]string{
				"Dns-Handle":        {"alice.dhp.test"},
				"Dns-Handle-Did":    {did},
				"Dns-Handle-Method": {"oidc"},
			})
			if got := s.Headers.Values("Cookie"); !slices.Equal(got, []string{"theme=dark"}) {
				t.Errorf("upstream got cookies %q, want only theme=dark", got)
			}
		})
	}

	t.Run("certificate wins over session", func(t *testing.T) {
		req := newRequest(t, f.srv.URL+"/", http.Header{"Cookie": {"rp_session=good"}})
		_, body := do(t, f.client(t, w.bobLaptop), req)
		if got := forwarded(t, body).Headers.Get(HeaderHandle); got != "bob.dhp.test" {
			t.Errorf("DNS-Handle = %q, want the certificate's bob.dhp.test", got)
		}
	})
}

func TestOwnPathsNotForwarded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	login := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = rw.Write([]byte("login handler " + r.URL.Path + " " + r.URL.Query().Get("handle")))
	})

	withLogin := startProxy(t, w, up, Config{Login: login})
	resp, body := do(t, withLogin.client(t, nil), newRequest(t, withLogin.srv.URL+LoginPath+"?handle=alice.dhp.test", nil))
	if resp.StatusCode != http.StatusOK || body != "login handler /.dnshandle/login alice.dhp.test" {
		t.Errorf("login path: status %d body %q, want the Login handler", resp.StatusCode, body)
	}

	without := startProxy(t, w, up, Config{})
	resp, body = do(t, without.client(t, w.aliceLaptop), newRequest(t, without.srv.URL+"/.dnshandle/callback", nil))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "does not offer sign-in") {
		t.Errorf("own path without Login: status %d body %q, want 404 saying sign-in is not offered", resp.StatusCode, body)
	}
	if up.lastRequest() != nil {
		t.Error("a request below /.dnshandle/ reached the upstream")
	}
}

func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := &url.URL{Scheme: "http", Host: closed.Addr().String()}
	closed.Close()
	f := startProxy(t, w, nil, Config{Upstream: down})

	for _, accept := range []string{"text/html", ""} {
		t.Run("accept "+accept, func(t *testing.T) {
			resp, body := do(t, f.client(t, w.aliceLaptop), newRequest(t, f.srv.URL+"/", http.Header{"Accept": {accept}}))
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status %d, want 502", resp.StatusCode)
			}
			if !strings.Contains(body, "could not reach the application") {
				t.Errorf("body lacks the explanation:\n%s", body)
			}
			if strings.Contains(body, down.Host) {
				t.Errorf("the page shows the upstream address:\n%s", body)
			}
		})
	}
	if !strings.Contains(f.log.String(), "upstream request failed") {
		t.Errorf("the log lacks the upstream error:\n%s", f.log)
	}
}

func TestUpstreamBasePath(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	base := up.url(t)
	base.Path = "/base/"
	f := startProxy(t, w, up, Config{Upstream: base})

	_, body := do(t, f.client(t, w.aliceLaptop), newRequest(t, f.srv.URL+"/page", nil))
	if got := forwarded(t, body).Path; got != "/base/page" {
		t.Errorf("upstream path %q, want /base/page", got)
	}
}

func TestTLS12Refused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	f := startProxy(t, w, startUpstream(t), Config{})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.roots, MaxVersion: tls.VersionTLS12}}}
	resp, err := c.Get(f.srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a TLS 1.2 client got status %d", resp.StatusCode)
	}
}

func TestNewRejectsConfig(t *testing.T) {
	t.Parallel()
	v := &verify.Verifier{}
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no upstream", Config{Verifier: v}, "Upstream"},
		{"ftp upstream", Config{Upstream: &url.URL{Scheme: "ftp", Host: "x"}, Verifier: v}, "Upstream"},
		{"no host", Config{Upstream: &url.URL{Scheme: "http"}, Verifier: v}, "Upstream"},
		{"no verifier", Config{Upstream: &url.URL{Scheme: "http", Host: "x"}}, "Verifier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("New = %v, want a *ConfigError for %s", err, tc.field)
			}
		})
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	p, err := New(Config{Upstream: up.url(t), Verifier: w.verifier()})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := EnsureLoopbackCertificate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := files.LoadCertificate()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln, &tls.Config{Certificates: []tls.Certificate{cert}}) }()

	roots, err := files.certPool()
	if err != nil {
		t.Fatal(err)
	}
	dev := &verify.Client{Certificates: []tls.Certificate{w.aliceLaptop.tlsCertificate()}, Base: &tls.Config{RootCAs: roots}}
	c := &http.Client{Transport: &http.Transport{DialTLSContext: dev.DialTLSContext}}
	defer c.CloseIdleConnections()
	resp, body := do(t, c, newRequest(t, "https://"+ln.Addr().String()+"/", nil))
	if resp.StatusCode != http.StatusOK || forwarded(t, body).Headers.Get(HeaderHandle) != "alice.dhp.test" {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}

	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener still accepts after shutdown")
	}
}

func TestDescribeFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    error
		status int
		step   string
		says   string // part of the description
	}{
		{"revocation", &verify.Error{Step: verify.StepRevocation, Handle: "bob.dhp.test", Err: &verify.RevokedError{}}, http.StatusForbidden, "revocation", "revoked this certificate"},
		{"dns timeout", &verify.Error{Step: verify.StepDNS, Handle: "bob.dhp.test", Err: &verify.TimeoutError{Err: context.DeadlineExceeded}}, http.StatusServiceUnavailable, "dns", "in time"},
		{"no TLSA", &verify.Error{Step: verify.StepDNS, Handle: "bob.dhp.test", Err: &verify.NoTLSAError{}}, http.StatusForbidden, "dns", "publishes no TLSA record"},
		{"handle not in DNS", &verify.Error{Step: verify.StepDNS, Handle: "bob.dhp.test", Err: &verify.NoTLSAError{NXDomain: true}}, http.StatusForbidden, "dns", "does not exist in DNS"},
		{"CRL unavailable", &verify.Error{Step: verify.StepRevocation, Handle: "bob.dhp.test", Err: &verify.CRLFetchError{Err: &verify.CRLUnavailableError{URL: "https://dhp.test/crl/x", Err: errors.New("connection refused")}}}, http.StatusServiceUnavailable, "revocation", "could not fetch"},
		{"no distribution point", &verify.Error{Step: verify.StepRevocation, Handle: "bob.dhp.test", Err: &verify.CRLFetchError{Err: &verify.MissingDistributionPointError{Serial: "1"}}}, http.StatusForbidden, "revocation", "names no revocation list"},
		{"not a verify error", errors.New("boom"), http.StatusForbidden, "unknown", "could not be verified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := describeFailure(tc.err)
			if f.status != tc.status || f.step != tc.step {
				t.Errorf("describeFailure = status %d step %q, want %d %q", f.status, f.step, tc.status, tc.step)
			}
			if !strings.Contains(f.description, tc.says) {
				t.Errorf("description %q lacks %q", f.description, tc.says)
			}
			if strings.Contains(f.description, "boom") {
				t.Errorf("description %q repeats the error text", f.description)
			}
		})
	}
}

func TestTLSConfigForClientConfigs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := startUpstream(t)
	p, err := New(Config{Upstream: up.url(t), Verifier: w.verifier()})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := EnsureLoopbackCertificate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := files.LoadCertificate()
	if err != nil {
		t.Fatal(err)
	}
	roots, err := files.certPool()
	if err != nil {
		t.Fatal(err)
	}

	// The certificate comes only from the per-client configuration, as
	// with SNI-based certificate selection.
	base := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
		},
	}
	srv := &http.Server{Handler: p, TLSConfig: p.TLSConfig(base), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })

	cases := []struct {
		name   string
		dev    *device
		status int
	}{
		{"valid certificate", w.aliceLaptop, http.StatusOK},
		{"revoked certificate gets a page, not an alert", w.bobRevoked, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dev := &verify.Client{Certificates: []tls.Certificate{tc.dev.tlsCertificate()}, Base: &tls.Config{RootCAs: roots}}
			c := &http.Client{Transport: &http.Transport{DialTLSContext: dev.DialTLSContext}}
			defer c.CloseIdleConnections()
			resp, body := do(t, c, newRequest(t, "https://"+ln.Addr().String()+"/", nil))
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d; body %q", resp.StatusCode, tc.status, body)
			}
		})
	}
}
