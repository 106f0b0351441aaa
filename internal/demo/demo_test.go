package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		"[1/7] provider: DNS Handle Provider for dhp.test.",
		"[2/7] identity: created @alice.dhp.test",
		`[3/7] device: enrolled "laptop" over ACME`,
		"[4/7] resolve @alice.dhp.test",
		"TLSA alice.dhp.test.: secure",
		"[6/7] TLS login with the device certificate: signed in as @alice.dhp.test",
		"DNSSEC secure",
		"no certificate -> 401, WWW-Authenticate: DNSHandle realm=",
		"signed by another CSC -> TLS alert bad_certificate; verifier: verify: tlsa:",
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

func TestLoginPageNeedsNoIdentity(t *testing.T) {
	rp, err := startRelyingParty(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.close()

	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rp.url+"login", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rp.client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: status %s, want 200", resp.Status)
	}
	if !strings.Contains(string(body), "Present a device certificate for your handle") {
		t.Errorf("login page body:\n%s", body)
	}
}
