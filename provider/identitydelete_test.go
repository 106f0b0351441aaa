package provider

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// issueTestDevice issues a device certificate of h through the service
// and returns its chain.
func issueTestDevice(t *testing.T, svc *Service, h handle.Handle) []*x509.Certificate {
	t.Helper()
	key, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := pki.CreateCSR(rand.Reader, key, h)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := svc.IssueDevice(context.Background(), h, "laptop", csr)
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

// A deleted hosted handle leaves DNS, its device certificates stop
// verifying, and a new identity for the same handle gets another DID.
func TestDeleteIdentityHosted(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	if _, err := svc.CreateAccount(ctx, "mallory", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	h := handle.Handle("alice.dhp.test")
	first, err := svc.CreateIdentity(ctx, "alice", h, svc.DefaultIdentityOptions())
	if err != nil {
		t.Fatal(err)
	}
	chain := issueTestDevice(t, svc, h)

	ds, err := svc.Signer.DS(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	// verifier serves the zone as stored now: a server started later
	// reads the zone serial afresh, without waiting for SerialRefresh.
	verifier := func() (*resolve.Resolver, *verify.Verifier) {
		r, err := resolve.New(resolve.Config{Servers: []string{startDNS(t, svc)}, TrustAnchors: []dns.RR{ds[0]}})
		if err != nil {
			t.Fatal(err)
		}
		return r, &verify.Verifier{Resolver: r}
	}
	_, v := verifier()
	if _, err := v.VerifyChain(ctx, chain); err != nil {
		t.Fatalf("device before the deletion: %v", err)
	}

	if _, err := svc.DeleteIdentity(ctx, "mallory", h); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deletion by another account: %v, want an error wrapping store.ErrNotFound", err)
	}
	deleted, err := svc.DeleteIdentity(ctx, "Alice", h)
	if err != nil {
		t.Fatalf("DeleteIdentity: %v", err)
	}
	if deleted.DID != first.Identity.DID || deleted.Zone != "dhp.test." || deleted.OwnDomainNotice() != "" {
		t.Errorf("deleted = %+v, want DID %s in zone dhp.test.", deleted, first.Identity.DID)
	}

	r, v := verifier()
	res, err := r.Resolve(ctx, h)
	if err != nil {
		t.Fatalf("Resolve after the deletion: %v", err)
	}
	if !res.TLSAInfo.NXDomain || res.TLSAInfo.Status != resolve.Secure {
		t.Errorf("TLSA after the deletion: NXDOMAIN %v, status %v; want a secure NXDOMAIN", res.TLSAInfo.NXDomain, res.TLSAInfo.Status)
	}
	if _, err := v.VerifyChain(ctx, chain); err == nil {
		t.Error("the deleted identity's device still verifies")
	}
	if _, err := svc.Devices(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("devices after the deletion: %v, want not found", err)
	}
	audit, err := svc.Store.Audit(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) == 0 || audit[0].Action != "identity.delete" || audit[0].Subject != string(h) || audit[0].Detail != first.Identity.DID {
		t.Errorf("newest audit entry = %+v, want identity.delete of %s", audit[0], h)
	}

	second, err := svc.CreateIdentity(ctx, "mallory", h, svc.DefaultIdentityOptions())
	if err != nil {
		t.Fatalf("a new identity for the freed handle: %v", err)
	}
	if second.Identity.DID == first.Identity.DID {
		t.Error("the new identity got the DID of the deleted one")
	}
	_, v = verifier()
	if _, err := v.VerifyChain(ctx, chain); err == nil {
		t.Error("the deleted identity's device verifies against the new identity's records")
	}
}

func TestDeleteIdentityOwnDomain(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	h := handle.Handle("alice.example.net")
	if _, err := svc.CreateIdentity(ctx, "alice", h, svc.DefaultIdentityOptions()); err != nil {
		t.Fatal(err)
	}
	before, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}

	deleted, err := svc.DeleteIdentity(ctx, "", h)
	if err != nil {
		t.Fatalf("DeleteIdentity: %v", err)
	}
	if deleted.Zone != "" {
		t.Errorf("zone = %q, want none for an own domain", deleted.Zone)
	}
	if notice := deleted.OwnDomainNotice(); !strings.Contains(notice, "remove the TLSA record at alice.example.net.") {
		t.Errorf("notice = %q", notice)
	}

	after, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("deleting an own-domain identity changed the provider zone: serial %d -> %d", before, after)
	}
	if _, err := svc.DeleteIdentity(ctx, "", h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second deletion: %v, want not found", err)
	}
}

// Deleting an account deletes its identities, hosted and own-domain, and
// frees its name.
func TestDeleteAccount(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	for _, h := range []handle.Handle{"alice.dhp.test", "alice.example.net"} {
		if _, err := svc.CreateIdentity(ctx, "alice", h, svc.DefaultIdentityOptions()); err != nil {
			t.Fatal(err)
		}
	}
	issueTestDevice(t, svc, "alice.dhp.test")

	deleted, err := svc.DeleteAccount(ctx, "ALICE")
	if err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if deleted.Name != "alice" || len(deleted.Identities) != 2 {
		t.Fatalf("deleted = %+v, want account alice with 2 identities", deleted)
	}
	if _, err := svc.Store.AccountByName(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("account after the deletion: %v, want not found", err)
	}
	for _, h := range []string{"alice.dhp.test", "alice.example.net"} {
		if _, err := svc.Store.IdentityByHandle(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("identity %s after the deletion: %v, want not found", h, err)
		}
	}
	if rows, err := svc.Store.LookupName(ctx, "dhp.test.", "alice.dhp.test."); err != nil || len(rows) != 0 {
		t.Errorf("records of alice.dhp.test. after the deletion: %d, %v", len(rows), err)
	}
	audit, err := svc.Store.Audit(ctx, 1)
	if err != nil || len(audit) != 1 || audit[0].Action != "account.delete" {
		t.Errorf("newest audit entry = %+v, %v; want account.delete", audit, err)
	}

	if _, err := svc.CreateAccount(ctx, "alice", "another long password"); err != nil {
		t.Errorf("the freed name: %v", err)
	}
	if _, err := svc.DeleteAccount(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown account: %v, want not found", err)
	}
}
