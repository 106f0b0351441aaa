package demo

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/internal/htmltest"
	"github.com/dnshandle/dnshandle/proxy"
	"github.com/dnshandle/dnshandle/verify"
)

func TestRunPrintsEveryStep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()

	var out bytes.Buffer
	if err := Run(ctx, &out, Options{DataDir: dir}); err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
	}
	text := out.String()

	for _, want := range []string{
		"[1/10] provider: DNS Handle Provider for dhp.test.",
		"[2/10] identity: account \"alice\" and @alice.dhp.test",
		`[3/10] device: enrolled "laptop" over ACME`,
		"[4/10] resolve @alice.dhp.test",
		"TLSA alice.dhp.test.: secure",
		"oauth=https://127.0.0.1:",
		"[6/10] TLS login with the device certificate: signed in as @alice.dhp.test",
		"[7/10] OIDC login in a browser without a certificate",
		"signed in at the provider as account \"alice\"",
		"DNS-Handle-Method: oidc",
		"[8/10] same person, same account: certificate and OIDC logins both gave DID did:key:",
		"without a certificate -> 401, WWW-Authenticate: DNSHandle realm=",
		"signed by another CSC -> 403; verifier: verify: tlsa:",
		"[10/10] revocation: device \"lost phone\" signed in, then the account revoked it at the provider",
		"the same certificate -> 403 Forbidden: the DNS handle certificate for alice.dhp.test failed the revocation check",
		"the site fetched the CRL at the certificate's distribution point https://127.0.0.1:",
		"/acme/crl/",
		"(keyCompromise)",
		`device "laptop" still signs in`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(text), SuccessLine) {
		t.Errorf("output does not end with the success line:\n%s", text)
	}

	for _, name := range []string{"csc.pem", "device-chain.pem", "server-ca.pem", "trust-anchor.ds", "kek.hex", "provider/dnshandle.db", "provider/acme/ca.pem", "device/alice.dhp.test/chain.pem"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("data directory lacks %s: %v", name, err)
		}
	}
	for _, secret := range []string{"kek.hex", "device/alice.dhp.test/key.pem"} {
		info, err := os.Stat(filepath.Join(dir, secret))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", secret, err)
		}
	}
}

func TestRunRejectsNonEmptyDataDir(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "csc.pem")
	if err := os.WriteFile(keep, []byte("earlier certificate"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	err := Run(context.Background(), &out, Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("Run with a non-empty --data = %v, want an error saying the directory is not empty", err)
	}
	if data, _ := os.ReadFile(keep); string(data) != "earlier certificate" {
		t.Errorf("csc.pem was overwritten: %q", data)
	}
}

func TestApplicationPageAccessible(t *testing.T) {
	rp := &relyingParty{}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(proxy.HeaderHandle, AliceHandle)
	req.Header.Set(proxy.HeaderDID, "did:key:zDnaeTest")
	req.Header.Set(proxy.HeaderMethod, verify.MethodTLS)
	rec := httptest.NewRecorder()
	rp.serveApp(rec, req)

	body := rec.Body.String()
	htmltest.CheckAccessible(t, body, "demo site")
	for _, want := range []string{"<main>", "<h1>demo site</h1>", "signed in as @alice.dhp.test (did:key:zDnaeTest) with tls"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
}
