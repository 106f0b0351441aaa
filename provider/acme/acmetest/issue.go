// Package acmetest measures certificate issuance of a provider/acme server
// with golang.org/x/crypto/acme clients, against Debian's pebble driven by
// the same client code in the same run as the baseline. It is for tests and
// benchmarks only, because it starts servers and processes on loopback and
// reports through testing.B.
package acmetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/provider/acme"
)

// Clients is the number of concurrent ACME clients of BenchmarkIssuance,
// each with its own account.
const Clients = 8

// Target is an ACME server under benchmark.
type Target struct {
	// Server mints the EAB credentials the clients register with.
	Server *acme.Server
	// HTTPClient reaches Server and trusts its TLS certificate.
	HTTPClient *http.Client
	// IdentityID is the backend's identity that the enrollments and the
	// certificates are for.
	IdentityID string
	// Name is the DNS identifier of each order, the identity's handle.
	Name string
}

// Serve starts a provider/acme server over TLS on a loopback port with
// cfg, whose BaseURL it sets to the listener's https URL plus "/acme" and
// whose rate limits it turns off so that they do not cap the rate. The
// listener closes when tb ends. cfg.Backend is required. Serve stops tb
// with Fatal when NewServer returns an error.
func Serve(tb testing.TB, cfg acme.Config) (*acme.Server, *http.Client) {
	tb.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg.BaseURL = "https://" + ts.Listener.Addr().String() + "/acme"
	cfg.RateLimits = acme.RateLimits{Disabled: true}
	srv, err := acme.NewServer(cfg)
	if err != nil {
		_ = ts.Listener.Close()
		tb.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.StartTLS()
	tb.Cleanup(ts.Close)
	return srv, ts.Client()
}

// BenchmarkIssuance measures device certificates issued per second by
// Clients concurrent golang.org/x/crypto/acme clients against target, each
// registered with an EAB credential from target.Server. It reports
// certs/s and, when pebble runs, pebble-certs/s from PebbleRate and the
// ratio x-pebble. Each certificate is one newOrder, one authorization
// fetch, one finalize and one download, with a fresh P-256 key and CSR.
func BenchmarkIssuance(b *testing.B, target Target) {
	b.Helper()
	baseline, note := PebbleRate(b)

	ctx := context.Background()
	var clients []*xacme.Client
	for range Clients {
		en, err := target.Server.NewEnrollment(ctx, target.IdentityID, "bench")
		if err != nil {
			b.Fatal(err)
		}
		c := newClient(b, target.Server.DirectoryURL(), target.HTTPClient)
		eab := &xacme.ExternalAccountBinding{KID: en.KeyID, Key: en.Key}
		if _, err := c.Register(ctx, &xacme.Account{ExternalAccountBinding: eab}, xacme.AcceptTOS); err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
	}

	b.ResetTimer()
	start := time.Now()
	if err := issueConcurrently(ctx, clients, b.N, target.Name); err != nil {
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

func newClient(b *testing.B, dirURL string, hc *http.Client) *xacme.Client {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return &xacme.Client{Key: key, DirectoryURL: dirURL, HTTPClient: hc}
}

// issueConcurrently issues n certificates for name, spread over the
// registered clients. A client stops at its first error, which is
// returned after the others finish the remaining certificates.
func issueConcurrently(ctx context.Context, clients []*xacme.Client, n int, name string) error {
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
func issueOne(ctx context.Context, c *xacme.Client, name string) error {
	order, err := c.AuthorizeOrder(ctx, xacme.DomainIDs(name))
	if err != nil {
		return fmt.Errorf("order: %w", err)
	}
	for _, u := range order.AuthzURLs {
		z, err := c.GetAuthorization(ctx, u)
		if err != nil {
			return fmt.Errorf("authorization: %w", err)
		}
		if z.Status == xacme.StatusValid {
			continue
		}
		if err := solveHTTP01(ctx, c, z); err != nil {
			return err
		}
	}
	if order.Status != xacme.StatusReady {
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

func solveHTTP01(ctx context.Context, c *xacme.Client, z *xacme.Authorization) error {
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
