package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/dnshandle/dnshandle/verify"
)

// pageData fills pageTemplate.
type pageData struct {
	Title   string
	Message string
	// Handle is shown when the page is about one handle.
	Handle string
	// Step names the verification step that failed.
	Step string
	// SignIn shows the sign-in form, whose action is LoginPath.
	SignIn bool
	// LoginConfigured is false when Config.Login is nil.
	LoginConfigured bool
	// LoginPath is the form's action.
	LoginPath string
	// Return is the path to come back to after signing in.
	Return string
}

// pageTemplate is the page for browsers: no scripts, inline styles only,
// colours with a contrast ratio of at least 4.5:1 on white, and a layout
// that reflows down to 320 CSS pixels.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 0; padding: 0 1rem; color: #111; background: #fff; }
main { max-width: 36rem; margin: 2rem auto; }
h1 { font-size: 1.75rem; line-height: 1.25; }
h1, p, dd { overflow-wrap: break-word; }
label { display: block; font-weight: 600; }
.hint { color: #444; margin: .25rem 0 .5rem; }
input[type=text] { width: 100%; box-sizing: border-box; font-size: 1.1rem; padding: .5rem; border: 2px solid #555; border-radius: 4px; }
button { font: inherit; margin-top: 1rem; padding: .5rem 1.25rem; border: 2px solid #1a4d8c; border-radius: 4px; background: #1a4d8c; color: #fff; cursor: pointer; }
a { color: #1a4d8c; }
:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; box-shadow: 0 0 0 5px #111; }
.problem { border-left: 4px solid #a00; padding-left: .75rem; }
dt { font-weight: 600; }
dd { margin: 0 0 .5rem; }
code { background: #f3f3f3; padding: 0 .2rem; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{- if .Step}}
<div class="problem">
<p>{{.Message}}</p>
<dl>
<dt>Handle in the certificate</dt><dd><code>{{.Handle}}</code></dd>
<dt>Check that failed</dt><dd><code>{{.Step}}</code></dd>
</dl>
</div>
<p>The owner of the handle or their handle provider can fix the records or issue a new certificate. Your browser may keep offering the same certificate to this site until you restart it.</p>
{{- else}}
<p>{{.Message}}</p>
{{- end}}
{{- if .SignIn}}
<h2>Sign in with your DNS handle{{if .Step}} instead{{end}}</h2>
{{- if .LoginConfigured}}
<form method="post" action="{{.LoginPath}}">
<input type="hidden" name="return" value="{{.Return}}">
<label for="handle">Your handle</label>
<p class="hint" id="handle-hint">For example alice.example.com. This site looks the handle up in DNS and sends you to your provider to confirm it.</p>
<input type="text" id="handle" name="handle" autocomplete="username" autocapitalize="none" spellcheck="false" aria-describedby="handle-hint" required>
<button type="submit">Continue to your provider</button>
</form>
{{- else}}
<p>OIDC sign-in is not configured on this site, so a device certificate is the only way in.</p>
{{- end}}
{{- if not .Step}}
<h2>Sign in with a device certificate</h2>
<p>Devices enrolled for a DNS handle sign in without a password: the browser presents the device certificate, and this site checks it against the handle's DNS records. Set the browser up with <code>dnshandle device export</code> and <code>dnshandle browser-policy</code>.</p>
{{- end}}
{{- end}}
</main>
</body>
</html>
`))

// writePage writes an HTML page for browsers and the title and message as
// plain text for other clients.
func writePage(w http.ResponseWriter, r *http.Request, status int, data pageData) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !wantsHTML(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%d %s: %s\n", status, http.StatusText(status), data.Message)
		return
	}

	var body bytes.Buffer
	if err := pageTemplate.Execute(&body, data); err != nil {
		// The template is fixed and its data are strings, so this is a
		// programming error. It must not leave an empty 200 behind.
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(body.Len()))
	formAction := "'self'"
	if data.SignIn && data.LoginConfigured {
		// The sign-in form posts to LoginPath, which redirects to the
		// authorization endpoint of the handle's OpenID provider, an
		// origin that only DNS names. Chromium checks form-action on each
		// redirect of a form submission (seen with Chromium 156), so
		// 'self' blocks the sign-in. https: still keeps form data off
		// cleartext and other schemes.
		formAction = "https:"
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction)
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}

// writeSignInPage writes the 401 page that offers sign-in.
func writeSignInPage(w http.ResponseWriter, r *http.Request, loginConfigured bool) {
	writePage(w, r, http.StatusUnauthorized, pageData{
		Title:           "Sign in to continue",
		Message:         "This site needs to know who you are. It accepts DNS handles such as @alice.example.com.",
		SignIn:          true,
		LoginConfigured: loginConfigured,
		LoginPath:       LoginPath,
		Return:          r.URL.RequestURI(),
	})
}

// failure is the part of a failed verification that the client gets: the
// step and a fixed description of it, never the error text, which can name
// internal resolvers or addresses.
type failure struct {
	status      int
	handle      string
	step        string
	description string
}

// stepDescriptions explains, for each verification step, what its failure
// means to the person who presented the certificate.
var stepDescriptions = map[verify.Step]string{
	verify.StepTLS:        "The connection must use TLS 1.3 and carry a certificate chain.",
	verify.StepHandle:     "The certificate must name exactly one handle, in lowercase, as its DNS name.",
	verify.StepPolicy:     "This site does not accept handles under this name.",
	verify.StepDNS:        "The handle's TLSA and _atproto records could not be resolved with a DNSSEC status this site accepts.",
	verify.StepTLSA:       "No TLSA record at the handle accredits the certificate authority (CSC) that issued this certificate.",
	verify.StepPath:       "The certificate is not validly signed by the accredited CSC, is expired, or is not for client authentication.",
	verify.StepDID:        "The permanent identifier (DID) in the certificate differs from the did= record of the handle.",
	verify.StepRevocation: "The certificate is revoked, or its revocation status could not be checked.",
}

// describeFailure maps a verification error to the failure shown to the
// client. A resolution that timed out and a CRL that could not be
// fetched are server-side problems, not the client's, so they get 503.
func describeFailure(err error) failure {
	f := failure{status: http.StatusForbidden, step: "unknown", description: "The certificate could not be verified."}
	var verr *verify.Error
	if !errors.As(err, &verr) {
		return f
	}
	f.handle = verr.Handle
	f.step = verr.Step.String()
	if d, ok := stepDescriptions[verr.Step]; ok {
		f.description = d
	}

	var timeout *verify.TimeoutError
	var revoked *verify.RevokedError
	var unavailable *verify.CRLUnavailableError
	var missing *verify.MissingDistributionPointError
	var noTLSA *verify.NoTLSAError
	switch {
	case errors.As(err, &noTLSA) && noTLSA.NXDomain:
		f.description = "The handle does not exist in DNS: it was never published, or its provider deleted it."
	case errors.As(err, &noTLSA):
		f.description = "The handle publishes no TLSA record, so no certificate authority (CSC) is accredited for it."
	case errors.As(err, &timeout):
		f.status = http.StatusServiceUnavailable
		f.description = "The handle's DNS records could not be resolved in time. Try again later."
	case errors.As(err, &revoked):
		f.description = "The handle's provider revoked this certificate. Enroll the device again to get a new one."
	case errors.As(err, &unavailable):
		f.status = http.StatusServiceUnavailable
		f.description = "This site could not fetch the revocation list of the handle's provider, so it cannot tell whether the certificate is revoked. Try again later."
	case errors.As(err, &missing):
		f.description = "The certificate names no revocation list, so this site cannot tell whether it is revoked."
	}
	return f
}

// writeFailure writes the 403 (or 503) response for a failed certificate.
// The HTML page offers OIDC sign-in when it is configured, because a
// session identity is accepted even while the certificate fails.
func writeFailure(w http.ResponseWriter, r *http.Request, f failure, loginConfigured bool) {
	handle := f.handle
	if handle == "" {
		handle = "(not read)"
	}
	if !wantsHTML(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(f.status)
		fmt.Fprintf(w, "%d %s: the DNS handle certificate for %s failed the %s check: %s\n",
			f.status, http.StatusText(f.status), handle, f.step, f.description)
		return
	}
	writePage(w, r, f.status, pageData{
		Title:   "Your device certificate was not accepted",
		Message: f.description,
		Handle:  handle,
		Step:    f.step,
		// Without OIDC the only way in is a working certificate,
		// which the message already explains.
		SignIn:          loginConfigured,
		LoginConfigured: loginConfigured,
		LoginPath:       LoginPath,
		Return:          r.URL.RequestURI(),
	})
}
