package acmestore_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"

	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acmestore"
	"github.com/dnshandle/dnshandle/provider/store"
)

const alice = handle.Handle("alice.dhp.test")

// provider is an ACME server on a store backend, served over TLS on
// loopback. reopen closes the store and opens it again, as a restart does.
type provider struct {
	path     string
	sealer   *store.Sealer
	st       store.Store
	srv      *acme.Server
	ts       *httptest.Server
	identity string
	csc      *pki.CSC
}

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := newSeededStore(t)
	p.ts = httptest.NewUnstartedServer(nil)
	p.ts.StartTLS()
	t.Cleanup(p.ts.Close)
	p.mount(t)
	return p
}

// newSeededStore opens a SQLite store in a temporary directory with one
// account and one hosted identity for alice, whose CSC key is sealed. The
// returned provider serves nothing yet.
func newSeededStore(t testing.TB) *provider {
	t.Helper()
	ctx := context.Background()
	kek := make([]byte, store.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	sealer, err := store.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{path: filepath.Join(t.TempDir(), store.SQLiteFileName), sealer: sealer}
	p.st, err = store.OpenSQLite(ctx, p.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.st.Close() })
	seed(t, p)
	return p
}

// seed creates one account and one hosted identity for alice in p.st, with
// its CSC key sealed by p.sealer, and sets p.csc and p.identity.
func seed(t testing.TB, p *provider) {
	t.Helper()
	ctx := context.Background()
	var err error
	p.csc, err = pki.NewCSC(rand.Reader, alice, pki.CSCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodePrivateKey(p.csc.Key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := p.sealer.Seal(keyPEM, "csc:"+alice.String())
	if err != nil {
		t.Fatal(err)
	}
	ident := &store.Identity{Handle: alice.String(), DID: p.csc.DID.String(), Hosted: true, Verified: true, CSCCert: p.csc.Certificate.Raw, CSCKey: sealed}
	err = p.st.InTx(ctx, func(tx store.Tx) error {
		a := &store.Account{Name: "alice"}
		if err := tx.CreateAccount(ctx, a); err != nil {
			return err
		}
		ident.AccountID = a.ID
		return tx.CreateIdentity(ctx, ident)
	})
	if err != nil {
		t.Fatal(err)
	}
	p.identity = acmestore.IdentityKey(ident.ID)
}

// mount builds the ACME server on the current store and serves it.
func (p *provider) mount(t *testing.T) {
	t.Helper()
	backend, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		t.Fatal(err)
	}
	p.srv, err = acme.NewServer(acme.Config{BaseURL: p.ts.URL + "/acme", Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	p.ts.Config.Handler = p.srv.Handler()
}

func (p *provider) reopen(t *testing.T) {
	t.Helper()
	if err := p.st.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	p.st, err = store.OpenSQLite(context.Background(), p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mount(t)
}

func (p *provider) code(t *testing.T, label string) string {
	t.Helper()
	en, err := p.srv.NewEnrollment(context.Background(), p.identity, label)
	if err != nil {
		t.Fatal(err)
	}
	return en.Code()
}

// TestEnrollRenewRevoke runs the device client against the store backend,
// once with the store open throughout and once with a restart between
// enrollment and renewal.
func TestEnrollRenewRevoke(t *testing.T) {
	t.Parallel()
	for _, restart := range []bool{false, true} {
		name := "same store"
		if restart {
			name = "store reopened"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t)
			ctx := context.Background()
			httpClient := p.ts.Client()

			d, err := client.Enroll(ctx, client.EnrollOptions{Code: p.code(t, "laptop"), Dir: t.TempDir(), HTTPClient: httpClient})
			if err != nil {
				t.Fatalf("enroll: %v", err)
			}
			if d.Handle != alice || d.Label != "laptop" {
				t.Fatalf("device = %+v", d)
			}
			checkDevice(t, p.st, d.Chain[0], store.DeviceActive)

			if restart {
				p.reopen(t)
			}
			r, err := client.Renew(ctx, d.Dir, client.RenewOptions{Force: true, HTTPClient: httpClient})
			if err != nil {
				t.Fatalf("renew: %v", err)
			}
			if !r.Renewed || r.Device.Chain[0].SerialNumber.Cmp(d.Chain[0].SerialNumber) == 0 {
				t.Fatalf("renewal did not store a new certificate: %+v", r)
			}
			if r.Device.Fingerprint != d.Fingerprint {
				t.Errorf("renewal changed the device key: %s, was %s", r.Device.Fingerprint, d.Fingerprint)
			}
			checkDevice(t, p.st, r.Device.Chain[0], store.DeviceActive)

			if err := client.Revoke(ctx, d.Dir, client.RevokeOptions{Reason: pki.ReasonKeyCompromise, HTTPClient: httpClient}); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			checkDevice(t, p.st, r.Device.Chain[0], store.DeviceRevoked)
			// The certificate the renewal replaced has the same key: it is
			// revoked with it.
			checkDevice(t, p.st, d.Chain[0], store.DeviceRevoked)
			// The device's ACME account is revoked with it: it cannot renew
			// itself back in.
			if _, err := client.Renew(ctx, d.Dir, client.RenewOptions{Force: true, HTTPClient: httpClient}); err == nil {
				t.Error("a revoked device renewed its certificate")
			} else if !strings.Contains(err.Error(), "revoked") {
				t.Errorf("renewing a revoked device: %v, want an error saying it is revoked", err)
			} else {
				t.Logf("renew after revoke: %v", err)
			}

			crlDER, err := p.srv.CRL(ctx, p.identity)
			if err != nil {
				t.Fatal(err)
			}
			crl, err := x509.ParseRevocationList(crlDER)
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, e := range crl.RevokedCertificateEntries {
				listed = append(listed, e.SerialNumber.Text(16))
			}
			slices.Sort(listed)
			wantListed := []string{d.Chain[0].SerialNumber.Text(16), r.Device.Chain[0].SerialNumber.Text(16)}
			slices.Sort(wantListed)
			if !slices.Equal(listed, wantListed) {
				t.Errorf("CRL lists %v, want both certificates of the device key %v", listed, wantListed)
			}
			checkAudit(t, p.st, []string{"device.issue", "device.issue", "device.revoke", "device.revoke"})
		})
	}
}

func TestDeviceCreatedAtIssuance(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	ctx := context.Background()

	before := time.Now().Truncate(time.Microsecond)
	d, err := client.Enroll(ctx, client.EnrollOptions{Code: p.code(t, "laptop"), Dir: t.TempDir(), HTTPClient: p.ts.Client()})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	after := time.Now()

	dev, err := p.st.DeviceBySerial(ctx, acme.SerialText(d.Chain[0].SerialNumber))
	if err != nil {
		t.Fatal(err)
	}
	// NotBefore is backdated by pki.ClockSkew, so it lies before the
	// enrollment started.
	if dev.CreatedAt.Before(before) || dev.CreatedAt.After(after) {
		t.Errorf("device created at %v, want the time of issue between %v and %v (NotBefore is %v)", dev.CreatedAt, before, after, d.Chain[0].NotBefore)
	}
}

// checkAudit asserts// checkAudit asserts that the device certificate entries of the audit log
// are the actions in want, in any order, and that each names the handle.
func checkAudit(t *testing.T, st store.Store, want []string) {
	t.Helper()
	entries, err := st.Audit(context.Background(), 20)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Action, "device.") || e.Action == "device.enrollment" {
			continue
		}
		if e.Subject != string(alice) {
			t.Errorf("audit %s names %q, want %s", e.Action, e.Subject, alice)
		}
		got = append(got, e.Action)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("audit device entries = %v, want %v", got, want)
	}
}

// checkDevice asserts that the store lists the certificate as a device with
// the status.
func checkDevice(t *testing.T, st store.Store, cert *x509.Certificate, status string) {
	t.Helper()
	dev, err := st.DeviceBySerial(context.Background(), acme.SerialText(cert.SerialNumber))
	if err != nil {
		t.Fatalf("device of serial %x: %v", cert.SerialNumber, err)
	}
	if dev.Status != status || dev.Label != "laptop" {
		t.Errorf("device %s: status %q label %q, want %q laptop", dev.Serial, dev.Status, dev.Label, status)
	}
}

// TestBackendRules checks the rules a Backend enforces in one transaction.
func TestBackendRules(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	ctx := context.Background()
	b, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		t.Fatal(err)
	}
	cred := &acme.EABCredential{KeyID: "kid-1", Key: []byte("0123456789abcdef0123456789abcdef"), IdentityID: p.identity, Label: "laptop"}
	cred.Expires = p.csc.Certificate.NotAfter
	if err := b.CreateEABCredential(ctx, cred); err != nil {
		t.Fatal(err)
	}
	acct := &acme.Account{ID: "acct-1", Key: []byte(`{}`), Thumbprint: "tp-1", Status: acme.AccountValid, EABKeyID: "kid-1", IdentityID: p.identity, Label: "laptop"}

	steps := []struct {
		name string
		run  func() error
		want error
	}{
		{"duplicate credential", func() error { return b.CreateEABCredential(ctx, cred) }, acme.ErrDuplicate},
		{"unknown credential", func() error { _, err := b.EABCredential(ctx, "nope"); return err }, acme.ErrNotFound},
		{"create account", func() error { return b.CreateAccount(ctx, acct) }, nil},
		{"credential used twice", func() error {
			again := *acct
			again.ID, again.Thumbprint = "acct-2", "tp-2"
			return b.CreateAccount(ctx, &again)
		}, acme.ErrEABUsed},
		{"order", func() error {
			return b.CreateOrder(ctx, &acme.Order{ID: "o-1", AccountID: "acct-1", IdentityID: p.identity, Status: acme.OrderReady, Expires: cred.Expires})
		}, nil},
		{"order changed concurrently", func() error {
			o, err := b.Order(ctx, "o-1")
			if err != nil {
				return err
			}
			o.Status = acme.OrderValid
			return b.UpdateOrder(ctx, o, acme.OrderProcessing)
		}, acme.ErrStatusChanged},
		{"orders page after unknown order", func() error { _, err := b.AccountOrders(ctx, "acct-1", "o-9", 10); return err }, acme.ErrNotFound},
		{"unknown identity", func() error { _, err := b.Issuer(ctx, "999"); return err }, acme.ErrNotFound},
		{"malformed identity", func() error { _, err := b.Issuer(ctx, "alice"); return err }, acme.ErrNotFound},
		{"revoke unknown certificate", func() error { return b.RevokeCertificate(ctx, "abc", pki.ReasonUnspecified, cred.Expires) }, acme.ErrNotFound},
	}
	for _, s := range steps {
		err := s.run()
		if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
			t.Errorf("%s: %v, want %v", s.name, err, s.want)
		}
	}

	got, err := b.EABCredential(ctx, "kid-1")
	if err != nil || got.AccountID != "acct-1" || string(got.Key) != string(cred.Key) {
		t.Errorf("bound credential = %+v, %v", got, err)
	}
	ids, err := b.AccountOrders(ctx, "acct-1", "", 10)
	if err != nil || len(ids) != 1 || ids[0] != "o-1" {
		t.Errorf("orders = %v, %v", ids, err)
	}
	iss, err := b.Issuer(ctx, p.identity)
	if err != nil || !iss.CSC.Certificate.Equal(p.csc.Certificate) || iss.DID != p.csc.DID {
		t.Errorf("issuer = %+v, %v", iss, err)
	}
}
