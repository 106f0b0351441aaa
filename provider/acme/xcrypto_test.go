package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	"golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/pki"
)

// TestXCryptoClient drives the server with golang.org/x/crypto/acme, the
// client Enroll uses, through every account operation it offers.
func TestXCryptoClient(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	ctx := context.Background()
	en := e.enrollment("tablet")

	accountKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := &acme.Client{Key: accountKey, DirectoryURL: e.server.DirectoryURL()}
	acct, err := c.Register(ctx, &acme.Account{ExternalAccountBinding: &acme.ExternalAccountBinding{KID: en.KeyID, Key: en.Key}}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); !errors.Is(err, acme.ErrAccountAlreadyExists) {
		t.Errorf("second register: %v, want ErrAccountAlreadyExists", err)
	}

	order, err := c.AuthorizeOrder(ctx, acme.DomainIDs(string(testHandle)))
	if err != nil {
		t.Fatalf("order: %v", err)
	}
	if order.Status != acme.StatusReady {
		t.Fatalf("order status %q", order.Status)
	}
	authz, err := c.GetAuthorization(ctx, order.AuthzURLs[0])
	if err != nil || authz.Status != acme.StatusValid {
		t.Fatalf("authorization %+v, %v", authz, err)
	}

	deviceKey := newDeviceKey(t)
	csr, err := pki.CreateCSR(nil, deviceKey, testHandle)
	if err != nil {
		t.Fatal(err)
	}
	ders, certURL, err := c.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	if len(ders) != 2 {
		t.Fatalf("chain of %d certificates", len(ders))
	}
	if again, err := c.FetchCert(ctx, certURL, true); err != nil || len(again) != 2 {
		t.Fatalf("fetch certificate: %d, %v", len(again), err)
	}

	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := c.AccountKeyRollover(ctx, newKey); err != nil {
		t.Fatalf("key rollover: %v", err)
	}
	got, err := c.GetReg(ctx, acct.URI)
	if err != nil || got.Status != acme.StatusValid {
		t.Fatalf("account after rollover: %+v, %v", got, err)
	}

	if err := c.RevokeCert(ctx, nil, ders[0], acme.CRLReasonCessationOfOperation); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	leaf, _ := x509.ParseCertificate(ders[0])
	crl, err := e.server.CRL(ctx, testIdentity)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := pki.CheckRevoked(crl, e.issuer.CSC.Certificate, leaf, e.clock.Now()); err != nil || !st.Revoked {
		t.Fatalf("CRL after revoke: %+v, %v", st, err)
	}

	if err := c.DeactivateReg(ctx); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs(string(testHandle))); err == nil {
		t.Fatal("deactivated account created an order")
	}
}
