package client_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

const alice = handle.Handle("alice.dhp.test")

// world is a provider's ACME server for one identity and a signed DNS tree
// on loopback that publishes the identity's records.
type world struct {
	acme     *acme.Server
	backend  *acme.MemoryBackend
	identity string
	verifier *verify.Verifier
}

// newWorld builds the world. wrap, when not nil, wraps the ACME handler.
func newWorld(t *testing.T, wrap func(http.Handler) http.Handler) *world {
	t.Helper()
	csc, err := pki.NewCSC(rand.Reader, alice, pki.CSCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	backend := acme.NewMemoryBackend()
	backend.AddIssuer(&acme.Issuer{IdentityID: "alice", CSC: csc})

	ts := httptest.NewUnstartedServer(nil)
	srv, err := acme.NewServer(acme.Config{BaseURL: "http://" + ts.Listener.Addr().String() + "/acme", Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	if wrap != nil {
		ts.Config.Handler = wrap(ts.Config.Handler)
	}
	ts.Start()
	t.Cleanup(ts.Close)

	set := records.HandleRecords{Handle: alice, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(csc.Certificate)}, DID: csc.DID.String()}
	root := dnstest.MustZone(t, ".")
	tld := dnstest.MustZone(t, "test.")
	dhp := dnstest.MustZone(t, "dhp.test.", set.ZoneText())
	if err := dnstest.SignChain(dnstest.SignOptions{NSEC3: true}, root, tld, dhp); err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Start(t, root, tld, dhp)
	r, err := resolve.New(resolve.Config{Servers: []string{dns.Addr}, TrustAnchors: root.DS()})
	if err != nil {
		t.Fatal(err)
	}

	// The relying party fetches the CRL from the distribution point the
	// provider wrote into the device certificates.
	crlURL := srv.CRLURL("alice")
	crls := verify.CRLSourceFunc(func(ctx context.Context, _ *x509.Certificate) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, crlURL, nil)
		if err != nil {
			return nil, err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, errors.New("CRL fetch: " + res.Status)
		}
		return io.ReadAll(res.Body)
	})
	return &world{acme: srv, backend: backend, identity: "alice", verifier: &verify.Verifier{Resolver: r, CRLs: crls}}
}

func (w *world) code(t *testing.T, label string) string {
	t.Helper()
	en, err := w.acme.NewEnrollment(context.Background(), w.identity, label)
	if err != nil {
		t.Fatal(err)
	}
	return en.Code()
}

// lastOrder returns the newest order of the account.
func (w *world) lastOrder(t *testing.T, accountURL string) *acme.Order {
	t.Helper()
	id := accountURL[strings.LastIndex(accountURL, "/")+1:]
	ids, err := w.backend.AccountOrders(context.Background(), id, "", 1000)
	if err != nil || len(ids) == 0 {
		t.Fatalf("orders of %s: %v, %v", accountURL, ids, err)
	}
	o, err := w.backend.Order(context.Background(), ids[len(ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestEnrollVerifyRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	ctx := context.Background()

	laptopDir, phoneDir := t.TempDir(), t.TempDir()
	laptop, err := client.Enroll(ctx, client.EnrollOptions{Code: w.code(t, "laptop"), Dir: laptopDir})
	if err != nil {
		t.Fatalf("enroll laptop: %v", err)
	}
	phone, err := client.Enroll(ctx, client.EnrollOptions{Code: w.code(t, "phone"), Dir: phoneDir, KeyType: pki.KeyEd25519})
	if err != nil {
		t.Fatalf("enroll phone: %v", err)
	}
	if laptop.Label != "laptop" || phone.Label != "phone" || laptop.Fingerprint == phone.Fingerprint {
		t.Fatalf("devices: %q %s, %q %s", laptop.Label, laptop.Fingerprint, phone.Label, phone.Fingerprint)
	}

	for _, d := range []*client.Device{laptop, phone} {
		id, err := w.verifier.VerifyChain(ctx, d.Chain)
		if err != nil {
			t.Fatalf("verify %s: %v", d.Label, err)
		}
		if id.Handle != alice || id.Device != d.Fingerprint || id.DID != d.DID || id.DNSSEC != resolve.Secure {
			t.Errorf("identity of %s = %+v", d.Label, id)
		}
	}

	if err := client.Revoke(ctx, laptop.Dir, client.RevokeOptions{Reason: pki.ReasonKeyCompromise}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	_, err = w.verifier.VerifyChain(ctx, laptop.Chain)
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Step != verify.StepRevocation {
		t.Fatalf("revoked laptop: %v, want a failure at the revocation step", err)
	}
	if _, err := w.verifier.VerifyChain(ctx, phone.Chain); err != nil {
		t.Fatalf("phone after the laptop's revocation: %v", err)
	}

	again, err := client.Load(laptop.Dir)
	if err != nil || again.Revoked.IsZero() {
		t.Errorf("stored laptop after revoke: %+v, %v", again, err)
	}

	err = client.Revoke(ctx, laptop.Dir, client.RevokeOptions{})
	var rerr *client.RevokedError
	if !errors.As(err, &rerr) {
		t.Fatalf("second revoke: %v, want *client.RevokedError", err)
	}
	if !rerr.At.Equal(again.Revoked) {
		t.Errorf("second revoke reports %s, want the first revocation time %s", rerr.At, again.Revoked)
	}
}

func TestEnrollFiles(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	dir := t.TempDir()
	d, err := client.Enroll(context.Background(), client.EnrollOptions{Code: w.code(t, "laptop"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if d.Dir != client.DeviceDir(dir, alice) {
		t.Errorf("device dir %s", d.Dir)
	}
	for name, mode := range map[string]os.FileMode{client.KeyFile: 0o600, client.AccountKeyFile: 0o600, client.ChainFile: 0o644, client.MetaFile: 0o644} {
		fi, err := os.Stat(filepath.Join(d.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	if _, err := d.TLSCertificate(); err != nil {
		t.Errorf("TLS certificate: %v", err)
	}

	list, err := client.List(dir)
	if err != nil || len(list) != 1 || list[0].Handle != alice {
		t.Fatalf("List = %v, %v", list, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("base directory holds %d entries, want only the device directory", len(entries))
	}

	_, err = client.Enroll(context.Background(), client.EnrollOptions{Code: w.code(t, "laptop"), Dir: dir})
	var exists *client.ExistsError
	if !errors.As(err, &exists) {
		t.Fatalf("second enrollment into the same directory: %v, want *ExistsError", err)
	}
	if !exists.Enrolled || !strings.Contains(err.Error(), "already enrolled") {
		t.Errorf("ExistsError for an enrolled device: Enrolled=%v, %q", exists.Enrolled, err)
	}

	// A directory with only an unrelated file is not called enrolled.
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "alice.dhp.test"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "alice.dhp.test", "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = client.Enroll(context.Background(), client.EnrollOptions{Code: w.code(t, "laptop"), Dir: other})
	if !errors.As(err, &exists) || exists.Enrolled || !strings.Contains(err.Error(), "holds no enrolled device") {
		t.Errorf("enrollment into a directory without a device: %v, want *ExistsError that says it holds no device", err)
	}
}

func TestEnrollUsedCode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	code := w.code(t, "laptop")
	if _, err := client.Enroll(context.Background(), client.EnrollOptions{Code: code, Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err := client.Enroll(context.Background(), client.EnrollOptions{Code: code, Dir: dir})
	var perr *client.ProtocolError
	if !errors.As(err, &perr) || perr.Step != "register" {
		t.Fatalf("enrollment with a used code: %v, want a register failure", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed enrollment left %d entries", len(entries))
	}
}

func TestRenew(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	ctx := context.Background()
	d, err := client.Enroll(ctx, client.EnrollOptions{Code: w.code(t, "laptop"), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}

	r, err := client.Renew(ctx, d.Dir, client.RenewOptions{})
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if r.Renewed || r.WindowStart.IsZero() || r.RenewAt.Before(r.WindowStart) || !r.RenewAt.Before(r.WindowEnd) {
		t.Fatalf("renewal of a fresh certificate: %+v", r)
	}

	// At the end of the window the device renews, keeping its key.
	at := r.WindowEnd
	r, err = client.Renew(ctx, d.Dir, client.RenewOptions{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("renew in the window: %v", err)
	}
	if !r.Renewed || r.Device.Leaf().SerialNumber.Cmp(d.Leaf().SerialNumber) == 0 || r.Device.Fingerprint != d.Fingerprint {
		t.Fatalf("renewal: renewed %v, device %+v", r.Renewed, r.Device)
	}
	if _, err := w.verifier.VerifyChain(ctx, r.Device.Chain); err != nil {
		t.Fatalf("verify renewed certificate: %v", err)
	}
	oldID, err := client.CertID(d.Leaf())
	if err != nil {
		t.Fatal(err)
	}
	if got := w.lastOrder(t, d.AccountURL).Replaces; got != oldID {
		t.Errorf("renewal order replaces %q, want %q", got, oldID)
	}

	// The old certificate is replaced already; a forced renewal of the new
	// one with a new key works and changes the device id.
	r2, err := client.Renew(ctx, d.Dir, client.RenewOptions{Force: true, NewKey: true})
	if err != nil {
		t.Fatalf("forced renewal: %v", err)
	}
	if !r2.Renewed || r2.Device.Fingerprint == d.Fingerprint {
		t.Fatalf("forced renewal with a new key kept fingerprint %s", r2.Device.Fingerprint)
	}
	cert, err := r2.Device.TLSCertificate()
	if err != nil {
		t.Fatalf("renewed key and chain do not load: %v", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PrivateKey.(crypto.Signer).Public()) {
		t.Error("renewed chain.pem does not match the new key.pem")
	}
}

// withoutRenewalInfo removes renewalInfo from the directory, as a server
// without RFC 9773 support sends it.
func withoutRenewalInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/directory") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var dir map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &dir); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		delete(dir, "renewalInfo")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(dir)
	})
}

func TestRenewWithoutRenewalInfo(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withoutRenewalInfo)
	ctx := context.Background()
	d, err := client.Enroll(ctx, client.EnrollOptions{Code: w.code(t, "laptop"), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}

	r, err := client.Renew(ctx, d.Dir, client.RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantAt := d.NotBefore.Add(d.NotAfter.Sub(d.NotBefore) * 2 / 3)
	if r.Renewed || !r.WindowStart.IsZero() || !r.RenewAt.Equal(wantAt) {
		t.Fatalf("renewal without renewal information: %+v, want RenewAt %s", r, wantAt)
	}

	at := wantAt
	r, err = client.Renew(ctx, d.Dir, client.RenewOptions{Now: func() time.Time { return at }})
	if err != nil || !r.Renewed {
		t.Fatalf("renewal at two thirds of the lifetime: %+v, %v", r, err)
	}
}

// A device whose certificate was revoked enrolls again with a new code in
// the same place; the revoked files move aside and are not listed.
func TestEnrollAgainAfterRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	dir := t.TempDir()
	ctx := context.Background()
	first, err := client.Enroll(ctx, client.EnrollOptions{Code: w.code(t, "laptop"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Revoke(ctx, first.Dir, client.RevokeOptions{}); err != nil {
		t.Fatal(err)
	}

	second, err := client.Enroll(ctx, client.EnrollOptions{Code: w.code(t, "laptop"), Dir: dir})
	if err != nil {
		t.Fatalf("enrollment after revocation: %v", err)
	}
	if second.Replaced == "" || !strings.HasPrefix(filepath.Base(second.Replaced), ".alice.dhp.test.revoked-") {
		t.Errorf("Replaced = %q, want the hidden directory of the revoked device", second.Replaced)
	}
	if second.Dir != first.Dir || !second.Revoked.IsZero() || second.Fingerprint == first.Fingerprint {
		t.Errorf("second device = %s revoked %v fingerprint %s, want a new active device in %s", second.Dir, second.Revoked, second.Fingerprint, first.Dir)
	}
	list, err := client.List(dir)
	if err != nil || len(list) != 1 || !list[0].Revoked.IsZero() {
		t.Errorf("List after enrolling again = %v, %v; want the new device only", list, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	aside := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".alice.dhp.test.revoked-") {
			aside++
		}
	}
	if aside != 1 {
		t.Errorf("%d directories of revoked devices kept aside, want 1: %v", aside, entries)
	}
}
