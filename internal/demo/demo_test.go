package demo

import (
	"bytes"
	"context"
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
		"[1/6] identity: created the CSC of @alice.dhp.test",
		"[3/6] resolve @alice.dhp.test",
		"TLSA alice.dhp.test.: secure",
		"[5/6] TLS login with the device certificate: signed in as @alice.dhp.test",
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

	for _, name := range []string{"csc.pem", "device-chain.pem", "device-key.pem", "server-ca.pem", "root.zone", "dhp.test.zone", "trust-anchor.ds"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("data directory lacks %s: %v", name, err)
		}
	}
	info, err := os.Stat(filepath.Join(dir, "device-key.pem"))
	if err == nil && info.Mode().Perm() != 0o600 {
		t.Errorf("device-key.pem has mode %v, want 0600", info.Mode().Perm())
	}
}
