package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/web"
)

func TestSignUpSignOutSignIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.browser()

	b.signUp("Alice", testPassword)
	home := b.get("/")
	if home.StatusCode != http.StatusOK || !strings.Contains(home.Body, "Signed in as <strong>alice</strong>") {
		t.Fatalf("home after sign-up: %s, want the account alice signed in:\n%s", home.Status, home.Body)
	}
	acct, err := w.svc.Store.AccountByName(context.Background(), "alice")
	if err != nil {
		t.Fatalf("account alice after sign-up: %v", err)
	}
	if !strings.HasPrefix(acct.PasswordHash, "$argon2id$") {
		t.Errorf("password hash %q is not argon2id", acct.PasswordHash)
	}
	for _, c := range home.Cookies() {
		if c.Name == web.SessionCookie && (!c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/") {
			t.Errorf("session cookie %+v, want Secure, HttpOnly, SameSite=Lax, Path=/", c)
		}
	}

	old := b.sessionCookie()
	resp := b.submit("/", "/signout", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?signedout=1" {
		t.Fatalf("sign out: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	wantRedirectToSignIn(t, b.get("/"))

	// The cookie from before the sign-out no longer works, even when a
	// client sends it again.
	replay := w.browser()
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: old})
	wantRedirectToSignIn(t, replay.do(req))

	b.signIn("alice", testPassword)
	if home := b.get("/"); home.StatusCode != http.StatusOK {
		t.Errorf("home after sign-in: %s", home.Status)
	}
}

func TestSignUpErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.browser().signUp("taken", testPassword)

	cases := []struct {
		name              string
		account, password string
		repeat            string
		field, message    string
	}{
		{"short password", "bob", "short", "short", "password", "Use at least 12 characters."},
		{"repeat differs", "bob", testPassword, testPassword + "x", "password_repeat", "The two passwords differ."},
		{"invalid name", "bob smith", testPassword, testPassword, "name", "Use 1 to 64 characters"},
		{"empty name", " ", testPassword, testPassword, "name", "Enter an account name."},
		{"taken name", "Taken", testPassword, testPassword, "name", "This account name is taken."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := w.browser()
			resp := b.submit("/signup", "/signup", url.Values{"name": {c.account}, "password": {c.password}, "password_repeat": {c.repeat}})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %s, want 422", resp.Status)
			}
			errorLine := `<p class="field-error" id="` + c.field + `-error" role="alert">` + c.message
			if !strings.Contains(resp.Body, errorLine) {
				t.Errorf("page lacks the error %q next to field %s:\n%s", c.message, c.field, resp.Body)
			}
			if !strings.Contains(resp.Body, `aria-describedby="`) || !strings.Contains(resp.Body, `aria-invalid="true"`) {
				t.Errorf("the invalid field is not marked for assistive technology")
			}
			wantName := strings.ToLower(strings.TrimSpace(c.account))
			if !strings.Contains(resp.Body, `name="name" type="text" value="`+wantName+`"`) {
				t.Errorf("the account name %q is not kept in the form", wantName)
			}
			if strings.Contains(resp.Body, c.password) && c.password != "" {
				t.Errorf("the page shows the password back")
			}
		})
	}
}

func TestSignInFailureIsGeneric(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.browser().signUp("alice", testPassword)

	cases := []struct{ name, account, password string }{
		{"wrong password", "alice", "not the password at all"},
		{"unknown account", "mallory", "not the password at all"},
	}
	var bodies []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := w.browser()
			resp := b.submit("/signin", "/signin", url.Values{"name": {c.account}, "password": {c.password}})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %s, want 422", resp.Status)
			}
			if !strings.Contains(resp.Body, "The account name or the password is not correct.") {
				t.Errorf("page lacks the generic failure message:\n%s", resp.Body)
			}
			if strings.Contains(resp.Body, c.password) {
				t.Errorf("the page shows the password back")
			}
			if b.sessionCookie() != "" {
				t.Errorf("a failed sign-in set a session cookie")
			}
			wantRedirectToSignIn(t, b.get("/"))
			bodies = append(bodies, csrfPattern.ReplaceAllString(strings.ReplaceAll(resp.Body, c.account, "NAME"), ""))
		})
	}
	if len(bodies) == 2 && bodies[0] != bodies[1] {
		t.Errorf("the pages for a wrong password and an unknown account differ:\n%s\n---\n%s", bodies[0], bodies[1])
	}
}

func TestSignInRateLimits(t *testing.T) {
	t.Parallel()

	t.Run("per account", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, func(c *web.Config) { c.AccountLimit = web.RateLimit{Burst: 2, Interval: time.Minute} })
		w.browser().signUp("alice", testPassword)
		b := w.browser()
		for i := range 2 {
			if resp := b.submit("/signin", "/signin", url.Values{"name": {"alice"}, "password": {"wrong password " + strconv.Itoa(i)}}); resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("attempt %d: %s, want 422", i+1, resp.Status)
			}
		}
		// Even the right password is refused once the bucket is empty.
		resp := b.submit("/signin", "/signin", url.Values{"name": {"alice"}, "password": {testPassword}})
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third attempt: %s, want 429", resp.Status)
		}
		if got := resp.Header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After %q, want 60", got)
		}
		if !strings.Contains(resp.Body, "Wait 60 seconds") {
			t.Errorf("429 page does not say how long to wait:\n%s", resp.Body)
		}

		// Another account is not limited, and the bucket refills.
		if resp := b.submit("/signin", "/signin", url.Values{"name": {"bob"}, "password": {"x"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("attempt for another account: %s, want 422", resp.Status)
		}
		w.clock.Advance(time.Minute)
		b.signIn("alice", testPassword)
	})

	t.Run("per client", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, func(c *web.Config) { c.ClientLimit = web.RateLimit{Burst: 2, Interval: 10 * time.Second} })
		b := w.browser()
		for i, name := range []string{"carol", "dave"} {
			if resp := b.submit("/signin", "/signin", url.Values{"name": {name}, "password": {"wrong password"}}); resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("attempt %d: %s, want 422", i+1, resp.Status)
			}
		}
		resp := b.submit("/signin", "/signin", url.Values{"name": {"erin"}, "password": {"wrong password"}})
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "10" {
			t.Errorf("third attempt from one client: %s, Retry-After %q; want 429 and 10", resp.Status, resp.Header.Get("Retry-After"))
		}
		// Sign-up shares the client's bucket.
		resp = b.submit("/signup", "/signup", url.Values{"name": {"erin"}, "password": {testPassword}, "password_repeat": {testPassword}})
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("sign-up from the limited client: %s, want 429", resp.Status)
		}
	})
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(c *web.Config) {
		c.IdleTimeout = 10 * time.Minute
		c.SessionLifetime = time.Hour
	})
	b := w.browser()
	b.signUp("alice", testPassword)

	// Requests every 8 minutes keep the session past the idle timeout.
	for i := range 4 {
		w.clock.Advance(8 * time.Minute)
		if resp := b.get("/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d, %d minutes after sign-in: %s, want 200", i+1, 8*(i+1), resp.Status)
		}
	}

	w.clock.Advance(11 * time.Minute)
	wantRedirectToSignIn(t, b.get("/"))

	b.signIn("alice", testPassword)
	for range 7 {
		w.clock.Advance(9 * time.Minute)
		b.get("/")
	}
	// 63 minutes after sign-in the lifetime is over, activity or not.
	wantRedirectToSignIn(t, b.get("/"))
}

func TestSignInNextRejectsOpenRedirects(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.browser().signUp("alice", testPassword)

	// Each password sign-in costs an argon2id check, so the cases marked
	// post go through POST /signin and the rest only through the sign-in
	// page of a signed-in browser, which applies the same check of next.
	cases := []struct {
		name, next, want string
		post             bool
	}{
		{"local path", "/identities/new", "/identities/new", true},
		{"local path with query", "/oauth/authorize?client_id=a&request_uri=urn%3Ax", "/oauth/authorize?client_id=a&request_uri=urn%3Ax", false},
		{"absolute URL", "https://evil.example/", "/", true},
		{"scheme-relative", "//evil.example/", "/", true},
		{"backslash host", "/\\evil.example/", "/", true},
		{"backslashes", "\\\\evil.example", "/", false},
		{"backslash inside", "/a\\b", "/", false},
		{"tab before host", "/\t/evil.example", "/", true},
		{"newline", "/\n/evil.example", "/", false},
		{"javascript", "javascript:alert(1)", "/", false},
		{"scheme without slashes", "https:evil.example", "/", false},
		{"relative path", "evil.example", "/", false},
		{"fragment", "/#//evil.example", "/", false},
		{"non-ASCII", "/\u3002evil.example", "/", false},
	}
	signedIn := w.browser()
	signedIn.signIn("alice", testPassword)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page := "/signin?next=" + url.QueryEscape(c.next)
			if c.post {
				b := w.browser()
				resp := b.submit(page, "/signin", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {c.next}})
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != c.want {
					t.Errorf("sign-in with next %q: %s to %q, want 303 to %q", c.next, resp.Status, resp.Header.Get("Location"), c.want)
				}
			}
			again := signedIn.get(page)
			if again.StatusCode != http.StatusSeeOther || again.Header.Get("Location") != c.want {
				t.Errorf("signed-in GET %s: %s to %q, want 303 to %q", page, again.Status, again.Header.Get("Location"), c.want)
			}
			wantURL := "/signin"
			if c.want != "/" {
				wantURL = "/signin?next=" + url.QueryEscape(c.want)
			}
			if got := w.web.SignInURL(c.next); got != wantURL {
				t.Errorf("SignInURL(%q) = %q, want %q", c.next, got, wantURL)
			}
		})
	}
}

func TestPagesRequireSignIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.browser()
	for _, path := range []string{"/", "/identities/new", "/identities/alice.dhp.test", "/devices/alice.dhp.test"} {
		resp := b.get(path)
		want := w.web.SignInURL(path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("GET %s without a session: %s to %q, want 303 to %q", path, resp.Status, resp.Header.Get("Location"), want)
		}
	}
	if resp := b.get("/no/such/page"); resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Body, "There is no page at /no/such/page.") {
		t.Errorf("unknown path: %s", resp.Status)
	}
	resp := b.get("/signin")
	for _, want := range []string{`<html lang="en">`, `<label for="name">`, `<label for="password">`, `<h1>Sign in</h1>`} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q does not block other origins", csp)
	}
	if css := b.get("/static/style.css"); css.StatusCode != http.StatusOK || !strings.Contains(css.Body, ":focus-visible") {
		t.Errorf("style sheet: %s, or no visible focus style", css.Status)
	}
}
