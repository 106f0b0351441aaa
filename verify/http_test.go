package verify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// whoami writes the Identity of the request as "handle did device dnssec".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, ok := FromContext(r.Context())
	if !ok {
		http.Error(w, "no identity", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s %s %s %s", id.Handle, id.DID, id.Device, id.DNSSEC)
})

// startRP starts a loopback HTTPS relying party: ServerConfig, Middleware
// and RequireIdentity around whoami.
func startRP(t *testing.T, v *Verifier, realm, login string) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(v.Middleware(RequireIdentity(realm, login, whoami)))
	srv.TLS = ServerConfig(nil, v)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v := w.verifier()
	srv := startRP(t, v, `dhp "test"`, "https://login.dhp.test/start?next=/")

	t.Run("device certificate", func(t *testing.T) {
		device := &Client{Certificates: []tls.Certificate{w.alice.tlsCertificate()}, Base: &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}}
		client := &http.Client{Transport: &http.Transport{DialTLSContext: device.DialTLSContext}}
		defer client.CloseIdleConnections()

		for i := 0; i < 2; i++ {
			resp, body := get(t, client, srv.URL+"/whoami")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			want := fmt.Sprintf("alice.dhp.test %s %s secure", w.alice.csc.DID, deviceOf(w.alice))
			if body != want {
				t.Errorf("body %q, want %q", body, want)
			}
		}
		if n := v.conns.len(); n != 1 {
			t.Errorf("verifier holds %d connections, want the 1 the handshake recorded", n)
		}
	})

	t.Run("no certificate", func(t *testing.T) {
		client := srv.Client()
		resp, body := get(t, client, srv.URL+"/whoami")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, body %q", resp.StatusCode, body)
		}
		want := `DNSHandle realm="dhp \"test\"", login="https://login.dhp.test/start?next=/"`
		if got := resp.Header.Get("WWW-Authenticate"); got != want {
			t.Errorf("WWW-Authenticate = %s, want %s", got, want)
		}
	})

	t.Run("certificate that fails", func(t *testing.T) {
		chain := leafFrom(t, w.alice, "bob.dhp.test", nil)
		key := newKey(t, "")
		chain[0] = issueLeaf(t, leafTemplate("bob.dhp.test", w.alice.csc.DID.String()), w.alice.csc.Certificate, key.Public(), w.alice.csc.Key)
		cfg := ClientConfig(tls.Certificate{Certificate: [][]byte{chain[0].Raw, chain[1].Raw}, PrivateKey: key})
		cfg.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		defer client.CloseIdleConnections()

		resp, err := client.Get(srv.URL + "/whoami")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request with a failing certificate got status %d", resp.StatusCode)
		}
		if !strings.Contains(err.Error(), "bad certificate") {
			t.Errorf("error %v, want a bad_certificate alert", err)
		}
	})
}

func deviceOf(id *identity) string {
	sum := sha256.Sum256(id.leaf.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func TestMiddlewareVerifiesUnrecordedConnection(t *testing.T) {
	t.Parallel()
	// A server that does not use ServerConfig: the Middleware finds no
	// recorded Identity and verifies r.TLS itself.
	w := newWorld(t)
	v := w.verifier()
	srv := httptest.NewUnstartedServer(v.Middleware(RequireIdentity("rp", "", whoami)))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cfg := ClientConfig(w.edward.tlsCertificate())
	cfg.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer client.CloseIdleConnections()

	resp, body := get(t, client, srv.URL)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "edward.dhp.test ") {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	if v.conns.len() != 1 {
		t.Errorf("verifier holds %d connections, want 1", v.conns.len())
	}
}

func TestMiddlewareReportsFailure(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var mu sync.Mutex
	var reported []error
	v := w.verifier(func(v *Verifier) {
		v.RequestError = func(_ *http.Request, err error) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, err)
		}
	})
	srv := httptest.NewUnstartedServer(v.Middleware(RequireIdentity("rp", "", whoami)))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	// The DM identity's DID differs from its did= record.
	cfg := ClientConfig(w.dm.tlsCertificate())
	cfg.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer client.CloseIdleConnections()

	resp, _ := get(t, client, srv.URL)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 {
		t.Fatalf("RequestError called %d times, want 1", len(reported))
	}
	if verr, ok := errors.AsType[*Error](reported[0]); !ok || verr.Step != StepDID {
		t.Errorf("reported %v, want a *verify.Error at did", reported[0])
	}
}

func TestRequireIdentityPassesContextIdentity(t *testing.T) {
	t.Parallel()
	h := RequireIdentity("rp", "https://rp.test/login", whoami)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(NewContext(req.Context(), &Identity{Handle: "alice.dhp.test", Method: "oidc"}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("status %d with an Identity in the context, want 200", rec.Code)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status %d without Identity, want 401", rec.Code)
	}
}

func TestFromContextNil(t *testing.T) {
	t.Parallel()
	if _, ok := FromContext(context.Background()); ok {
		t.Error("empty context has an Identity")
	}
	if _, ok := FromContext(NewContext(context.Background(), nil)); ok {
		t.Error("context with a nil Identity reports one")
	}
}

func TestChallenge(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, realm, login, want string
	}{
		{"plain", "rp", "https://rp.test/login", `DNSHandle realm="rp", login="https://rp.test/login"`},
		{"no login", "rp", "", `DNSHandle realm="rp"`},
		{"quote and backslash", `a "b" \c`, "x", `DNSHandle realm="a \"b\" \\c", login="x"`},
		{"line break", "a\r\nSet-Cookie: x=1", "y", `DNSHandle realm="a  Set-Cookie: x=1", login="y"`},
		{"tab and UTF-8", "a\tb é", "z", "DNSHandle realm=\"a\tb é\", login=\"z\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Challenge(tc.realm, tc.login); got != tc.want {
				t.Errorf("Challenge = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestConnCache(t *testing.T) {
	t.Parallel()
	var c connCache
	now := time.Now()
	a, b, d := &Identity{Handle: "a.test"}, &Identity{Handle: "b.test"}, &Identity{Handle: "d.test"}

	c.put("a", a, now.Add(time.Minute), 2)
	c.put("b", b, now.Add(time.Second), 2)
	if got := c.get("a", now); got != a {
		t.Errorf("get(a) = %v, want a", got)
	}
	if got := c.get("b", now.Add(2*time.Second)); got != nil {
		t.Errorf("expired entry returned %v", got)
	}
	if c.len() != 1 {
		t.Errorf("len = %d after expiry, want 1", c.len())
	}

	c.put("b", b, now.Add(time.Minute), 2)
	c.put("d", d, now.Add(time.Minute), 2)
	if got := c.get("a", now); got != nil {
		t.Errorf("oldest entry was not evicted: %v", got)
	}
	if c.get("b", now) != b || c.get("d", now) != d {
		t.Error("newer entries were evicted")
	}
	if c.len() != 2 {
		t.Errorf("len = %d, want the maximum 2", c.len())
	}
}

func TestConnCacheConcurrent(t *testing.T) {
	t.Parallel()
	var c connCache
	now := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				key := fmt.Sprintf("%d-%d", g, i)
				c.put(key, &Identity{}, now.Add(time.Minute), 100)
				c.get(key, now)
			}
		}()
	}
	wg.Wait()
	if n := c.len(); n > 100 {
		t.Errorf("len = %d, above the maximum 100", n)
	}
}
