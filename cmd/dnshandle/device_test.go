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

func TestDeviceUntrustedProvider(t *testing.T) {
	code, caFile := startACME(t)
	dir := t.TempDir()
	const hint = "the provider's HTTPS certificate is not trusted: give its CA file with --ca (dnshandle serve writes it to <data>/acme/ca.pem)"

	out, err := runCommand(t, "device", "enroll", "--code", code, "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), hint) {
		t.Fatalf("enroll without --ca = %v, want the hint %q\n%s", err, hint, out)
	}

	// A CA file that did not sign the server's certificate gets a hint
	// that names the file. Any self-signed certificate will do: a CSC.
	other, err := pki.NewCSC(rand.Reader, handle.Handle("other.dhp.test"), pki.CSCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(otherCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Certificate.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runCommand(t, "device", "enroll", "--code", code, "--dir", dir, "--ca", otherCA)
	wrongCA := "no CA in " + otherCA + " signed the provider's HTTPS certificate: give this provider's CA file with --ca"
	if err == nil || !strings.Contains(err.Error(), wrongCA) {
		t.Fatalf("enroll with another CA = %v, want the hint %q\n%s", err, wrongCA, out)
	}

	// The code was not used, so it still enrolls with --ca. Without the
	// kept CA file, renew and revoke need --ca again.
	if out, err := runCommand(t, "device", "enroll", "--code", code, "--dir", dir, "--ca", caFile); err != nil {
		t.Fatalf("enroll --ca: %v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(dir, "alice.dhp.test", providerCAFile)); err != nil {
		t.Fatal(err)
	}
	for _, sub := range [][]string{{"renew", "--force"}, {"revoke"}} {
		args := append(append([]string{"device"}, sub...), "@alice.dhp.test", "--dir", dir)
		out, err := runCommand(t, args...)
		if err == nil || !strings.Contains(err.Error(), hint) {
			t.Errorf("%v without the kept CA file = %v, want the hint\n%s", sub, err, out)
		}
	}
}

func TestDeviceExportErrors(t *testing.T) {
	devices := t.TempDir()
	chain, key := unpublishedDevice(t, "alice.dhp.test")
	installDevice(t, devices, "alice.dhp.test", chain, key)
	passwordFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte("a long random password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shortFile := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(shortFile, []byte("seven77\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(t.TempDir(), "taken.p12")
	if err := os.WriteFile(existing, []byte("another key"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		args   []string
		want   string
		reject string // text the error must not contain
	}{
		{"missing directory", []string{"--dir", devices, "--out", "/nonexistent/dir/a.p12", "--password-file", passwordFile},
			"create the directory first, or choose another --out", "remove the file first"},
		{"existing file", []string{"--dir", devices, "--out", existing, "--password-file", passwordFile},
			"choose another --out, or remove the file first", ""},
		{"short password", []string{"--dir", devices, "--out", filepath.Join(t.TempDir(), "a.p12"), "--password-file", shortFile},
			"the password is too short (7 characters): use at least 8", ""},
		{"no device enrolled", []string{"--dir", t.TempDir(), "--out", filepath.Join(t.TempDir(), "a.p12"), "--password-file", passwordFile},
			"no device is enrolled for @alice.dhp.test in ", "meta.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCommand(t, append([]string{"device", "export", "@alice.dhp.test"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("export = %v, want an error containing %q\n%s", err, tc.want, out)
			}
			if tc.reject != "" && strings.Contains(err.Error(), tc.reject) {
				t.Errorf("export = %v, which should not say %q", err, tc.reject)
			}
		})
	}
	if data, err := os.ReadFile(existing); err != nil || string(data) != "another key" {
		t.Errorf("the existing file changed: %q, %v", data, err)
	}
}

func TestDeviceExportDefaultDirectory(t *testing.T) {
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	t.Setenv("HOME", config)
	out, err := runCommandInput(t, "a long random password\n", "device", "export", "@alice.dhp.test", "--out", filepath.Join(t.TempDir(), "a.p12"))
	base, dirErr := (&deviceFlags{}).baseDir()
	if dirErr != nil {
		t.Fatal(dirErr)
	}
	want := "no device is enrolled for @alice.dhp.test in " + base + ": see dnshandle device list"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("export without an enrolled device = %v, want %q\n%s", err, want, out)
	}
}

func TestDeviceListMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nothing-here")
	out, err := runCommand(t, "device", "list", "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "no device directory at "+dir) {
		t.Fatalf("device list --dir %s = %v, want an error naming the missing directory\n%s", dir, err, out)
	}
}
