package acmestore_test

import (
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"path"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acmestore"
	"github.com/dnshandle/dnshandle/provider/store"
)

// newClockProvider is newProvider with a server whose clock the test moves.
func newClockProvider(t *testing.T, clock *testClock) *provider {
	t.Helper()
	p := newSeededStore(t)
	p.ts = httptest.NewUnstartedServer(nil)
	backend, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		t.Fatal(err)
	}
	p.srv, err = acme.NewServer(acme.Config{BaseURL: "https://" + p.ts.Listener.Addr().String() + "/acme", Backend: backend, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	p.ts.Config.Handler = p.srv.Handler()
	p.ts.StartTLS()
	t.Cleanup(p.ts.Close)
	return p
}

// TestPruneKeepsCertificatesAndAudit runs two devices through enrollment,
// issuance and, for one, revocation, lets every order, credential and
// nonce expire, and prunes: the expired rows go, while accounts,
// certificates, the CRL and the audit log stay.
func TestPruneKeepsCertificatesAndAudit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := &testClock{now: time.Now()}
	p := newClockProvider(t, clock)
	b, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		t.Fatal(err)
	}

	holder := registerClient(t, p, p.srv)
	order, err := holder.AuthorizeOrder(ctx, xacme.DomainIDs(alice.String()))
	if err != nil {
		t.Fatal(err)
	}
	heldChain, heldURL := finalize(t, holder, order)

	revoker := registerClient(t, p, p.srv)
	revokedOrder, err := revoker.AuthorizeOrder(ctx, xacme.DomainIDs(alice.String()))
	if err != nil {
		t.Fatal(err)
	}
	revokedChain, _ := finalize(t, revoker, revokedOrder)
	if err := revoker.RevokeCert(ctx, nil, revokedChain[0], xacme.CRLReasonCessationOfOperation); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	unused, err := p.srv.NewEnrollment(ctx, p.identity, "phone")
	if err != nil {
		t.Fatal(err)
	}

	// Nothing has expired yet.
	n, err := p.srv.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != (acme.PruneCounts{}) {
		t.Errorf("Prune before any expiry = %+v, want nothing", n)
	}

	clock.Advance(acme.DefaultOrderLifetime + time.Minute + acme.DefaultNonceLifetime)
	n, err = p.srv.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Orders != 2 || n.Credentials != 3 || n.Nonces == 0 {
		t.Errorf("Prune after every expiry = %+v, want 2 orders, 3 credentials and the used nonces", n)
	}
	if n, err = p.srv.Prune(ctx); err != nil || n != (acme.PruneCounts{}) {
		t.Errorf("second Prune = %+v, %v, want nothing", n, err)
	}

	if _, err := holder.GetOrder(ctx, order.URI); err == nil {
		t.Error("the pruned order is still served")
	}
	if _, err := b.EABCredential(ctx, unused.KeyID); !errors.Is(err, acme.ErrNotFound) {
		t.Errorf("EABCredential of the pruned unused credential: %v, want ErrNotFound", err)
	}
	acct, err := holder.GetReg(ctx, "")
	if err != nil || acct.Status != xacme.StatusValid {
		t.Fatalf("account after Prune: %+v, %v", acct, err)
	}
	stored, err := p.st.ACMEAccount(ctx, path.Base(acct.URI))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.EABCredential(ctx, stored.EABKeyID); !errors.Is(err, acme.ErrNotFound) {
		t.Errorf("EABCredential of the used, expired credential: %v, want ErrNotFound", err)
	}
	if e, err := p.st.Enrollment(ctx, stored.EABKeyID); err != nil || e.MACKeyHash != nil {
		t.Errorf("enrollment row of the account after Prune: %+v, %v; want it kept without its key", e, err)
	}

	chain, err := holder.FetchCert(ctx, heldURL, true)
	if err != nil || len(chain) != 2 || string(chain[0]) != string(heldChain[0]) {
		t.Fatalf("certificate after Prune: %d certificates, %v", len(chain), err)
	}
	leaf, err := x509.ParseCertificate(heldChain[0])
	if err != nil {
		t.Fatal(err)
	}
	checkDevice(t, p.st, leaf, store.DeviceActive)
	revokedLeaf, err := x509.ParseCertificate(revokedChain[0])
	if err != nil {
		t.Fatal(err)
	}
	checkDevice(t, p.st, revokedLeaf, store.DeviceRevoked)
	crl, err := p.srv.CRL(ctx, p.identity)
	if err != nil {
		t.Fatal(err)
	}
	status, err := pki.CheckRevoked(crl, p.csc.Certificate, revokedLeaf, clock.Now())
	if err != nil || !status.Revoked {
		t.Errorf("CRL after Prune: %+v, %v; want the revoked certificate listed", status, err)
	}
	checkAudit(t, p.st, []string{"device.issue", "device.issue", "device.revoke"})

	// The account still orders, with fresh nonces.
	again, err := holder.AuthorizeOrder(ctx, xacme.DomainIDs(alice.String()))
	if err != nil {
		t.Fatalf("order after Prune: %v", err)
	}
	if again.Status != xacme.StatusReady {
		t.Errorf("order after Prune is %s, want ready", again.Status)
	}
}

// TestPruneInBatches stores more expired nonce records than one batch
// holds: Prune removes them all, batch after batch.
func TestPruneInBatches(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := newSeededStore(t)
	b, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const records = 2*acmestore.PruneBatchSize + 5
	for i := range records {
		if err := b.UseNonce(ctx, "nonce-"+time.Duration(i).String(), now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.UseNonce(ctx, "live", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	n, err := b.Prune(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if n.Nonces != records {
		t.Errorf("Prune deleted %d nonce records, want %d", n.Nonces, records)
	}
	if err := b.UseNonce(ctx, "live", now.Add(time.Minute)); !errors.Is(err, acme.ErrNonceUsed) {
		t.Errorf("UseNonce of the live record after Prune: %v, want ErrNonceUsed", err)
	}
}

// TestNonceKeyShared checks that every backend on one store returns the
// same nonce key, created once, and that a store opened with another
// key-encryption key cannot read it.
func TestNonceKeyShared(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := newSeededStore(t)
	first, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		t.Fatal(err)
	}
	second, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		t.Fatal(err)
	}
	a, err := first.NonceKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := second.NonceKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != acme.NonceKeySize || string(a) != string(b) {
		t.Errorf("nonce keys of two backends: %d and %d bytes, equal %t; want %d equal bytes", len(a), len(b), string(a) == string(b), acme.NonceKeySize)
	}

	otherKEK := make([]byte, store.KEKSize)
	otherKEK[0] = 1
	otherSealer, err := store.NewSealer(otherKEK)
	if err != nil {
		t.Fatal(err)
	}
	other, err := acmestore.New(p.st, otherSealer)
	if err != nil {
		t.Fatal(err)
	}
	var sealed *store.SealedValueError
	if _, err := other.NonceKey(ctx); !errors.As(err, &sealed) {
		t.Errorf("NonceKey with another key-encryption key: %v, want a *store.SealedValueError", err)
	}
}
