package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/style.css
var staticFiles embed.FS

// staticFS contains the style sheet served as /static/style.css.
var staticFS = mustSub(staticFiles, "static")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("web: embedded directory " + dir + ": " + err.Error())
	}
	return sub
}

// pageNames are the page templates, each parsed with layout.html.
var pageNames = []string{
	"signup", "signin", "home", "identity_new", "identity", "identity_delete", "account_delete", "devices", "enrollment", "revoke", "error",
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"field": newField, "when": formatTime}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse the template of page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page is the data that every page template receives.
type page struct {
	// Title is the page's title and its one h1 heading.
	Title string
	// Account is the signed-in account, nil before sign-in.
	Account *store.Account
	// CSRF is the token of the page's forms.
	CSRF string
	// Notice is a status message shown above the content.
	Notice string
	// Form holds the submitted values to show again; passwords are
	// never put back.
	Form url.Values
	// Errors are the messages about the submitted form, by field.
	Errors fieldErrors
	// Data is the page's own content.
	Data any
}

// field is one labelled form input with its value and error.
type field struct {
	Name, Label, Type, Autocomplete, Hint string
	Value, Error                          string
}

// DescribedBy returns the IDs of the hint and error of the field.
func (f field) DescribedBy() string {
	ids := ""
	if f.Hint != "" {
		ids = f.Name + "-hint"
	}
	if f.Error != "" {
		if ids != "" {
			ids += " "
		}
		ids += f.Name + "-error"
	}
	return ids
}

// newField builds a field of p. Password inputs never get their value
// back. hint may be "".
func newField(p *page, name, label, typ, autocomplete, hint string) field {
	f := field{Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Hint: hint, Error: p.Errors[name]}
	if typ != "password" && p.Form != nil {
		f.Value = p.Form.Get(name)
	}
	return f
}

// formatTime writes t in UTC to the minute, or "never" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// setPageHeaders sets the headers of every HTML page: nothing loads from
// other origins, no framing, and no caching, because pages carry CSRF
// tokens, enrollment codes and account data.
func setPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// render writes the page name with status. It fills p.Account and p.CSRF
// when they are empty.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	if p.Account == nil {
		p.Account, _ = w.Account(r)
	}
	if p.CSRF == "" {
		p.CSRF = w.formToken(rw, r)
	}
	if p.Errors == nil {
		p.Errors = fieldErrors{}
	}
	var buf bytes.Buffer
	if err := w.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		w.cfg.Logger.ErrorContext(r.Context(), "rendering a page failed", "remote_addr", r.RemoteAddr, "err", fmt.Errorf("page %s: %w", name, err))
		http.Error(rw, "The page could not be shown. Try again; if it keeps failing, tell the provider's operator.", http.StatusInternalServerError)
		return
	}
	setPageHeaders(rw.Header())
	rw.WriteHeader(status)
	_, _ = rw.Write(buf.Bytes())
}

// errorView is the content of the error page.
type errorView struct {
	// Problem describes what was wrong, and Remedy what to do.
	Problem, Remedy string
}

// renderError writes the error page: a title, what was wrong and what to
// do about it.
func (w *Web) renderError(rw http.ResponseWriter, r *http.Request, status int, title, problem, remedy string) {
	w.render(rw, r, status, "error", &page{Title: title, Data: errorView{Problem: problem, Remedy: remedy}})
}

func (w *Web) notFound(rw http.ResponseWriter, r *http.Request) {
	w.renderError(rw, r, http.StatusNotFound, "Page not found",
		"There is no page at "+r.URL.Path+".", "Check the address, or start again from your home page.")
}

// internalError logs err and writes the error page without its details.
func (w *Web) internalError(rw http.ResponseWriter, r *http.Request, err error) {
	at := w.now().UTC().Format(time.RFC3339)
	w.cfg.Logger.ErrorContext(r.Context(), "request failed", "remote_addr", r.RemoteAddr, "err", fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err))
	w.renderError(rw, r, http.StatusInternalServerError, "Something went wrong",
		"The provider failed to complete this request. Nothing you typed was wrong.",
		"Try again in a minute. If it keeps failing, tell the provider's operator the time "+at+".")
}

// tooManyRequests writes 429 with Retry-After in whole seconds (RFC 9110,
// section 10.2.3).
func (w *Web) tooManyRequests(rw http.ResponseWriter, r *http.Request, wait time.Duration) {
	seconds := max(int(math.Ceil(wait.Seconds())), 1)
	rw.Header().Set("Retry-After", strconv.Itoa(seconds))
	w.renderError(rw, r, http.StatusTooManyRequests, "Too many attempts",
		"There were too many attempts to sign in or sign up from your network or for this account.",
		fmt.Sprintf("Wait %d seconds, then try again.", seconds))
}
