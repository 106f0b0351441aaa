//go:build interop

package acme

import (
	"context"
	"crypto/rand"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// requireProgram returns the path of name or skips the test, naming the
// Debian package that provides it.
func requireProgram(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found: install the Debian package %s to run this test", name, debianPackage)
	}
	return path
}

// tlsEnv is a testEnv served over HTTPS with its CA certificate in a PEM
// file, as real clients require.
type tlsEnv struct {
	*testEnv
	caFile string
}

func newTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	csc, err := pki.NewCSC(rand.Reader, testHandle, pki.CSCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	backend := NewMemoryBackend()
	iss := &Issuer{IdentityID: testIdentity, CSC: csc}
	backend.AddIssuer(iss)

	ts := httptest.NewUnstartedServer(nil)
	srv, err := NewServer(Config{BaseURL: "https://" + ts.Listener.Addr().String() + "/acme", Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.StartTLS()
	t.Cleanup(ts.Close)

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.EncodeCertificates(ts.Certificate()), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, server: srv, backend: backend, http: ts, clock: &testClock{now: time.Now()}, issuer: iss}
	return &tlsEnv{testEnv: e, caFile: caFile}
}

// verifyChain checks chain with verify.Verifier against a signed loopback
// DNS tree that publishes the identity's TLSA and DID records.
func (e *tlsEnv) verifyChain(t *testing.T, chainPEM []byte) {
	t.Helper()
	chain, err := pki.DecodeCertificates(chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	csc := e.issuer.CSC
	set := records.HandleRecords{Handle: testHandle, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(csc.Certificate)}, DID: csc.DID.String()}
	root := dnstest.MustZone(t, ".")
	tld := dnstest.MustZone(t, "test.")
	dhp := dnstest.MustZone(t, "dhp.test.", set.ZoneText())
	if err := dnstest.SignChain(dnstest.SignOptions{}, root, tld, dhp); err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Start(t, root, tld, dhp)
	r, err := resolve.New(resolve.Config{Servers: []string{dns.Addr}, TrustAnchors: root.DS()})
	if err != nil {
		t.Fatal(err)
	}
	id, err := (&verify.Verifier{Resolver: r}).VerifyChain(context.Background(), chain)
	if err != nil {
		t.Fatalf("verify the chain the client stored: %v", err)
	}
	if id.Handle != testHandle || id.DID != csc.DID.String() {
		t.Errorf("identity = %+v", id)
	}
}

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestLegoInterop obtains a device certificate with Debian's lego and its
// EAB options. lego insists on one configured challenge solver although
// the authorization is valid already; the HTTP-01 solver on an unused
// loopback port is never started.
func TestLegoInterop(t *testing.T) {
	lego := requireProgram(t, "lego", "lego")
	e := newTLSEnv(t)
	en := e.enrollment("lego")
	dir := t.TempDir()

	run(t, []string{"LEGO_CA_CERTIFICATES=" + e.caFile}, lego,
		"--server", e.server.DirectoryURL(),
		"--accept-tos", "--email", "alice@dhp.test",
		"--eab", "--kid", en.KeyID, "--hmac", en.EncodedKey(),
		"--domains", string(testHandle), "--key-type", "ec256",
		"--http", "--http.port", "127.0.0.1:"+freeLoopbackPort(t),
		"--path", dir, "run")

	chainPEM, err := os.ReadFile(filepath.Join(dir, "certificates", string(testHandle)+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	e.verifyChain(t, chainPEM)
}

// TestCertbotInterop obtains a device certificate with Debian's certbot
// from a CSR, with its EAB options. certbot needs an authenticator even
// though it skips valid authorizations: the manual plugin with a no-op hook.
func TestCertbotInterop(t *testing.T) {
	certbot := requireProgram(t, "certbot", "certbot")
	e := newTLSEnv(t)
	en := e.enrollment("certbot")
	dir := t.TempDir()

	key := newDeviceKey(t)
	csr, err := pki.CreateCSR(nil, key, testHandle)
	if err != nil {
		t.Fatal(err)
	}
	csrFile := filepath.Join(dir, "csr.pem")
	if err := os.WriteFile(csrFile, pki.EncodeCSR(csr), 0o644); err != nil {
		t.Fatal(err)
	}

	run(t, []string{"REQUESTS_CA_BUNDLE=" + e.caFile}, certbot, "certonly",
		"--non-interactive", "--agree-tos", "--register-unsafely-without-email",
		"--server", e.server.DirectoryURL(),
		"--eab-kid", en.KeyID, "--eab-hmac-key", en.EncodedKey(),
		"--csr", csrFile,
		"--cert-path", filepath.Join(dir, "cert.pem"),
		"--chain-path", filepath.Join(dir, "chain.pem"),
		"--fullchain-path", filepath.Join(dir, "fullchain.pem"),
		"--manual", "--preferred-challenges", "dns", "--manual-auth-hook", "/bin/true",
		"--config-dir", filepath.Join(dir, "config"),
		"--work-dir", filepath.Join(dir, "work"),
		"--logs-dir", filepath.Join(dir, "logs"))

	chainPEM, err := os.ReadFile(filepath.Join(dir, "fullchain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	e.verifyChain(t, chainPEM)
}
