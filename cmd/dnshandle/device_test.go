package main

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
)

// startACME serves an ACME server with an in-memory backend that can
// issue for alice.dhp.test, over HTTPS on loopback. It returns an
// enrollment code and the PEM file of the server's certificate.
func startACME(t *testing.T) (code, caFile string) {
	t.Helper()
	csc, err := pki.NewCSC(rand.Reader, handle.Handle("alice.dhp.test"), pki.CSCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	backend := acme.NewMemoryBackend()
	backend.AddIssuer(&acme.Issuer{IdentityID: "1", CSC: csc})

	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	server, err := acme.NewServer(acme.Config{BaseURL: srv.URL + "/acme", Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = server.Handler()

	enrollment, err := server.NewEnrollment(context.Background(), "1", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return enrollment.Code(), caFile
}

func TestDeviceCommands(t *testing.T) {
	code, caFile := startACME(t)
	dir := t.TempDir()

	out, err := runCommand(t, "device", "enroll", "--code", code, "--dir", dir, "--ca", caFile)
	if err != nil {
		t.Fatalf("device enroll: %v\n%s", err, out)
	}
	if !strings.Contains(out, `enrolled @alice.dhp.test as device "laptop"`) {
		t.Errorf("enroll output:\n%s", out)
	}
	key := filepath.Join(dir, "alice.dhp.test", "key.pem")
	if info, err := os.Stat(key); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("device key %s: %v, mode %v; want mode 0600", key, err, info.Mode().Perm())
	}

	out, err = runCommand(t, "device", "list", "--dir", dir)
	if err != nil || !strings.Contains(out, "@alice.dhp.test  laptop") || !strings.Contains(out, "active") {
		t.Errorf("device list: %v\n%s", err, out)
	}

	// Renew and revoke trust the CA file kept at enrollment without --ca.
	out, err = runCommand(t, "device", "renew", "@alice.dhp.test", "--force", "--dir", dir)
	if err != nil || !strings.Contains(out, "renewed @alice.dhp.test") {
		t.Errorf("device renew --force: %v\n%s", err, out)
	}

	out, err = runCommand(t, "device", "revoke", "@alice.dhp.test", "--dir", dir)
	if err != nil {
		t.Fatalf("device revoke: %v\n%s", err, out)
	}
	out, err = runCommand(t, "device", "list", "--dir", dir)
	if err != nil || !strings.Contains(out, "revoked") {
		t.Errorf("device list after revoke: %v\n%s", err, out)
	}

	out, err = runCommand(t, "device", "enroll", "--code", code, "--dir", t.TempDir(), "--ca", caFile)
	if err == nil {
		t.Errorf("a used enrollment code enrolled again:\n%s", out)
	}
}

func TestDeviceEnrollUsage(t *testing.T) {
	out, err := runCommand(t, "device", "enroll", "--provider", "https://127.0.0.1:1/acme/directory", "--dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "give --code, or all of") {
		t.Errorf("enroll with partial flags = %v\n%s", err, out)
	}
	out, err = runCommand(t, "device", "enroll", "--code", "dnshandle-enroll:v9:xyz", "--dir", t.TempDir())
	if err == nil {
		t.Errorf("enroll with a malformed code succeeded:\n%s", out)
	}
}
