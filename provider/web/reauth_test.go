package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/web"
)

// signedInAt returns the web's SignedInAt for a request with the session
// cookie value.
func (w *world) signedInAt(cookie string) (time.Time, bool) {
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: cookie})
	return w.web.SignedInAt(req)
}

func TestReauthenticate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.browser()
	signedUp := w.clock.Now().Truncate(time.Second)
	b.signUp("alice", testPassword)
	old := b.sessionCookie()
	if at, ok := w.signedInAt(old); !ok || !at.Equal(signedUp) {
		t.Fatalf("SignedInAt after sign-up = %v, %t; want %v", at, ok, signedUp)
	}

	// Requests renew the cookie but keep the time of the sign-in.
	w.clock.Advance(5 * time.Minute)
	b.get("/")
	if at, ok := w.signedInAt(b.sessionCookie()); !ok || !at.Equal(signedUp) {
		t.Errorf("SignedInAt after a renewal = %v, %t; want the sign-in time %v", at, ok, signedUp)
	}

	// The plain sign-in page sends a signed-in person on, the one for a
	// new sign-in shows the form with the account name filled in.
	const next = "/oauth/login?id=abc"
	if resp := b.get(w.web.SignInURL(next)); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != next {
		t.Errorf("GET %s while signed in: %s to %q, want 303 to %s", w.web.SignInURL(next), resp.Status, resp.Header.Get("Location"), next)
	}
	reauthURL := w.web.ReauthenticateURL(next)
	if want := "/signin?next=" + url.QueryEscape(next) + "&reauth=1"; reauthURL != want {
		t.Errorf("ReauthenticateURL(%q) = %q, want %q", next, reauthURL, want)
	}
	page := b.get(reauthURL)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Sign in again") || !strings.Contains(page.Body, `value="alice"`) {
		t.Fatalf("GET %s while signed in: %s, want the sign-in form for alice:\n%s", reauthURL, page.Status, page.Body)
	}
	if !strings.Contains(page.Body, `name="next" value="`+html.EscapeString(next)+`"`) {
		t.Errorf("the form does not carry next %q:\n%s", next, page.Body)
	}

	// Signing in again starts a new session with a new time and ends the
	// old one.
	w.clock.Advance(time.Minute)
	signedInAgain := w.clock.Now().Truncate(time.Second)
	resp := b.submit(reauthURL, "/signin", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {next}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != next {
		t.Fatalf("new sign-in: %s to %q, want 303 to %s", resp.Status, resp.Header.Get("Location"), next)
	}
	fresh := b.sessionCookie()
	if fresh == old {
		t.Fatal("the new sign-in kept the session cookie")
	}
	if at, ok := w.signedInAt(fresh); !ok || !at.Equal(signedInAgain) {
		t.Errorf("SignedInAt after the new sign-in = %v, %t; want %v", at, ok, signedInAgain)
	}
	if _, ok := w.signedInAt(old); ok {
		t.Error("the session that the new sign-in replaced is still valid")
	}
	replay := w.browser()
	wantRedirectToSignIn(t, replay.getWithSession("/", old))
}

func TestSignUpReturnsToNext(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const next = "/oauth/login?id=abc"

	b := w.browser()
	signIn := b.get(w.web.SignInURL(next))
	// html/template writes percent-encodings in lowercase.
	link := strings.ToLower(`href="/signup?next=` + url.QueryEscape(next) + `"`)
	if !strings.Contains(signIn.Body, link) {
		t.Fatalf("the sign-in page lacks the sign-up link %s:\n%s", link, signIn.Body)
	}
	page := "/signup?next=" + url.QueryEscape(next)
	form := b.get(page)
	if !strings.Contains(form.Body, `name="next" value="`+html.EscapeString(next)+`"`) {
		t.Fatalf("the sign-up form does not carry next:\n%s", form.Body)
	}
	if back := strings.ToLower(`href="/signin?next=` + url.QueryEscape(next) + `"`); !strings.Contains(form.Body, back) {
		t.Errorf("the sign-up page lacks the sign-in link %s", back)
	}

	// A form error keeps next.
	resp := b.submit(page, "/signup", url.Values{"name": {"alice"}, "password": {"short"}, "password_repeat": {"short"}, "next": {next}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(resp.Body, `name="next" value="`+html.EscapeString(next)+`"`) {
		t.Fatalf("sign-up with a short password: %s, want 422 with next kept:\n%s", resp.Status, resp.Body)
	}

	resp = b.submit(page, "/signup", url.Values{"name": {"alice"}, "password": {testPassword}, "password_repeat": {testPassword}, "next": {next}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != next {
		t.Fatalf("sign-up with next: %s to %q, want 303 to %s", resp.Status, resp.Header.Get("Location"), next)
	}

	// A next that leaves the site is dropped.
	other := w.browser()
	resp = other.submit("/signup", "/signup", url.Values{"name": {"bob"}, "password": {testPassword}, "password_repeat": {testPassword}, "next": {"//evil.example/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("sign-up with next //evil.example/: %s to %q, want 303 to /", resp.Status, resp.Header.Get("Location"))
	}
}

func TestHostedIdentityReturnsToNext(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	const next = "/oauth/login?id=abc"
	page := "/identities/new?next=" + url.QueryEscape(next)
	if form := b.get(page); !strings.Contains(form.Body, `name="next" value="`+html.EscapeString(next)+`"`) {
		t.Fatalf("the identity form does not carry next:\n%s", form.Body)
	}

	resp := b.submit(page, "/identities", url.Values{"kind": {"hosted"}, "name": {"alice"}, "zone": {"dhp.test"}, "next": {next}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != next {
		t.Errorf("hosted identity with next: %s to %q, want 303 to %s", resp.Status, resp.Header.Get("Location"), next)
	}

	// An own-domain handle shows its records first, whatever next is.
	resp = b.submit(page, "/identities", url.Values{"kind": {"own"}, "handle": {"alice.example.com"}, "next": {next}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/identities/alice.example.com" {
		t.Errorf("own-domain identity with next: %s to %q, want 303 to its page", resp.Status, resp.Header.Get("Location"))
	}
}
