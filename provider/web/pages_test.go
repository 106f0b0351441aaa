package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestPagesAccessible loads every page as a signed-in person meets it,
// with and without form errors, and checks what assistive technology
// relies on (see checkPage).
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
			checkPage(t, resp.Body, c.title)
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
	}
	for _, c := range signedIn {
		t.Run(c.name, func(t *testing.T) {
			resp := c.load()
			if resp.StatusCode != c.status {
				t.Fatalf("status %s, want %d:\n%s", resp.Status, c.status, resp.Body)
			}
			checkPage(t, resp.Body, c.title)
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

// checkPage parses a page and checks the basics of an accessible page. It
// wants lang="en", the title wantTitle, one h1 and no skipped heading
// level, and a label for every field. Every id that aria-describedby or
// aria-labelledby names must exist, and ids must be unique. Images need alt
// text and buttons need text. Scripts and assets from other origins fail.
func checkPage(t *testing.T, body, wantTitle string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse the page: %v", err)
	}
	var (
		ids        = map[string]int{}
		labelFor   = map[string]bool{}
		fields     []string
		references []string
		headings   []int
		title      string
	)
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if id := attr(n, "id"); id != "" {
				ids[id]++
			}
			for _, name := range []string{"aria-describedby", "aria-labelledby"} {
				references = append(references, strings.Fields(attr(n, name))...)
			}
			for _, name := range []string{"src", "href", "action"} {
				if v := attr(n, name); strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:") || strings.HasPrefix(v, "//") {
					t.Errorf("<%s %s=%q> points to another origin", n.Data, name, v)
				}
			}
			switch n.Data {
			case "html":
				if lang := attr(n, "lang"); lang != "en" {
					t.Errorf("<html lang=%q>, want en", lang)
				}
			case "title":
				title = textOf(n)
			case "h1", "h2", "h3", "h4", "h5", "h6":
				level, _ := strconv.Atoi(n.Data[1:])
				headings = append(headings, level)
			case "label":
				labelFor[attr(n, "for")] = true
			case "input", "select", "textarea":
				switch attr(n, "type") {
				case "hidden", "submit", "button":
				default:
					fields = append(fields, attr(n, "id"))
				}
			case "img":
				if attr(n, "alt") == "" {
					t.Errorf("<img src=%.40q> has no alt text", attr(n, "src"))
				}
			case "button":
				if textOf(n) == "" {
					t.Errorf("a <button> has no text")
				}
			case "script":
				t.Errorf("the page has a <script>")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)

	if title != wantTitle {
		t.Errorf("<title> %q, want %q", title, wantTitle)
	}
	if len(headings) == 0 || headings[0] != 1 {
		t.Errorf("headings %v, want the first to be h1", headings)
	}
	h1 := 0
	for i, level := range headings {
		if level == 1 {
			h1++
		}
		if i > 0 && level > headings[i-1]+1 {
			t.Errorf("heading levels %v skip from h%d to h%d", headings, headings[i-1], level)
		}
	}
	if h1 != 1 {
		t.Errorf("the page has %d h1 headings, want 1", h1)
	}
	for _, id := range fields {
		if id == "" || !labelFor[id] {
			t.Errorf("field with id %q has no <label for>", id)
		}
	}
	for _, id := range references {
		if ids[id] == 0 {
			t.Errorf("aria reference %q names no element", id)
		}
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("id %q is used %d times", id, n)
		}
	}
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// textOf returns the text inside n with white space collapsed.
func textOf(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
			sb.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(sb.String()), " ")
}
