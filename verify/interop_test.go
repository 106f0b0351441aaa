//go:build interop

package verify

import (
	"context"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// interopFiles writes the PEM files that curl and openssl read: the
// device chain [leaf, CSC], its key, and the relying party's certificate.
type interopFiles struct {
	chain, key, serverCert string
}

func writeInteropFiles(t *testing.T, id *identity, serverCertDER []byte) interopFiles {
	t.Helper()
	dir := t.TempDir()
	files := interopFiles{
		chain:      filepath.Join(dir, "chain.pem"),
		key:        filepath.Join(dir, "key.pem"),
		serverCert: filepath.Join(dir, "server.pem"),
	}
	if err := os.WriteFile(files.chain, pki.EncodeCertificates(id.leaf, id.csc.Certificate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePrivateKeyFile(files.key, id.key); err != nil {
		t.Fatal(err)
	}
	serverPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverCertDER})
	if err := os.WriteFile(files.serverCert, serverPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return files
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found: install the Debian package %s (make interop does) to run this test", name, name)
	}
	return path
}

// run runs a command with a deadline and returns its combined output.
func run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestInteropCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	w := newWorld(t)
	srv := startRP(t, w.verifier(), "dhp", "https://dhp.test/login")
	files := writeInteropFiles(t, w.alice, srv.Certificate().Raw)

	t.Run("device certificate", func(t *testing.T) {
		out, err := run(t, "", curl, "--silent", "--show-error", "--tlsv1.3",
			"--cacert", files.serverCert, "--cert", files.chain, "--key", files.key, srv.URL)
		if err != nil {
			t.Fatalf("curl with the device certificate: %v\n%s", err, out)
		}
		want := "alice.dhp.test " + w.alice.csc.DID.String() + " " + deviceOf(w.alice) + " secure"
		if out != want {
			t.Errorf("curl got %q, want %q", out, want)
		}
	})

	t.Run("no certificate", func(t *testing.T) {
		out, err := run(t, "", curl, "--silent", "--show-error", "--include", "--cacert", files.serverCert, srv.URL)
		if err != nil {
			t.Fatalf("curl without a certificate: %v\n%s", err, out)
		}
		if !strings.HasPrefix(out, "HTTP/1.1 401") && !strings.HasPrefix(out, "HTTP/2 401") {
			t.Errorf("status line of %q, want 401", firstLine(out))
		}
		// Go writes the header name as "Www-Authenticate"; names are
		// case-insensitive (RFC 9110, section 5.1).
		if !strings.Contains(strings.ToLower(out), `www-authenticate: dnshandle realm="dhp", login="https://dhp.test/login"`) {
			t.Errorf("response lacks the DNSHandle challenge:\n%s", out)
		}
	})

	t.Run("certificate of another CSC", func(t *testing.T) {
		// Mallory makes her own CSC and a device certificate that claims
		// alice's handle; the TLSA record at alice.dhp.test does not list
		// that CSC.
		mallory := newIdentity(t, "alice.dhp.test", pki.KeyP256)
		forged := writeInteropFiles(t, mallory, srv.Certificate().Raw)
		out, err := run(t, "", curl, "--silent", "--show-error", "--cacert", files.serverCert,
			"--cert", forged.chain, "--key", forged.key, srv.URL)
		if err == nil {
			t.Fatalf("curl with a certificate from another CSC succeeded:\n%s", out)
		}
		if !strings.Contains(out, "alert") {
			t.Errorf("curl failed without a TLS alert:\n%s", out)
		}
	})
}

func TestInteropOpenSSLClient(t *testing.T) {
	openssl := requireTool(t, "openssl")
	w := newWorld(t)
	srv := startRP(t, w.verifier(), "dhp", "https://dhp.test/login")
	files := writeInteropFiles(t, w.alice, srv.Certificate().Raw)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("marker in acceptable CA names", func(t *testing.T) {
		out, _ := run(t, "", openssl, "s_client", "-connect", u.Host, "-tls1_3", "-CAfile", files.serverCert)
		section := after(out, "Acceptable client certificate CA names")
		if section == "" {
			t.Fatalf("s_client printed no acceptable CA names:\n%s", out)
		}
		if !strings.Contains(firstLine(strings.TrimLeft(section, "\n")), "CN = "+pki.MarkerCommonName) {
			t.Errorf("first acceptable CA name is %q, want the marker %q", firstLine(strings.TrimLeft(section, "\n")), pki.MarkerCommonName)
		}
	})

	t.Run("login with device certificate", func(t *testing.T) {
		request := "GET / HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n"
		out, err := run(t, request, openssl, "s_client", "-connect", u.Host, "-tls1_3", "-quiet",
			"-CAfile", files.serverCert, "-cert", files.chain, "-cert_chain", files.chain, "-key", files.key)
		if err != nil {
			t.Fatalf("s_client with the device certificate: %v\n%s", err, out)
		}
		if !strings.Contains(out, "HTTP/1.1 200 OK") || !strings.Contains(out, "alice.dhp.test "+w.alice.csc.DID.String()) {
			t.Errorf("s_client did not get alice's identity back:\n%s", out)
		}
	})

	t.Run("TLS 1.2 rejected", func(t *testing.T) {
		out, err := run(t, "", openssl, "s_client", "-connect", u.Host, "-tls1_2", "-CAfile", files.serverCert)
		if err == nil && !strings.Contains(out, "alert") {
			t.Errorf("s_client -tls1_2 connected:\n%s", out)
		}
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// after returns the text after the first line containing marker.
func after(s, marker string) string {
	i := strings.Index(s, marker)
	if i < 0 {
		return ""
	}
	_, rest, _ := strings.Cut(s[i:], "\n")
	return rest
}
