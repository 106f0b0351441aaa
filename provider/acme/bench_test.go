package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/pki"
)

// benchClients is the number of concurrent ACME clients of the issuance
// benchmark, each with its own account.
const benchClients = 8

// pebbleBaselineCerts is the number of certificates the pebble baseline
// issues to measure its rate.
const pebbleBaselineCerts = 96

// BenchmarkIssuance measures device certificates issued per second by
// benchClients concurrent golang.org/x/crypto/acme clients against this
// server (memory backend, HTTPS on loopback) and reports the rate of
// Debian's pebble, driven by the same client code in the same run, as the
// baseline. Each certificate is one newOrder, one authorization fetch,
// one finalize and one download, with a fresh P-256 key and CSR.
func BenchmarkIssuance(b *testing.B) {
	baseline, note := pebbleRate(b)

	target := newBenchTarget(b)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	if err := issueConcurrently(ctx, target.clients, b.N, string(testHandle)); err != nil {
		b.Fatal(err)
	}
	rate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()

	b.ReportMetric(rate, "certs/s")
	if baseline > 0 {
		b.ReportMetric(baseline, "pebble-certs/s")
		b.ReportMetric(rate/baseline, "x-pebble")
	} else {
		b.Log(note)
	}
}

type benchTarget struct {
	clients []*acme.Client
}

// newBenchTarget starts the server over TLS without rate limits and
// registers benchClients accounts.
func newBenchTarget(b *testing.B) *benchTarget {
	b.Helper()
	csc, err := pki.NewCSC(rand.Reader, testHandle, pki.CSCOptions{})
	if err != nil {
		b.Fatal(err)
	}
	backend := NewMemoryBackend()
	backend.AddIssuer(&Issuer{IdentityID: testIdentity, CSC: csc})
	ts := httptest.NewUnstartedServer(nil)
	srv, err := NewServer(Config{BaseURL: "https://" + ts.Listener.Addr().String() + "/acme", Backend: backend, RateLimits: RateLimits{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.StartTLS()
	b.Cleanup(ts.Close)

	t := &benchTarget{}
	for range benchClients {
		en, err := srv.NewEnrollment(context.Background(), testIdentity, "bench")
		if err != nil {
			b.Fatal(err)
		}
		c := newBenchClient(b, srv.DirectoryURL(), ts.Client())
		eab := &acme.ExternalAccountBinding{KID: en.KeyID, Key: en.Key}
		if _, err := c.Register(context.Background(), &acme.Account{ExternalAccountBinding: eab}, acme.AcceptTOS); err != nil {
			b.Fatal(err)
		}
		t.clients = append(t.clients, c)
	}
	return t
}

func newBenchClient(b *testing.B, dirURL string, hc *http.Client) *acme.Client {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return &acme.Client{Key: key, DirectoryURL: dirURL, HTTPClient: hc}
}

// issueConcurrently issues n certificates for name, spread over clients.
func issueConcurrently(ctx context.Context, clients []*acme.Client, n int, name string) error {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for _, c := range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := issueOne(ctx, c, name); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// issueOne runs one order to a certificate. For a pending authorization it
// accepts the http-01 challenge, which pebble's always-valid mode marks
// valid without a request to the client.
func issueOne(ctx context.Context, c *acme.Client, name string) error {
	order, err := c.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return fmt.Errorf("order: %w", err)
	}
	for _, u := range order.AuthzURLs {
		z, err := c.GetAuthorization(ctx, u)
		if err != nil {
			return fmt.Errorf("authorization: %w", err)
		}
		if z.Status == acme.StatusValid {
			continue
		}
		if err := solveHTTP01(ctx, c, z); err != nil {
			return err
		}
	}
	if order.Status != acme.StatusReady {
		if order, err = c.WaitOrder(ctx, order.URI); err != nil {
			return fmt.Errorf("wait order: %w", err)
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	if err != nil {
		return err
	}
	if _, _, err := c.CreateCertFromOrder(ctx, order, csr, true); err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	return nil
}

func solveHTTP01(ctx context.Context, c *acme.Client, z *acme.Authorization) error {
	for _, ch := range z.Challenges {
		if ch.Type != "http-01" {
			continue
		}
		if _, err := c.Accept(ctx, ch); err != nil {
			return fmt.Errorf("accept challenge: %w", err)
		}
		if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
			return fmt.Errorf("wait authorization: %w", err)
		}
		return nil
	}
	return fmt.Errorf("authorization %s offers no http-01 challenge", z.URI)
}

var pebbleOnce struct {
	sync.Once
	rate float64
	note string
}

// pebbleRate measures pebble once per test binary run: it starts Debian's
// pebble on loopback with PEBBLE_VA_ALWAYS_VALID=1, PEBBLE_VA_NOSLEEP=1 and
// PEBBLE_WFE_NONCEREJECT=0, issues pebbleBaselineCerts certificates with
// benchClients clients and stops it. It returns 0 and the reason when
// pebble is not installed or fails.
func pebbleRate(b *testing.B) (float64, string) {
	pebbleOnce.Do(func() {
		pebbleOnce.rate, pebbleOnce.note = measurePebble(b)
	})
	return pebbleOnce.rate, pebbleOnce.note
}

func measurePebble(b *testing.B) (float64, string) {
	path, err := exec.LookPath("pebble")
	if err != nil {
		return 0, "pebble not found: install the Debian package pebble for the baseline"
	}
	dir := b.TempDir()
	certFile, keyFile, pool, err := writeLoopbackCert(dir)
	if err != nil {
		return 0, "pebble baseline: " + err.Error()
	}
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port()))
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        net.JoinHostPort("127.0.0.1", strconv.Itoa(port())),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       port(),
		"tlsPort":                        port(),
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	cfgFile := filepath.Join(dir, "pebble.json")
	raw, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgFile, raw, 0o644); err != nil {
		return 0, "pebble baseline: " + err.Error()
	}

	cmd := exec.Command(path, "-config", cfgFile)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	if err := cmd.Start(); err != nil {
		return 0, "pebble baseline: " + err.Error()
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	dirURL := "https://" + listen + "/dir"
	if err := waitReady(hc, dirURL); err != nil {
		return 0, "pebble baseline: " + err.Error()
	}
	ctx := context.Background()
	var clients []*acme.Client
	for range benchClients {
		c := newBenchClient(b, dirURL, hc)
		if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
			return 0, "pebble baseline: register: " + err.Error()
		}
		clients = append(clients, c)
	}
	start := time.Now()
	if err := issueConcurrently(ctx, clients, pebbleBaselineCerts, "alice.dhp.test"); err != nil {
		return 0, "pebble baseline: " + err.Error()
	}
	return float64(pebbleBaselineCerts) / time.Since(start).Seconds(), ""
}

func waitReady(hc *http.Client, url string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := hc.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 15s: %w", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeLoopbackCert writes a self-signed certificate for 127.0.0.1 and its
// key, and returns a pool that trusts it.
func writeLoopbackCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}

	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pebble on loopback"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return "", "", nil, err
	}
	cert, _ := x509.ParseCertificate(der)

	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pki.EncodeCertificates(cert), 0o644); err != nil {
		return "", "", nil, err
	}
	if err := pki.WritePrivateKeyFile(keyFile, key); err != nil {
		return "", "", nil, err
	}

	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool, nil
}
