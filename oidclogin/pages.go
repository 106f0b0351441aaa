package oidclogin

import (
	"crypto/x509"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/dnshandle/dnshandle/resolve"
)

// pageHead is the shared head of both pages: no scripts, inline styles
// only, and a layout that reads at any zoom and down to 320 CSS pixels.
// Colours keep a contrast ratio of at least 4.5:1 on white.
const pageHead = `{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}}</title>
<style>
body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 0; padding: 1rem; color: #111; background: #fff; }
main { max-width: 32rem; margin: 2rem auto; }
h1 { font-size: 1.75rem; line-height: 1.25; }
h1, p { overflow-wrap: break-word; }
label { display: block; font-weight: 600; }
input[type=text] { width: 100%; box-sizing: border-box; font-size: 1.1rem; padding: .5rem; border: 2px solid #555; border-radius: 4px; }
input[aria-invalid=true] { border: 3px solid #a00; }
button { font: inherit; padding: .5rem 1.25rem; border: 2px solid #1a4d8c; border-radius: 4px; background: #1a4d8c; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #1a4d8c; }
a { color: #1a4d8c; }
:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; box-shadow: 0 0 0 5px #111; }
.hint { color: #444; margin: .25rem 0 .5rem; }
.problem { border-left: 4px solid #a00; padding-left: .75rem; margin: .5rem 0 1rem; }
.problem p { margin: .25rem 0; }
.error { color: #a00; font-weight: 600; }
.detail { color: #444; font-size: .95rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
</style>
</head>
<body>
<main>
{{end}}`

// loginTemplate is the form for the handle. After a failed attempt it
// shows the advice first and the technical detail after it, both above
// the field and tied to it with aria-describedby.
const loginTemplate = `{{define "login"}}{{if .Error}}{{template "head" "Error: Sign in with your DNS handle"}}{{else}}{{template "head" "Sign in with your DNS handle"}}{{end}}
<h1>Sign in with your DNS handle</h1>
{{if .Signed}}<p>You are signed in as <strong>{{.Signed}}</strong>.</p>
<form method="post" action="{{.LogoutAction}}">
<input type="hidden" name="return" value="{{.Return}}">
<button class="secondary" type="submit">Sign out</button>
</form>
<h2>Sign in with another handle</h2>
{{end}}<form method="post" action="{{.Action}}">
<label for="handle">Your handle</label>
<p class="hint" id="handle-hint">For example alice.example.com. The "@" in front is optional.</p>
{{if .Error}}<div class="problem" id="handle-error" role="alert">
<p class="error"><span class="visually-hidden">Error: </span>{{.Advice}}</p>
<p class="detail">Details: {{.Error}}</p>
</div>
{{end}}<input type="text" id="handle" name="handle" value="{{.Handle}}" required autocomplete="username" autocapitalize="none" spellcheck="false" aria-describedby="handle-hint{{if .Error}} handle-error{{end}}"{{if .Error}} aria-invalid="true"{{end}}>
<input type="hidden" name="return" value="{{.Return}}">
<p>This site looks up your handle in DNS and sends you to the provider it names, where you confirm that the handle is yours.</p>
<button type="submit">Continue to your provider</button>
</form>
</main>
</body>
</html>
{{end}}`

// errorTemplate is the page of a login that failed after the form: the
// advice first, then the technical detail of the error.
const errorTemplate = `{{define "error"}}{{template "head" (printf "Error: %s" .Title)}}
<h1>{{.Title}}</h1>
<div class="problem" role="alert">
<p class="error">{{.Advice}}</p>
</div>
<h2>Details</h2>
<p class="detail">{{.Problem}}</p>
<p><a href="{{.Retry}}">Start the sign-in again</a></p>
</main>
</body>
</html>
{{end}}`

var pages = template.Must(template.New("pages").Parse(pageHead + loginTemplate + errorTemplate))

// loginPage is the data of the login form.
type loginPage struct {
	Action       string
	LogoutAction string
	Handle       string
	Return       string
	Signed       string // the signed-in handle for display, "" when none
	Error        string
	Advice       string
}

// errorPage is the data of the page shown for a failed login.
type errorPage struct {
	Title   string
	Problem string
	Advice  string
	Retry   string
}

// setPageHeaders keeps pages out of caches, frames and Referer headers.
// The callback URL carries the authorization code, which must not leak
// to the next site through Referer.
func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
}

// renderPage writes one of the templates with status.
func renderPage(w http.ResponseWriter, status int, name string, data any) {
	setPageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	// A write error means the client went away; there is no one to tell.
	_ = pages.ExecuteTemplate(w, name, data)
}

// stepTitles are the headings of the error page, one per step.
var stepTitles = map[Step]string{
	StepInput:        "That handle cannot be used",
	StepResolve:      "Your handle's DNS records cannot be used to sign in",
	StepDiscovery:    "Your provider's configuration could not be read",
	StepRegistration: "This site could not register with your provider",
	StepPAR:          "Your provider did not accept the sign-in request",
	StepAuthorize:    "The sign-in was not completed",
	StepToken:        "Your provider did not complete the sign-in",
	StepIDToken:      "Your provider's answer could not be verified",
	StepBinding:      "Your handle no longer points to the identity you signed in with",
}

// title returns the heading of the error page.
func title(e *Error) string {
	var (
		lookup      *resolve.LookupError
		handleClaim *HandleClaimError
		unknown     x509.UnknownAuthorityError
	)
	switch {
	case errors.As(e.Err, &lookup):
		return "Your handle could not be looked up in DNS"
	case errors.As(e.Err, &handleClaim):
		return "You chose another handle at your provider"
	case errors.As(e.Err, &unknown):
		return "This site does not trust your provider's certificate"
	}
	if t, ok := stepTitles[e.Step]; ok {
		return t
	}
	return "The sign-in failed"
}

// advice returns what the person can do about a failed login. Only
// failures of the provider, of DNS servers or of the network end with
// "try again".
func advice(e *Error) string {
	var (
		noIssuer    *NoIssuerError
		state       *StateError
		oauthErr    *OAuthError
		config      *ConfigError
		lookup      *resolve.LookupError
		ret         *ReturnPathError
		handleClaim *HandleClaimError
		unknown     x509.UnknownAuthorityError
	)
	switch {
	case errors.As(e.Err, &config):
		return "This site is not configured correctly. Tell its operator; signing in again will not help."
	case errors.As(e.Err, &ret):
		return "Open the sign-in page from a link on this site and try again."
	case e.Step == StepInput:
		return "Type your handle as a domain name, for example alice.example.com."
	case errors.As(e.Err, &noIssuer) && noIssuer.NXDomain:
		return "Check the spelling of your handle and type it again. If it is right, its owner has not published it in DNS yet."
	case errors.As(e.Err, &noIssuer):
		return "Ask your handle provider to publish the oauth= value in the _atproto TXT record of your handle, or sign in with a device certificate."
	case refused(e):
		return "No DNS server answers for that name. Check the spelling of your handle and type it again; if it is right, tell your handle provider."
	case errors.As(e.Err, &lookup):
		return "The DNS lookup failed. Try again in a moment; if it keeps failing, check that your handle's DNS servers answer."
	case errors.As(e.Err, &handleClaim):
		return fmt.Sprintf("To sign in as @%s, type %s here. To sign in as @%s, start again and choose @%s at your provider.",
			handleClaim.Token, handleClaim.Token, handleClaim.Login, handleClaim.Login)
	case errors.As(e.Err, &unknown):
		return "The HTTPS certificate of your provider at " + orUnknown(e.Issuer) + " is signed by an authority that this site does not trust, so signing in again will not help. Tell the operator of this site to trust the provider's certificate authority."
	case e.Step == StepResolve:
		return "Check the _atproto TXT record of your handle: it needs did=<your DID> and oauth=<your provider>, signed with DNSSEC. Your DNS host or handle provider can fix it."
	case errors.As(e.Err, &state):
		return "Start the sign-in again in this browser, and finish it within a few minutes."
	case errors.As(e.Err, &oauthErr) && oauthErr.Code == "access_denied":
		return "The sign-in was cancelled or refused at your provider. Start again if you want to sign in."
	case e.Step == StepBinding:
		return "If you moved your handle to another identity or provider, wait until the DNS change has reached everyone and sign in again. Otherwise tell your handle provider."
	}
	return "Try again in a moment. If it keeps failing, tell the operator of your provider at " + orUnknown(e.Issuer) + "."
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// refused reports whether the handle typed at the start of a login got
// REFUSED from the DNS server, which usually means that the name lies in
// no zone the server serves, such as a misspelled handle.
func refused(e *Error) bool {
	var lookup *resolve.LookupError
	return e.Step == StepResolve && errors.As(e.Err, &lookup) && lookup.Kind == resolve.KindRefused
}

// statusCode returns the HTTP status of the page for a failed login: 4xx
// for what the person can fix, 502 for failures of the provider, of DNS
// servers or of the network, and 500 for this site's configuration.
func statusCode(e *Error) int {
	var (
		config      *ConfigError
		lookup      *resolve.LookupError
		handleClaim *HandleClaimError
	)
	switch {
	case errors.As(e.Err, &config):
		return http.StatusInternalServerError
	case refused(e):
		return http.StatusBadRequest
	case errors.As(e.Err, &handleClaim):
		return http.StatusForbidden
	case errors.As(e.Err, &lookup):
		return http.StatusBadGateway
	case e.Step == StepInput || e.Step == StepAuthorize:
		return http.StatusBadRequest
	case e.Step == StepResolve:
		return http.StatusBadRequest
	case e.Step == StepBinding:
		return http.StatusForbidden
	}
	return http.StatusBadGateway
}
