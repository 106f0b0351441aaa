package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/internal/htmltest"
)

// TestPagesAccessible loads every page as a signed-in person meets it,
// with and without form errors, and checks what assistive technology
// relies on (see htmltest.CheckAccessible).
func TestPagesAccessible(t *testing.T) {
	w := newWorld(t)
	b := w.browser()
	h := "bob.dhp.test"

	type pageCase struct {
		name   string
		load   func() *response
		status int
		title  string
	}
	before := []pageCase{
		{"sign-up", func() *response { return b.get("/signup") }, http.StatusOK, "Create an account - DNS Handle Provider"},
		{"sign-up errors", func() *response {
			return b.submit("/signup", "/signup", url.Values{"name": {""}, "password": {"short"}})
		}, http.StatusUnprocessableEntity, "Error: Create an account - DNS Handle Provider"},
		{"sign-in", func() *response { return b.get("/signin") }, http.StatusOK, "Sign in - DNS Handle Provider"},
		{"sign-in wrong password", func() *response {
			return b.submit("/signin", "/signin", url.Values{"name": {"nobody"}, "password": {"wrong password"}})
		}, http.StatusUnprocessableEntity, "Error: Sign in - DNS Handle Provider"},
		{"not found", func() *response { return b.get("/no/such/page") }, http.StatusNotFound, "Page not found - DNS Handle Provider"},
	}
	for _, c := range before {
		t.Run(c.name, func(t *testing.T) {
			resp := c.load()
			if resp.StatusCode != c.status {
				t.Fatalf("status %s, want %d", resp.Status, c.status)
			}
			htmltest.CheckAccessible(t, resp.Body, c.title)
		})
	}

	b.signUp("bob", testPassword)
	b.createHosted("bob")
	file := b.submit("/devices/"+h, "/devices/"+h+"/browser", url.Values{"browser_label": {"laptop"}, "password": {"file password"}, "password_repeat": {"file password"}})
	if file.StatusCode != http.StatusOK {
		t.Fatalf("browser certificate: %s:\n%s", file.Status, file.Body)
	}
	serial := regexp.MustCompile(`revoke\?serial=([0-9a-f]+)`).FindStringSubmatch(b.get("/devices/" + h).Body)
	if serial == nil {
		t.Fatal("the device page has no revoke link for the new device")
	}

	signedIn := []pageCase{
		{"home", func() *response { return b.get("/") }, http.StatusOK, "Your account - DNS Handle Provider"},
		{"new identity", func() *response { return b.get("/identities/new") }, http.StatusOK, "Create an identity - DNS Handle Provider"},
		{"new identity errors", func() *response {
			return b.submit("/identities/new", "/identities", url.Values{"kind": {"hosted"}, "name": {""}, "zone": {"nowhere.test"}})
		}, http.StatusUnprocessableEntity, "Error: Create an identity - DNS Handle Provider"},
		{"identity", func() *response { return b.get("/identities/" + h) }, http.StatusOK, "@" + h + " - DNS Handle Provider"},
		{"devices", func() *response { return b.get("/devices/" + h) }, http.StatusOK, "Devices of @" + h + " - DNS Handle Provider"},
		{"devices errors", func() *response {
			return b.submit("/devices/"+h, "/devices/"+h+"/browser", url.Values{"browser_label": {""}, "password": {"short"}})
		}, http.StatusUnprocessableEntity, "Error: Devices of @" + h + " - DNS Handle Provider"},
		{"enrollment code", func() *response {
			return b.submit("/devices/"+h, "/devices/"+h+"/enroll", url.Values{"label": {"phone"}})
		}, http.StatusOK, "Enrollment code for @" + h + " - DNS Handle Provider"},
		{"revoke confirmation", func() *response { return b.get("/devices/" + h + "/revoke?serial=" + serial[1]) }, http.StatusOK, "Revoke laptop - DNS Handle Provider"},
		{"unknown identity", func() *response { return b.get("/identities/nobody.dhp.test") }, http.StatusNotFound, "Identity not found - DNS Handle Provider"},
		{"account deletion", func() *response { return b.get("/account/delete") }, http.StatusOK, "Delete your account - DNS Handle Provider"},
		{"delete confirmation", func() *response { return b.get("/identities/" + h + "/delete") }, http.StatusOK, "Delete @" + h + " - DNS Handle Provider"},
		{"delete confirmation errors", func() *response {
			return b.submit("/identities/"+h+"/delete", "/identities/"+h+"/delete", url.Values{"confirm": {"someone.else"}})
		}, http.StatusUnprocessableEntity, "Error: Delete @" + h + " - DNS Handle Provider"},
	}
	for _, c := range signedIn {
		t.Run(c.name, func(t *testing.T) {
			resp := c.load()
			if resp.StatusCode != c.status {
				t.Fatalf("status %s, want %d:\n%s", resp.Status, c.status, resp.Body)
			}
			htmltest.CheckAccessible(t, resp.Body, c.title)
		})
	}
}

// TestErrorSummaryLinksFields checks that each message of the summary at
// the top of a form page links to the field it is about.
func TestErrorSummaryLinksFields(t *testing.T) {
	w := newWorld(t)
	b := w.browser()
	resp := b.submit("/signup", "/signup", url.Values{"name": {"-bad"}, "password": {"short"}})
	for _, field := range []string{"name", "password"} {
		link := `<li><a href="#` + field + `">`
		if !strings.Contains(resp.Body, link) {
			t.Errorf("the error summary lacks a link to #%s:\n%s", field, resp.Body)
		}
		if !strings.Contains(resp.Body, `id="`+field+`"`) {
			t.Errorf("the page has no element with id %q for the summary to link to", field)
		}
	}
}

// TestSignInNamesSiteRequest checks that the sign-in page tells a person
// who comes from a site's OpenID request why they must sign in, and only
// that person.
func TestSignInNamesSiteRequest(t *testing.T) {
	w := newWorld(t)
	b := w.browser()
	const sentence = "A site asked this provider who you are."
	cases := []struct {
		name, next string
		want       bool
	}{
		{"from a site", "/oauth/login?id=abc", true},
		{"from a page", "/devices/bob.dhp.test", false},
		{"short path", "/", false},
		{"none", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := b.get("/signin?next=" + url.QueryEscape(c.next))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %s, want 200:\n%s", resp.Status, resp.Body)
			}
			if got := strings.Contains(resp.Body, sentence); got != c.want {
				t.Errorf("the page names the site's request: %t, want %t", got, c.want)
			}
		})
	}
}
