package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/oidclogin"
	"github.com/dnshandle/dnshandle/pki"
)

// syncBuffer collects the output of a command that runs in a goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// installDevice stores the chain and key files as an enrolled device of h
// under the base directory dir, in the layout of dnshandle device enroll.
func installDevice(t *testing.T, dir string, h handle.Handle, chainFile, keyFile string) {
	t.Helper()
	deviceDir := filepath.Join(dir, string(h))
	if err := os.MkdirAll(deviceDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{chainFile: "chain.pem", keyFile: "key.pem"} {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(deviceDir, to), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	meta := fmt.Sprintf(`{"version":1,"handle":%q,"directory":"","account":"","certificate":"","enrolled":%q}`, h, time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(deviceDir, "meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unpublishedDevice writes the chain and key of a device of h under a CSC
// that no TLSA record accredits.
func unpublishedDevice(t *testing.T, h handle.Handle) (chainFile, keyFile string) {
	t.Helper()
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

	dir := t.TempDir()
	chainFile, keyFile = filepath.Join(dir, "chain.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(chainFile, pki.EncodeCertificates(leaf, csc.Certificate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePrivateKeyFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	return chainFile, keyFile
}

// startProxyCommand runs dnshandle proxy with extraArgs in front of an
// application that prints "signed in as @<DNS-Handle>", until the test
// ends. It returns the proxy's URL and the CA file of its loopback
// certificate.
func startProxyCommand(t *testing.T, w *testWorld, extraArgs ...string) (proxyURL, caFile string) {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "signed in as @%s\n", r.Header.Get("DNS-Handle"))
		if r.Method != http.MethodGet {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(rw, "%s %q %s %s\n", r.Method, body, r.Header.Get("Content-Type"), r.Header.Get("X-Note"))
		}
	}))
	t.Cleanup(app.Close)

	data := t.TempDir()
	cmd := newRootCommand()
	logs := &syncBuffer{}
	cmd.SetOut(logs)
	cmd.SetErr(logs)
	args := []string{"proxy", "--upstream", app.URL, "--server", w.server.Addr, "--trust-anchor", w.anchorFile,
		"--listen", "127.0.0.1:0", "--data", data, "--log-format", "json"}
	cmd.SetArgs(append(args, extraArgs...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy command after cancel: %v\n%s", err, logs)
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			var record struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &record) == nil && record.Msg == "proxy listening" {
				return "https://" + record.Addr, filepath.Join(data, "tls", "ca.pem")
			}
		}
		select {
		case err := <-done:
			t.Fatalf("proxy command ended: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the proxy did not log its address within 10 seconds:\n%s", logs)
	return "", ""
}

func TestGetThroughProxyCommand(t *testing.T) {
	w := newTestWorld(t)
	// The test world's certificates name no CRL distribution point.
	proxyURL, caFile := startProxyCommand(t, w, "--allow-no-crl-url")
	devices := t.TempDir()
	installDevice(t, devices, "alice.dhp.test", w.chainFile, w.keyFile)
	bobChain, bobKey := unpublishedDevice(t, "bob.dhp.test")
	installDevice(t, devices, "bob.dhp.test", bobChain, bobKey)
	page := proxyURL + "/page"

	t.Run("no choice without a terminal", func(t *testing.T) {
		out, err := runCommand(t, "get", page, "--dir", devices, "--ca", caFile)
		if err == nil {
			t.Fatalf("get without a choice succeeded:\n%s", out)
		}
		for _, want := range []string{"no handle is chosen for " + proxyURL, "--handle", "@alice.dhp.test", "@bob.dhp.test"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})

	t.Run("handle chosen with --handle", func(t *testing.T) {
		out, err := runCommand(t, "get", page, "--dir", devices, "--ca", caFile, "--handle", "@alice.dhp.test")
		if err != nil {
			t.Fatalf("get --handle: %v\n%s", err, out)
		}
		if !strings.Contains(out, "signed in as @alice.dhp.test\n") || !strings.Contains(out, proxyURL+" will see @alice.dhp.test") {
			t.Errorf("output:\n%s", out)
		}
	})

	t.Run("stored choice with headers", func(t *testing.T) {
		out, err := runCommand(t, "get", "-i", page, "--dir", devices, "--ca", caFile)
		if err != nil {
			t.Fatalf("get -i: %v\n%s", err, out)
		}
		if !strings.HasPrefix(out, "HTTP/1.1 200 OK\n") || !strings.Contains(out, "Content-Type: text/plain") ||
			!strings.HasSuffix(out, "\n\nsigned in as @alice.dhp.test\n") {
			t.Errorf("output:\n%s", out)
		}
	})

	t.Run("POST with a body and headers", func(t *testing.T) {
		out, err := runCommand(t, "get", page, "--dir", devices, "--ca", caFile, "-d", `{"note":1}`,
			"-H", "Content-Type: application/json", "-H", "X-Note: from the test")
		if err != nil {
			t.Fatalf("get -d: %v\n%s", err, out)
		}
		if want := `POST "{\"note\":1}" application/json from the test`; !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
		out, err = runCommand(t, "get", page, "--dir", devices, "--ca", caFile, "-X", "delete")
		if err != nil || !strings.Contains(out, `DELETE "" `) {
			t.Errorf("get -X delete: %v\n%s", err, out)
		}
	})

	t.Run("browser policy for the stored choice", func(t *testing.T) {
		out, err := runCommand(t, "browser-policy", "--dir", devices)
		if err != nil {
			t.Fatalf("browser-policy: %v\n%s", err, out)
		}
		want := `{
  "AutoSelectCertificateForUrls": [
    "{\"pattern\":\"` + proxyURL + `\",\"filter\":{\"ISSUER\":{\"CN\":\"alice.dhp.test\"}}}"
  ]
}
1 site; Chromium reads managed policies from /etc/chromium/policies/managed/*.json
`
		if out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})

	t.Run("refused certificate shows the proxy's text", func(t *testing.T) {
		out, err := runCommand(t, "get", page, "--dir", devices, "--ca", caFile, "--handle", "bob.dhp.test")
		if err == nil {
			t.Fatalf("get with an unpublished handle succeeded:\n%s", out)
		}
		for _, want := range []string{"403 Forbidden", "the device certificate of @bob.dhp.test was sent", "failed the dns check"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})

	t.Run("chosen device revoked", func(t *testing.T) {
		dir := t.TempDir()
		installDevice(t, dir, "alice.dhp.test", w.chainFile, w.keyFile)
		meta := fmt.Sprintf(`{"version":1,"handle":"alice.dhp.test","directory":"","account":"","certificate":"","enrolled":%q,"revoked":%q}`,
			time.Now().UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
		if err := os.WriteFile(filepath.Join(dir, "alice.dhp.test", "meta.json"), []byte(meta), 0o644); err != nil {
			t.Fatal(err)
		}
		sites := fmt.Sprintf(`{"version":1,"sites":{%q:"alice.dhp.test"}}`, proxyURL)
		if err := os.WriteFile(filepath.Join(dir, "sites.json"), []byte(sites), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := runCommand(t, "get", page, "--dir", dir, "--ca", caFile)
		if err == nil || !strings.Contains(err.Error(), "the device certificate of @alice.dhp.test for "+proxyURL+" was revoked") {
			t.Errorf("get with the chosen device revoked = %v, want the revocation named", err)
		}
		// A site without a choice: no request is sent, so no server is needed.
		_, err = runCommand(t, "get", "https://127.0.0.1:9/", "--dir", dir)
		if err == nil || !strings.Contains(err.Error(), "every device in "+dir+" is revoked") {
			t.Errorf("get for a new site with every device revoked = %v", err)
		}
	})

	t.Run("untrusted server certificate", func(t *testing.T) {
		_, err := runCommand(t, "get", page, "--dir", devices)
		if err == nil || !strings.Contains(err.Error(), "give its CA with --ca") {
			t.Errorf("get without --ca = %v, want advice to give --ca", err)
		}
	})
}

func TestBrowserPolicyCommandOut(t *testing.T) {
	devices := t.TempDir()
	sites := `{"version":1,"sites":{"https://rp.example":"alice.dhp.test","https://127.0.0.1:8443":"bob.dhp.test"}}`
	if err := os.WriteFile(filepath.Join(devices, "sites.json"), []byte(sites), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dnshandle.json")
	out, err := runCommand(t, "browser-policy", "--dir", devices, "--out", file)
	if err != nil {
		t.Fatalf("browser-policy --out: %v\n%s", err, out)
	}
	if !strings.Contains(out, "wrote the certificate choices of 2 sites to "+file) || !strings.Contains(out, "/etc/chromium/policies/managed") {
		t.Errorf("output:\n%s", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "AutoSelectCertificateForUrls": [
    "{\"pattern\":\"https://127.0.0.1:8443\",\"filter\":{\"ISSUER\":{\"CN\":\"bob.dhp.test\"}}}",
    "{\"pattern\":\"https://rp.example\",\"filter\":{\"ISSUER\":{\"CN\":\"alice.dhp.test\"}}}"
  ]
}
`
	if string(data) != want {
		t.Errorf("policy file:\n%s\nwant:\n%s", data, want)
	}
}

func TestDeviceExportCommand(t *testing.T) {
	w := newTestWorld(t)
	devices := t.TempDir()
	installDevice(t, devices, "alice.dhp.test", w.chainFile, w.keyFile)
	passwordFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte("a long random password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chainPEM, err := os.ReadFile(w.chainFile)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := pki.DecodeCertificates(chainPEM)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"modern from password file", "", []string{"--password-file", passwordFile}},
		{"legacy from standard input", "a long random password\n", []string{"--legacy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "alice.p12")
			args := append([]string{"device", "export", "@alice.dhp.test", "--dir", devices, "--out", file}, tc.args...)
			out, err := runCommandInput(t, tc.stdin, args...)
			if err != nil {
				t.Fatalf("device export: %v\n%s", err, out)
			}
			info, err := os.Stat(file)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("exported file: %v, mode %v; want 0600", err, info.Mode().Perm())
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, leaf, cas, err := pkcs12.DecodeChain(data, "a long random password")
			if err != nil {
				t.Fatalf("decode the export: %v", err)
			}
			if !bytes.Equal(leaf.Raw, chain[0].Raw) || len(cas) != 1 || !bytes.Equal(cas[0].Raw, chain[1].Raw) {
				t.Error("the export does not hold [device certificate, CSC]")
			}

			out, err = runCommandInput(t, tc.stdin, args...)
			if err == nil || !strings.Contains(err.Error(), "choose another --out") {
				t.Errorf("second export over the same file = %v, want a refusal\n%s", err, out)
			}
		})
	}

	out, err := runCommand(t, "device", "export", "@alice.dhp.test", "--dir", devices, "--out", filepath.Join(t.TempDir(), "x.p12"))
	if err == nil || !strings.Contains(err.Error(), "no password given") {
		t.Errorf("export without a password = %v\n%s", err, out)
	}
}

func TestProxyCommandWithOIDC(t *testing.T) {
	w := newTestWorld(t)
	proxyURL, caFile := startProxyCommand(t, w, "--oidc")
	roots, err := rootsWithCA(caFile)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		// Redirects are returned as they are, so the test reads the proxy's own response.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer browser.CloseIdleConnections()

	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, proxyURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}

	resp, body := get("/private")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("page without login: status %d, want 401", resp.StatusCode)
	}
	for _, want := range []string{"Sign in with your DNS handle", `action="/.dnshandle/login"`, `name="return" value="/private"`} {
		if !strings.Contains(body, want) {
			t.Errorf("sign-in page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "not configured") {
		t.Errorf("sign-in page says OIDC is not configured although --oidc is set:\n%s", body)
	}

	// Package oidclogin serves its login form below /.dnshandle/.
	resp, body = get("/.dnshandle/login?return=/private")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<form") {
		t.Errorf("login form: status %d\n%s", resp.StatusCode, body)
	}
}

func TestBrowserPolicyWithoutChoices(t *testing.T) {
	devices := t.TempDir()
	out, err := runCommand(t, "browser-policy", "--dir", devices)
	if err == nil || !strings.Contains(err.Error(), "choose a handle for each site first with dnshandle get URL --handle @HANDLE") {
		t.Errorf("browser-policy without site choices = %v, want advice to choose handles first\n%s", err, out)
	}
	if strings.Contains(out, "AutoSelectCertificateForUrls") {
		t.Errorf("browser-policy printed an empty policy:\n%s", out)
	}
}

func TestProxyCommandFlagErrors(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"upstream without scheme", []string{"--upstream", "127.0.0.1:3000"}, `--upstream "127.0.0.1:3000" is not an http or https URL: give a URL such as http://127.0.0.1:3000`},
		{"upstream host as scheme", []string{"--upstream", "localhost:3000"}, "give a URL such as http://127.0.0.1:3000"},
		{"upstream of another scheme", []string{"--upstream", "ftp://127.0.0.1/"}, "is not an http or https URL"},
		{"provider-ca without a use", []string{"--upstream", "http://127.0.0.1:3000", "--revocation", "off", "--provider-ca", caFile}, "--provider-ca applies to fetched CRLs and OpenID Connect sign-in"},
		{"oidc-ca without a use", []string{"--upstream", "http://127.0.0.1:3000", "--revocation", "off", "--oidc-ca", caFile}, "--provider-ca applies to fetched CRLs and OpenID Connect sign-in"},
		{"oidc-ca and provider-ca differ", []string{"--upstream", "http://127.0.0.1:3000", "--oidc-ca", caFile, "--provider-ca", caFile + ".other"}, "--oidc-ca and --provider-ca name different files"},
		{"unknown revocation mode", []string{"--upstream", "http://127.0.0.1:3000", "--revocation", "ocsp"}, `--revocation "ocsp" is not a mode: use fetch, files or off`},
		{"files without crl", []string{"--upstream", "http://127.0.0.1:3000", "--revocation", "files"}, "--revocation files needs at least one --crl file"},
		{"crl with fetch", []string{"--upstream", "http://127.0.0.1:3000", "--revocation", "fetch", "--crl", caFile}, "--crl applies to --revocation files, not fetch"},
		{"crl-grace with files", []string{"--upstream", "http://127.0.0.1:3000", "--crl", caFile, "--crl-grace", "5m"}, "--crl-grace applies only to --revocation fetch, not files"},
		{"allow-no-crl-url with off", []string{"--upstream", "http://127.0.0.1:3000", "--revocation", "off", "--allow-no-crl-url"}, "--allow-no-crl-url applies only to --revocation fetch, not off"},
		{"negative crl-grace", []string{"--upstream", "http://127.0.0.1:3000", "--crl-grace", "-1m"}, "--crl-grace -1m0s is negative"},
		{"negative crl-refresh", []string{"--upstream", "http://127.0.0.1:3000", "--crl-refresh", "-1h"}, "--crl-refresh -1h0m0s is negative"},
		{"base-url without oidc", []string{"--upstream", "http://127.0.0.1:3000", "--base-url", "https://127.0.0.1:8444"}, "--base-url applies only to OpenID Connect sign-in"},
		{"session-key-file without oidc", []string{"--upstream", "http://127.0.0.1:3000", "--session-key-file", caFile}, "--session-key-file applies only to OpenID Connect sign-in"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"proxy", "--server", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)
			out, err := runCommand(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("proxy %v = %v, want an error containing %q\n%s", tc.args, err, tc.want, out)
			}
		})
	}
}

func TestLogSignInFailureHintsAtProviderCA(t *testing.T) {
	provider := httptest.NewTLSServer(http.NotFoundHandler())
	defer provider.Close()
	// A client with the system roots alone does not trust the test server.
	untrusted := &http.Client{Timeout: 10 * time.Second}
	resp, fetchErr := untrusted.Get(provider.URL + "/.well-known/openid-configuration")
	if fetchErr == nil {
		resp.Body.Close()
		t.Fatal("the test server's certificate is trusted, so the test cannot run")
	}

	tests := []struct {
		name string
		err  error
		hint bool
	}{
		{"unknown authority", &oidclogin.Error{Step: oidclogin.StepDiscovery, Issuer: provider.URL, Err: fetchErr}, true},
		{"other failure", &oidclogin.Error{Step: oidclogin.StepDiscovery, Issuer: provider.URL, Err: errors.New("connection refused")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			req := httptest.NewRequest(http.MethodPost, oidclogin.LoginPath, nil)
			logSignInFailure(logger)(req, tc.err)
			if got := strings.Contains(logs.String(), "--provider-ca"); got != tc.hint {
				t.Errorf("log mentions --provider-ca: %v, want %v:\n%s", got, tc.hint, logs.String())
			}
			if !strings.Contains(logs.String(), "OIDC sign-in failed") {
				t.Errorf("log lacks the failure:\n%s", logs.String())
			}
		})
	}
}
