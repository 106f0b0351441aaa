//go:build interop

package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/internal/interop"
	"github.com/dnshandle/dnshandle/pki"
)

// chromiumTimeout bounds the browser part of the test. Without a matching
// AutoSelectCertificateForUrls entry Chromium waits for a certificate
// picker that a headless browser never shows, so the timeout is what ends
// such a run.
const chromiumTimeout = 60 * time.Second

// policyFile is where the test puts its managed policy.
const policyFile = client.ChromiumPolicyDir + "/dnshandle-test.json"

// TestChromiumInterop logs in to the proxy with headless Chromium. The
// device certificate goes into a fresh NSS database from the PKCS #12
// export, and the managed policy from client.ChromiumPolicy selects it for
// the proxy's origin. The proxy verifies it through DNS on loopback.
func TestChromiumInterop(t *testing.T) {
	chromium := interop.RequireProgram(t, "chromium", "chromium")
	interop.RequireProgram(t, "certutil", "libnss3-tools")
	interop.RequireProgram(t, "pk12util", "libnss3-tools")
	if os.Geteuid() != 0 {
		t.Skipf("not root: writing the managed policy %s needs root (make interop runs as root in CI)", policyFile)
	}

	// DNS, identity and device, as in the unit tests.
	w := newWorld(t)
	device := w.aliceLaptop

	// The application prints who is signed in.
	var mu sync.Mutex
	var seenHeaders http.Header
	app := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenHeaders = r.Header.Clone()
		mu.Unlock()
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(rw, "<!doctype html><title>app</title><p id=\"who\">signed in as @%s</p>", html.EscapeString(r.Header.Get(HeaderHandle)))
	}))
	t.Cleanup(app.Close)
	upstream, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}

	// The proxy, with its loopback certificate, served on 127.0.0.1.
	files, _, err := EnsureLoopbackCertificate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := files.LoadCertificate()
	if err != nil {
		t.Fatal(err)
	}
	log := &interop.LockedBuffer{}
	p, err := New(Config{Upstream: upstream, Verifier: w.verifier(), Logger: newTestLogger(log)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln, &tls.Config{Certificates: []tls.Certificate{serverCert}}) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("proxy shutdown: %v", err)
		}
	})
	origin := "https://" + ln.Addr().String()

	// A fresh NSS database in the browser's HOME with the device's
	// PKCS #12 export and the proxy's CA trusted for TLS servers.
	home := t.TempDir()
	nssdb := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	p12, err := client.EncodePKCS12(device.key, device.chain, "interop password", client.PKCS12Modern)
	if err != nil {
		t.Fatal(err)
	}
	p12File := filepath.Join(t.TempDir(), "alice.p12")
	if err := os.WriteFile(p12File, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home}
	interop.RunProgram(t, env, "certutil", "-N", "-d", nssdb, "--empty-password")
	interop.RunProgram(t, env, "pk12util", "-d", nssdb, "-i", p12File, "-W", "interop password")
	interop.RunProgram(t, env, "certutil", "-A", "-d", nssdb, "-n", "dnshandle proxy loopback CA", "-t", "C,,", "-i", files.CAFile)

	// The managed policy that selects alice's certificate at the proxy.
	policy, err := client.ChromiumPolicy([]client.SiteChoice{{Origin: origin, Handle: "alice.dhp.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(client.ChromiumPolicyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policyFile, policy, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(policyFile) })
	t.Logf("policy %s:\n%s", policyFile, policy)

	text, screenshot, browserLog := browse(t, chromium, home, origin+"/dashboard")

	shot := filepath.Join(interop.ArtifactDir(t), "chromium-proxy-login.png")
	if err := os.WriteFile(shot, screenshot, 0o644); err != nil {
		t.Errorf("save the screenshot: %v", err)
	} else {
		t.Logf("screenshot: %s", shot)
	}

	if !strings.Contains(text, "signed in as @alice.dhp.test") {
		t.Errorf("page text %q, want \"signed in as @alice.dhp.test\"\nproxy log:\n%s\nbrowser output:\n%s", text, log, browserLog)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := seenHeaders.Get(HeaderDevice), pki.SPKIFingerprint(device.chain[0]); got != want {
		t.Errorf("upstream got %s %q, want the device's fingerprint %q", HeaderDevice, got, want)
	}
	if got := seenHeaders.Get(HeaderMethod); got != "tls" {
		t.Errorf("upstream got %s %q, want tls", HeaderMethod, got)
	}
}

// browse opens pageURL in a headless Chromium whose HOME is home and
// returns the text of the page, a PNG screenshot and the browser's output.
func browse(t *testing.T, chromium, home, pageURL string) (text string, screenshot []byte, output string) {
	t.Helper()
	browserLog := &interop.LockedBuffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("HOME=" + home),
		chromedp.CombinedOutput(browserLog),
		chromedp.WindowSize(1000, 700),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Keep the browser on loopback: no background traffic, and every
		// host name other than the test's address fails to resolve.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	if err := chromedp.Do(browserCtx, chromedp.Navigate(pageURL)); err != nil {
		hint := ""
		if ctx.Err() != nil {
			hint = " (a browser that finds no certificate matching its AutoSelectCertificateForUrls policy waits for a picker until the timeout)"
		}
		t.Fatalf("navigate to %s: %v%s\nbrowser output:\n%s", pageURL, err, hint, browserLog)
	}
	text, err := chromedp.Run(browserCtx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("read the page: %v\nbrowser output:\n%s", err, browserLog)
	}
	screenshot, err = chromedp.Run(browserCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
	}
	return text, screenshot, browserLog.String()
}
