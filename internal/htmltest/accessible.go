// Package htmltest checks rendered HTML pages in tests for the basics an
// accessible page needs.
package htmltest

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// CheckAccessible parses a page and checks the basics of an accessible page. It
// wants lang="en", the title wantTitle, one h1 and no skipped heading
// level, and a label for every field. Every id that aria-describedby or
// aria-labelledby names must exist, and ids must be unique. Images need alt
// text and buttons need text. Scripts and assets from other origins fail.
func CheckAccessible(t testing.TB, body, wantTitle string) {
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
