//go:build interop

package demo

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/dnshandle/dnshandle/internal/interop"
)

// chromiumTimeout bounds the whole test, and pageTimeout each step within
// it, so that a page that never loads fails the step that waited for it
// with a message naming that step.
const (
	chromiumTimeout = 120 * time.Second
	pageTimeout     = 30 * time.Second
)

// TestChromiumOIDCInterop signs in to the demo site behind the proxy with
// headless Chromium through the OIDC pages: the site's sign-in form, the
// provider's sign-in form with the account password, and the consent
// page. The browser's NSS database trusts the two loopback CAs and holds
// no client certificate, so Chromium shows no certificate picker and the
// proxy offers OIDC sign-in.
func TestChromiumOIDCInterop(t *testing.T) {
	chromium := interop.RequireProgram(t, "chromium", "chromium")
	interop.RequireProgram(t, "certutil", "libnss3-tools")

	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	world, err := StartSignInWorld(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("start the demo world: %v", err)
	}
	t.Cleanup(func() {
		if err := world.Close(); err != nil {
			t.Errorf("stop the demo world: %v", err)
		}
	})
	t.Logf("site %s, provider %s", world.SiteURL, world.ProviderURL)

	// A fresh NSS database in the browser's HOME that trusts the
	// provider's and the site's CAs for TLS servers, and nothing else.
	home := t.TempDir()
	nssdb := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home}
	interop.RunProgram(t, env, "certutil", "-N", "-d", nssdb, "--empty-password")
	interop.RunProgram(t, env, "certutil", "-A", "-d", nssdb, "-n", "dnshandle demo provider", "-t", "C,,", "-i", world.ProviderCAFile)
	interop.RunProgram(t, env, "certutil", "-A", "-d", nssdb, "-n", "dnshandle demo site", "-t", "C,,", "-i", world.SiteCAFile)

	b := startChromium(ctx, t, chromium, home)
	shots := interop.ArtifactDir(t)

	// The site without a certificate: its sign-in page with a handle field.
	b.open(t, "open the site", world.SiteURL)
	b.waitVisible(t, "the site's sign-in form", `input[name="handle"]`)

	// Type the handle: the site sends the browser to the provider, which
	// shows its sign-in form because the browser has no session there.
	b.typeText(t, `input[name="handle"]`, "@"+AliceHandle)
	b.screenshot(t, filepath.Join(shots, "chromium-oidc-1-site.png"))
	b.click(t, "submit the handle", `form:has(input[name="handle"]) button[type="submit"]`)
	b.waitVisible(t, "the provider's sign-in form", `form[action="/signin"] input#password`)
	b.requireOrigin(t, "the provider's sign-in page", world.ProviderURL)

	// Sign in with the account password: the provider returns to its
	// authorization step, which shows the consent page.
	b.typeText(t, `form[action="/signin"] input#name`, DemoAccount)
	b.typeText(t, `form[action="/signin"] input#password`, world.Password)
	b.screenshot(t, filepath.Join(shots, "chromium-oidc-2-provider-signin.png"))
	b.click(t, "sign in at the provider", `form[action="/signin"] button[type="submit"]`)
	b.waitVisible(t, "the consent page", `button[name="action"][value="approve"]`)
	b.requireOrigin(t, "the consent page", world.ProviderURL)
	consent := b.text(t)
	if !strings.Contains(consent, "@"+AliceHandle) {
		t.Errorf("consent page text %q does not offer @%s", consent, AliceHandle)
	}
	b.screenshot(t, filepath.Join(shots, "chromium-oidc-3-consent.png"))

	// Allow: the provider redirects to the site's callback, which checks
	// the response and the handle's records and starts the session.
	b.click(t, "allow on the consent page", `button[name="action"][value="approve"]`)
	b.waitVisible(t, "the site's page", `p`)
	b.requireOrigin(t, "the site's page after consent", strings.TrimSuffix(world.SiteURL, "/"))
	final := b.text(t)
	b.screenshot(t, filepath.Join(shots, "chromium-oidc-4-signed-in.png"))

	for _, want := range []string{"signed in as @" + AliceHandle, "with oidc", world.DID} {
		if !strings.Contains(final, want) {
			t.Errorf("site page text %q lacks %q", final, want)
		}
	}
	id := world.rp.lastIdentity()
	switch {
	case id == nil:
		t.Errorf("the application saw no request")
	case id.Method != "oidc" || string(id.Handle) != AliceHandle || id.DID != world.DID:
		t.Errorf("the application saw identity %+v, want @%s with DID %s over oidc", id, AliceHandle, world.DID)
	}
	switch {
	case t.Failed():
		t.Logf("%s", b.diagnostics())
	case testing.Verbose():
		t.Logf("browser events:\n%s", b.eventLog())
	}
}

// chromium is a headless Chromium tab and what it reported: the page
// loads with their redirects, the log entries, and the browser's output.
type chromium struct {
	ctx    context.Context
	output *interop.LockedBuffer

	mu     sync.Mutex
	events []string
}

// startChromium starts headless Chromium with home as its HOME, a fresh
// profile, and host resolution confined to 127.0.0.1. The browser stops
// when the test ends.
func startChromium(ctx context.Context, t *testing.T, path, home string) *chromium {
	t.Helper()
	b := &chromium{output: &interop.LockedBuffer{}}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("headless", "new"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("HOME=" + home),
		chromedp.CombinedOutput(b.output),
		chromedp.WindowSize(1000, 800),
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
	if os.Geteuid() == 0 {
		// Chromium's sandbox does not run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	// The cancel funcs stop the browser process and wait for it, before
	// the profile directory goes.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b.ctx = tabCtx

	if err := chromedp.Listen(tabCtx, b.record); err != nil {
		t.Fatalf("start Chromium: %v\nbrowser output:\n%s", err, b.output)
	}
	return b
}

// record keeps the events that explain a failed step: each document
// request with the redirect that led to it, the document responses, failed
// loads, and the browser's log entries, where Chromium reports CSP
// violations.
func (b *chromium) record(ev any) {
	var line string
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type != network.ResourceTypeDocument {
			return
		}
		line = fmt.Sprintf("request %s %s", ev.Request.Method, ev.Request.URL)
		if r := ev.RedirectResponse; r != nil {
			line += fmt.Sprintf(" (redirect %d from %s)", r.Status, r.URL)
		}
	case *network.EventResponseReceived:
		if ev.Type != network.ResourceTypeDocument {
			return
		}
		line = fmt.Sprintf("response %d %s", ev.Response.Status, ev.Response.URL)
	case *network.EventLoadingFailed:
		line = fmt.Sprintf("loading failed: %s (canceled %t, blocked %q)", ev.ErrorText, ev.Canceled, ev.BlockedReason)
	case *cdplog.EventEntryAdded:
		line = fmt.Sprintf("log %s %s: %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	default:
		return
	}
	b.mu.Lock()
	b.events = append(b.events, line)
	b.mu.Unlock()
}

// eventLog returns the recorded events, one a line.
func (b *chromium) eventLog() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.events, "\n")
}

// diagnostics returns the recorded events and the browser's output.
func (b *chromium) diagnostics() string {
	return fmt.Sprintf("browser events:\n%s\nbrowser output:\n%s", b.eventLog(), b.output)
}

// fail ends the test with what went wrong, where the browser is, and what
// it recorded.
func (b *chromium) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	where := "unknown"
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		where = loc
	}
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("%s\nbrowser at %s, page text: %.500q\n%s", fmt.Sprintf(format, args...), where, body, b.diagnostics())
}

// open navigates to pageURL and waits for the page to load.
func (b *chromium) open(t *testing.T, step, pageURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		b.fail(t, "%s: navigate to %s: %v", step, pageURL, err)
	}
}

// click clicks the element that sel selects and waits for the page that
// the click leads to, through any redirects.
func (b *chromium) click(t *testing.T, step, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.fail(t, "%s: click %s: %v", step, sel, err)
	}
	if resp != nil {
		t.Logf("%s: %d %s", step, resp.Status, resp.URL)
	}
}

// typeText types text into the field that sel selects, key by key.
func (b *chromium) typeText(t *testing.T, sel, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		b.fail(t, "type into %s: %v", sel, err)
	}
}

// waitVisible waits until the element that sel selects is visible.
func (b *chromium) waitVisible(t *testing.T, element, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.fail(t, "wait for %s (%s): %v", element, sel, err)
	}
}

// requireOrigin fails the test unless the current page, described by
// page, comes from origin.
func (b *chromium) requireOrigin(t *testing.T, page, origin string) {
	t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.fail(t, "read the location of %s: %v", page, err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.fail(t, "location of %s %q: %v", page, loc, err)
	}
	if got := u.Scheme + "://" + u.Host; got != origin {
		b.fail(t, "%s is at %s, want origin %s", page, loc, origin)
	}
}

// text returns the visible text of the page.
func (b *chromium) text(t *testing.T) string {
	t.Helper()
	text, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		b.fail(t, "read the page text: %v", err)
	}
	return text
}

// screenshot saves a PNG of the whole page to file. A failure to take or
// save it is an error but does not stop the sign-in.
func (b *chromium) screenshot(t *testing.T, file string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", file, err)
		return
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Errorf("save the screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", file)
}
