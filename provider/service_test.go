package provider

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/dnsserver"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// testService opens a provider on a fresh SQLite store with the zone
// dhp.test. and an account "alice".
func testService(t *testing.T) *Service {
	t.Helper()
	ctx := context.Background()
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DNSHANDLE_KEK", hex.EncodeToString(kek))
	cfg := &Config{DataDir: t.TempDir(), DNS: DNSConfig{Zones: []ZoneConfig{{Name: "dhp.test"}}}}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	svc, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.EnsureZones(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAccount(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	return svc
}

// startDNS serves the provider's zones on a loopback port.
func startDNS(t *testing.T, svc *Service) string {
	t.Helper()
	srv, err := dnsserver.NewServer(svc.Store, dnsserver.Config{Addr: "127.0.0.1:0", Zones: zoneNames(svc.Config)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv.Addr()
}

func TestCreateHostedIdentityIsPublishedSigned(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	h := handle.Handle("alice.dhp.test")

	created, err := svc.CreateIdentity(ctx, "alice", h, IdentityOptions{OAuth: "https://dhp.test"})
	if err != nil {
		t.Fatalf("CreateIdentity: %v", err)
	}
	if !created.Identity.Hosted || !created.Identity.Verified || created.Serial == 0 {
		t.Errorf("identity hosted=%v verified=%v serial=%d, want a hosted, verified identity and a serial", created.Identity.Hosted, created.Identity.Verified, created.Serial)
	}

	addr := startDNS(t, svc)
	ds, err := svc.Signer.DS(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	anchors := make([]dns.RR, len(ds))
	for i, d := range ds {
		anchors[i] = d
	}
	r, err := resolve.New(resolve.Config{Servers: []string{addr}, TrustAnchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(ctx, h)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if res.TLSAInfo.Status != resolve.Secure || res.ATProtoInfo.Status != resolve.Secure {
		t.Errorf("statuses %s (%s) and %s (%s), want secure", res.TLSAInfo.Status, res.TLSAInfo.Reason, res.ATProtoInfo.Status, res.ATProtoInfo.Reason)
	}
	if res.ATProto.DID != created.Identity.DID || res.ATProto.OAuth != "https://dhp.test" {
		t.Errorf("TXT attributes %+v, want did=%s oauth=https://dhp.test", res.ATProto, created.Identity.DID)
	}

	// A device certificate issued with the stored, sealed CSC key passes
	// the relying party's verifier.
	csc, err := svc.LoadCSC(ctx, h)
	if err != nil {
		t.Fatalf("LoadCSC: %v", err)
	}
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
	leaf, err := pki.IssueDevice(rand.Reader, csc, csr, pki.DeviceOptions{Label: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	v := &verify.Verifier{Resolver: r}
	id, err := v.VerifyChain(ctx, []*x509.Certificate{leaf, csc.Certificate})
	if err != nil {
		t.Fatalf("VerifyChain: %v", err)
	}
	if id.Handle != h || id.DID != created.Identity.DID || id.DNSSEC != resolve.Secure {
		t.Errorf("identity %+v, want %s with %s, secure", id, h, created.Identity.DID)
	}
}

func TestCreateIdentityOwnDomain(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	before, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}

	created, err := svc.CreateIdentity(ctx, "alice", handle.Handle("alice.example.com"), IdentityOptions{})
	if err != nil {
		t.Fatalf("CreateIdentity: %v", err)
	}
	if created.Identity.Hosted || created.Identity.Verified || created.Serial != 0 {
		t.Errorf("own-domain identity hosted=%v verified=%v serial=%d, want none of them", created.Identity.Hosted, created.Identity.Verified, created.Serial)
	}
	if !strings.Contains(created.Records.ZoneText(), "alice.example.com.\t300\tIN\tTLSA\t2 1 1 ") {
		t.Errorf("records to publish lack the TLSA record:\n%s", created.Records.ZoneText())
	}
	after, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("provider zone serial moved from %d to %d for an own-domain handle", before, after)
	}
}

func TestCreateIdentityTwice(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	h := handle.Handle("bob.dhp.test")
	if _, err := svc.CreateIdentity(ctx, "alice", h, IdentityOptions{}); err != nil {
		t.Fatal(err)
	}
	serial, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}

	_, err = svc.CreateIdentity(ctx, "alice", h, IdentityOptions{})
	if err == nil || !strings.Contains(err.Error(), "already taken") {
		t.Fatalf("second CreateIdentity = %v, want an error saying the handle is taken", err)
	}
	if again, _ := svc.Store.ZoneSerial(ctx, "dhp.test."); again != serial {
		t.Errorf("zone serial moved from %d to %d on a rejected creation", serial, again)
	}
}

func TestCreateIdentityUnknownAccount(t *testing.T) {
	svc := testService(t)
	_, err := svc.CreateIdentity(context.Background(), "mallory", handle.Handle("m.dhp.test"), IdentityOptions{})
	if err == nil || !strings.Contains(err.Error(), `account "mallory"`) {
		t.Fatalf("CreateIdentity for an unknown account = %v, want an error naming it", err)
	}
}

func TestCreateAccountRules(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	if _, err := svc.CreateAccount(ctx, "bob", "short"); err == nil {
		t.Error("CreateAccount accepted a 5-character password")
	}
	if _, err := svc.CreateAccount(ctx, "alice", "another long password"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate CreateAccount = %v, want an error saying it exists", err)
	}
	acct, err := svc.Store.AccountByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := store.CheckPassword(acct.PasswordHash, "correct horse battery staple")
	if err != nil || !ok {
		t.Errorf("CheckPassword of the stored hash = %v, %v; want true", ok, err)
	}
	if !strings.HasPrefix(acct.PasswordHash, "$argon2id$") {
		t.Errorf("password hash %q is not an argon2id PHC string", acct.PasswordHash)
	}
}

func TestCreateAccountLowercasesName(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	acct, err := svc.CreateAccount(ctx, "  Bob ", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if acct.Name != "bob" {
		t.Errorf("stored name %q, want bob", acct.Name)
	}
	if _, err := svc.CreateIdentity(ctx, "BOB", handle.Handle("bob.dhp.test"), IdentityOptions{}); err != nil {
		t.Errorf("CreateIdentity with the name in capitals: %v", err)
	}
}
