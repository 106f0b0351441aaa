package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// maxPage bounds the size of a page the demo's browser reads.
const maxPage = 1 << 20

// page is an HTML page the demo's browser received.
type page struct {
	URL    *url.URL
	Status int
	Body   []byte
}

// form is one <form> of a page: where it posts and the values of its
// fields as the page set them (hidden inputs, text inputs, the first
// option of a select, checked radio buttons and checkboxes).
type form struct {
	Action *url.URL
	Method string
	Values url.Values
	fields map[string]bool
}

// browser is a cookie-keeping HTTP client that follows forms the way a
// person clicking through the pages would.
type browser struct {
	client *http.Client
}

// get fetches u, following redirects.
func (b *browser) get(ctx context.Context, u string) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

// submit fills the form of p that has a field named by every key of set,
// and sends it.
func (b *browser) submit(ctx context.Context, p *page, set map[string]string) (*page, error) {
	f, err := findForm(p, set)
	if err != nil {
		return nil, err
	}
	for k, v := range set {
		f.Values.Set(k, v)
	}
	var req *http.Request
	if strings.EqualFold(f.Method, http.MethodGet) {
		u := *f.Action
		u.RawQuery = f.Values.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, f.Action.String(), strings.NewReader(f.Values.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func (b *browser) do(req *http.Request) (*page, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		return nil, err
	}
	return &page{URL: resp.Request.URL, Status: resp.StatusCode, Body: body}, nil
}

// text returns the page's visible text with white space collapsed, for
// messages and checks.
func (p *page) text() string {
	doc, err := html.Parse(bytes.NewReader(p.Body))
	if err != nil {
		return string(p.Body)
	}
	var sb strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style" || n.Data == "head") {
			return
		}
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
			sb.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return strings.Join(strings.Fields(sb.String()), " ")
}

// findForm returns the first form of p that has a field for every key of
// need.
func findForm(p *page, need map[string]string) (*form, error) {
	doc, err := html.Parse(bytes.NewReader(p.Body))
	if err != nil {
		return nil, fmt.Errorf("page %s: %w", p.URL, err)
	}
	var forms []*form
	var cur *form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				action, _ := url.Parse(attr(n, "action"))
				method := attr(n, "method")
				if method == "" {
					method = http.MethodGet
				}
				cur = &form{Action: p.URL.ResolveReference(action), Method: method, Values: url.Values{}, fields: map[string]bool{}}
				forms = append(forms, cur)
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input", "select", "textarea", "button":
				if cur != nil {
					cur.addField(n)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, f := range forms {
		ok := true
		for k := range need {
			if !f.fields[k] {
				ok = false
				break
			}
		}
		if ok {
			return f, nil
		}
	}
	keys := make([]string, 0, len(need))
	for k := range need {
		keys = append(keys, k)
	}
	return nil, fmt.Errorf("page %s (status %d) has no form with the fields %s, and its text is: %.300s", p.URL, p.Status, strings.Join(keys, ", "), p.text())
}

// addField records the field n and the value the page gave it.
func (f *form) addField(n *html.Node) {
	name := attr(n, "name")
	if name == "" {
		return
	}
	f.fields[name] = true
	switch n.Data {
	case "input":
		switch strings.ToLower(attr(n, "type")) {
		case "radio", "checkbox":
			if hasAttr(n, "checked") && !f.Values.Has(name) {
				f.Values.Set(name, valueOr(n, "on"))
			}
		case "submit", "button", "image", "reset", "file":
		default:
			f.Values.Set(name, attr(n, "value"))
		}
	case "select":
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "option" && (hasAttr(c, "selected") || !f.Values.Has(name)) {
				f.Values.Set(name, valueOr(c, textOf(c)))
			}
		}
	case "textarea":
		f.Values.Set(name, textOf(n))
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func valueOr(n *html.Node, def string) string {
	if hasAttr(n, "value") {
		return attr(n, "value")
	}
	return def
}

func textOf(n *html.Node) string {
	var sb strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			sb.WriteString(c.Data)
		}
	}
	return strings.TrimSpace(sb.String())
}
