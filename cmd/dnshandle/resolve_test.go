package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/resolve/dnssec"
	"github.com/dnshandle/dnshandle/verify"
)

// testWorld is a signed DNS tree on loopback with alice.dhp.test's
// records, and the files a user would pass to the commands.
type testWorld struct {
	server     *dnstest.Server
	anchorFile string
	chainFile  string
	keyFile    string
	did        string
}

func newTestWorld(t *testing.T) *testWorld {
	t.Helper()
	h := handle.Handle("alice.dhp.test")
	csc, err := pki.NewCSC(rand.Reader, h, pki.CSCOptions{})
	if err != nil {
		t.Fatal(err)
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

	set := records.HandleRecords{Handle: h, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(csc.Certificate)}, DID: csc.DID.String()}
	root := dnstest.MustZone(t, ".")
	tld := dnstest.MustZone(t, "test.")
	dhp := dnstest.MustZone(t, "dhp.test.", set.ZoneText())
	if err := dnstest.SignChain(dnstest.SignOptions{NSEC3: true}, root, tld, dhp); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	w := &testWorld{
		server:     dnstest.Start(t, root, tld, dhp),
		anchorFile: filepath.Join(dir, "anchor.ds"),
		chainFile:  filepath.Join(dir, "chain.pem"),
		keyFile:    filepath.Join(dir, "key.pem"),
		did:        csc.DID.String(),
	}
	if err := pki.WritePrivateKeyFile(w.keyFile, key); err != nil {
		t.Fatal(err)
	}
	if err := dnstest.WriteAnchorFile(w.anchorFile, root); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.chainFile, pki.EncodeCertificates(leaf, csc.Certificate), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestResolveCommandSecure(t *testing.T) {
	w := newTestWorld(t)

	out, err := runCommand(t, "resolve", "@alice.dhp.test", "--server", w.server.Addr, "--trust-anchor", w.anchorFile)
	if err != nil {
		t.Fatalf("resolve: %v\n%s", err, out)
	}
	for _, want := range []string{"TLSA    alice.dhp.test.  secure", "did=" + w.did} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestResolveCommandJSON(t *testing.T) {
	w := newTestWorld(t)

	out, err := runCommand(t, "resolve", "alice.dhp.test", "--json", "--server", w.server.Addr, "--trust-anchor", w.anchorFile)
	if err != nil {
		t.Fatalf("resolve --json: %v\n%s", err, out)
	}
	var view struct {
		Handle    string `json:"handle"`
		DID       string `json:"did"`
		TLSARRset struct {
			Status string `json:"status"`
		} `json:"tlsa_rrset"`
	}
	if err := json.Unmarshal([]byte(out), &view); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out)
	}
	if view.Handle != "alice.dhp.test" || view.DID != w.did || view.TLSARRset.Status != "secure" {
		t.Errorf("view = %+v, want alice.dhp.test, %s, secure", view, w.did)
	}
}

func TestResolveCommandMissingHandle(t *testing.T) {
	w := newTestWorld(t)

	out, err := runCommand(t, "resolve", "@bob.dhp.test", "--server", w.server.Addr, "--trust-anchor", w.anchorFile)
	if err == nil {
		t.Fatalf("resolve of a missing handle succeeded:\n%s", out)
	}
	if !strings.Contains(out, "bob.dhp.test. does not exist (NXDOMAIN): publish") {
		t.Errorf("output lacks the advice to publish:\n%s", out)
	}
}

func TestResolveCommandSnapshotOffline(t *testing.T) {
	w := newTestWorld(t)
	snapshot := filepath.Join(t.TempDir(), "hub.snapshot")

	out, err := runCommand(t, "resolve", "@alice.dhp.test", "--server", w.server.Addr, "--trust-anchor", w.anchorFile, "--write-snapshot", snapshot)
	if err != nil {
		t.Fatalf("resolve --write-snapshot: %v\n%s", err, out)
	}
	if !strings.Contains(out, "wrote the records of 1 handle, with their signatures") {
		t.Errorf("resolve --write-snapshot does not count the one handle in the singular:\n%s", out)
	}
	if err := w.server.Close(); err != nil {
		t.Fatal(err)
	}

	out, err = runCommand(t, "resolve", "@alice.dhp.test", "--snapshot", snapshot, "--trust-anchor", w.anchorFile)
	if err != nil {
		t.Fatalf("resolve --snapshot with the server stopped: %v\n%s", err, out)
	}
	if !strings.Contains(out, "secure") || !strings.Contains(out, "did="+w.did) {
		t.Errorf("offline output lacks the secure records:\n%s", out)
	}
}

func TestVerifyCommandChain(t *testing.T) {
	w := newTestWorld(t)

	out, err := runCommand(t, "verify", "--chain", w.chainFile, "--server", w.server.Addr, "--trust-anchor", w.anchorFile)
	if err != nil {
		t.Fatalf("verify --chain: %v\n%s", err, out)
	}
	for _, want := range []string{"pass  tlsa", "pass  did", "skip  revocation", "identity: handle @alice.dhp.test, DID " + w.did} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVerifyCommandDenied(t *testing.T) {
	w := newTestWorld(t)
	before := w.server.Queries()

	out, err := runCommand(t, "verify", "--chain", w.chainFile, "--server", w.server.Addr, "--trust-anchor", w.anchorFile, "--deny", "dhp.test")
	if err == nil {
		t.Fatalf("verify with the handle denied succeeded:\n%s", out)
	}
	if !strings.Contains(out, "FAIL  policy") || !strings.Contains(out, "-     dns        not run") {
		t.Errorf("output does not show the policy failure before DNS:\n%s", out)
	}
	if got := w.server.Queries(); got != before {
		t.Errorf("the DNS server got %d queries for a denied handle, want none", got-before)
	}
}

// startRelyingParty serves a DNS-handle login page over TLS 1.3 that
// resolves handles in w.
func (w *testWorld) startRelyingParty(t *testing.T) string {
	t.Helper()
	file, err := os.Open(w.anchorFile)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	trust, err := dnssec.ParseAnchors(file)
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolve.New(resolve.Config{Servers: []string{w.server.Addr}, TrustAnchors: trust})
	if err != nil {
		t.Fatal(err)
	}
	v := &verify.Verifier{Resolver: r}
	srv := httptest.NewUnstartedServer(v.Middleware(verify.RequireIdentity("test", "https://rp.test/login",
		http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("ok")) }))))
	srv.TLS = verify.ServerConfig(nil, v)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestVerifyCommandConnect(t *testing.T) {
	w := newTestWorld(t)
	addr := w.startRelyingParty(t)

	out, err := runCommand(t, "verify", "--connect", addr, "--cert", w.chainFile, "--key", w.keyFile,
		"--server", w.server.Addr, "--trust-anchor", w.anchorFile)
	if err != nil {
		t.Fatalf("verify --connect: %v\n%s", err, out)
	}
	for _, want := range []string{"client certificate requested: true", `in certificate_authorities: true`, "login with " + w.chainFile + ": accepted", "pass  did"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVerifyCommandConnectFailures(t *testing.T) {
	w := newTestWorld(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name, addr, want string
	}{
		{"nothing listening", closedAddr, "handshake with " + closedAddr + " failed"},
		{"not a TLS server", w.server.Addr, "handshake with " + w.server.Addr + " failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCommand(t, "verify", "--connect", tc.addr, "--cert", w.chainFile, "--key", w.keyFile,
				"--server", w.server.Addr, "--trust-anchor", w.anchorFile)
			if err == nil {
				t.Fatalf("verify --connect %s succeeded:\n%s", tc.addr, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestResolveCommandUsageErrors(t *testing.T) {
	w := newTestWorld(t)
	snapshot := filepath.Join(t.TempDir(), "hub.snapshot")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no handle", []string{"resolve"}, "missing handle"},
		{"snapshot without anchors", []string{"resolve", "alice.dhp.test", "--server", w.server.Addr, "--write-snapshot", snapshot}, "--write-snapshot needs --trust-anchor"},
		{"snapshot and server", []string{"resolve", "alice.dhp.test", "--server", w.server.Addr, "--snapshot", snapshot}, "drop --server"},
		{"snapshot not a snapshot", []string{"resolve", "alice.dhp.test", "--snapshot", w.chainFile}, w.chainFile},
		{"snapshot in missing folder", []string{"resolve", "alice.dhp.test", "--server", w.server.Addr, "--trust-anchor", w.anchorFile, "--write-snapshot", "/nonexistent/dir/x.snapshot"}, "/nonexistent/dir/x.snapshot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCommand(t, tc.args...)
			if err == nil {
				t.Fatalf("%v succeeded:\n%s", tc.args, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
