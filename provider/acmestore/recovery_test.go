package acmestore_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acmestore"
)

// registerClient returns a golang.org/x/crypto/acme client with an account
// made with a new enrollment of p's identity on srv.
func registerClient(t *testing.T, p *provider, srv *acme.Server) *xacme.Client {
	t.Helper()
	en, err := srv.NewEnrollment(t.Context(), p.identity, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	c := &xacme.Client{Key: newAccountKey(t), DirectoryURL: srv.DirectoryURL(), HTTPClient: p.ts.Client(),
		// A nonce that expired while the test moved the clock makes the
		// client retry, by default after a second or more.
		RetryBackoff: func(int, *http.Request, *http.Response) time.Duration { return time.Millisecond }}
	_, err = c.Register(t.Context(), &xacme.Account{ExternalAccountBinding: &xacme.ExternalAccountBinding{KID: en.KeyID, Key: en.Key}}, xacme.AcceptTOS)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return c
}

// finalize issues the certificate of a ready order with a new device key
// and returns the chain and the certificate URL.
func finalize(t *testing.T, c *xacme.Client, o *xacme.Order) ([][]byte, string) {
	t.Helper()
	key, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.CreateCSR(nil, key, alice)
	if err != nil {
		t.Fatal(err)
	}
	ders, certURL, err := c.CreateOrderCert(t.Context(), o.FinalizeURL, csr, true)
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	return ders, certURL
}

// markProcessing sets the stored order to processing since the time, as a
// process that stopped in the middle of finalize leaves it.
func markProcessing(t *testing.T, p *provider, orderURL string, since time.Time) {
	t.Helper()
	b, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.Order(t.Context(), path.Base(orderURL))
	if err != nil {
		t.Fatal(err)
	}
	o.Status, o.ProcessingSince = acme.OrderProcessing, since
	if err := b.UpdateOrder(t.Context(), o, acme.OrderReady); err != nil {
		t.Fatal(err)
	}
}

// TestInterruptedFinalizeRecovered leaves an order processing, as a crash
// between the start of finalize and the stored certificate does, and
// restarts the server on the store. The client that Enroll uses then polls
// the order, which ends invalid instead of processing for ever.
func TestInterruptedFinalizeRecovered(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	ctx := t.Context()
	c := registerClient(t, p, p.srv)

	interrupted, err := c.AuthorizeOrder(ctx, xacme.DomainIDs(alice.String()))
	if err != nil {
		t.Fatal(err)
	}
	inFlight, err := c.AuthorizeOrder(ctx, xacme.DomainIDs(alice.String()))
	if err != nil {
		t.Fatal(err)
	}
	markProcessing(t, p, interrupted.URI, time.Now().Add(-acme.DefaultFinalizeTimeout))
	markProcessing(t, p, inFlight.URI, time.Now())
	p.reopen(t)

	got, err := c.GetOrder(ctx, inFlight.URI)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != xacme.StatusProcessing {
		t.Errorf("order processing for less than the finalize timeout is %s, want processing", got.Status)
	}

	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = c.WaitOrder(wait, interrupted.URI)
	var orderErr *xacme.OrderError
	if !errors.As(err, &orderErr) || orderErr.Status != xacme.StatusInvalid {
		t.Fatalf("WaitOrder of the interrupted order: %v, want an *OrderError with status invalid", err)
	}
	problem := orderErr.Problem
	if problem == nil || problem.ProblemType != acme.ErrorNamespace+string(acme.ProblemServerInternal) {
		t.Fatalf("error of the interrupted order = %+v, want serverInternal", problem)
	}
	if !strings.Contains(problem.Detail, "interrupted") || !strings.Contains(problem.Detail, "new order") {
		t.Errorf("error detail %q does not say that finalize was interrupted and to place a new order", problem.Detail)
	}

	again, err := c.AuthorizeOrder(ctx, xacme.DomainIDs(alice.String()))
	if err != nil {
		t.Fatal(err)
	}
	ders, _ := finalize(t, c, again)
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		t.Fatal(err)
	}
	checkDevice(t, p.st, leaf, "active")
}
