package oidclogin

import (
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// expectFailure checks that a login ended on a page with status and that
// Config.OnError received a *Error of step. It returns that error.
func expectFailure(tb testing.TB, r *rp, resp *http.Response, body string, status int, step Step) error {
	tb.Helper()
	if resp.StatusCode != status {
		tb.Fatalf("status = %s at %s, want %d\n%s", resp.Status, resp.Request.URL, status, body)
	}
	if got := resp.Request.URL.Host; got != strings.TrimPrefix(r.base, "https://") {
		tb.Fatalf("the failed login ended at %s, not at the relying party", resp.Request.URL)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		tb.Fatalf("Content-Type = %q, want an HTML page", ct)
	}
	err := r.lastError()
	if err == nil {
		tb.Fatal("Config.OnError was not called")
	}
	if got := stepOf(tb, err); got != step {
		tb.Fatalf("step = %s, want %s (error: %v)", got, step, err)
	}
	return err
}

func asConfigError(err error) *ConfigError {
	var c *ConfigError
	if errors.As(err, &c) {
		return c
	}
	return nil
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	op := startTestOP(t, testOPOptions{})
	mismatched := startTestOP(t, testOPOptions{discoveryIss: "https://127.0.0.1/tenant"})
	plainLogout := startTestOP(t, testOPOptions{endSessionEndpoint: "http://127.0.0.1/end_session"})
	w := newWorld(t, []string{
		txt("alice.dhp.test", "did="+aliceDID, "oauth="+op.issuer),
		txt("nooauth.dhp.test", "did="+aliceDID),
		txt("nodid.dhp.test", "oauth="+op.issuer),
		txt("badissuer.dhp.test", "did="+aliceDID, "oauth=http://idp.test"),
		txt("bogus.dhp.test", "did="+aliceDID, "oauth="+op.issuer),
		txt("mismatch.dhp.test", "did="+aliceDID, "oauth="+mismatched.issuer),
		txt("plainlogout.dhp.test", "did="+aliceDID, "oauth="+plainLogout.issuer),
	}, nil)
	// Changing the signed record without signing it again makes its
	// RRSIG fail, so the RRset is bogus.
	if err := w.dhp.Tamper("_atproto.bogus.dhp.test.", dns.TypeTXT, func(rr dns.RR) {
		rr.(*dns.TXT).Txt = []string{"did=" + otherDID, "oauth=" + op.issuer}
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		input    string
		ret      string
		status   int
		step     Step
		check    func(error) bool
		pageText string
	}{
		{name: "handle syntax", input: "not a handle", status: 400, step: StepInput,
			check: func(err error) bool { var e *handle.SyntaxError; return errors.As(err, &e) }, pageText: "Type your handle as a domain name"},
		{name: "no oauth", input: "nooauth.dhp.test", status: 400, step: StepResolve,
			check: func(err error) bool { var e *NoIssuerError; return errors.As(err, &e) && !e.NXDomain }, pageText: "no oauth= value in the TXT records at _atproto.nooauth.dhp.test."},
		{name: "unknown handle", input: "nobody.dhp.test", status: 400, step: StepResolve,
			check: func(err error) bool { var e *NoIssuerError; return errors.As(err, &e) && e.NXDomain }, pageText: "does not exist in DNS"},
		{name: "unknown handle advice", input: "nobody.dhp.test", status: 400, step: StepResolve,
			check: func(err error) bool { var e *NoIssuerError; return errors.As(err, &e) && e.NXDomain }, pageText: "Check the spelling of your handle"},
		{name: "no did", input: "nodid.dhp.test", status: 400, step: StepResolve,
			check: func(err error) bool { var e *MissingDIDError; return errors.As(err, &e) }, pageText: "no did= value"},
		{name: "oauth not https", input: "badissuer.dhp.test", status: 400, step: StepResolve,
			check: func(err error) bool { var e *records.IssuerError; return errors.As(err, &e) }, pageText: "invalid oauth issuer"},
		{name: "DNSSEC bogus", input: "bogus.dhp.test", status: 400, step: StepResolve,
			check: func(err error) bool { var e *resolve.BogusError; return errors.As(err, &e) }, pageText: "is bogus"},
		{name: "discovery issuer differs from oauth", input: "mismatch.dhp.test", status: 502, step: StepDiscovery,
			check: func(err error) bool {
				var e *IssuerMismatchError
				return errors.As(err, &e) && e.Got == "https://127.0.0.1/tenant" && e.Expected == mismatched.issuer
			}, pageText: "must be identical"},
		{name: "end_session_endpoint not https", input: "plainlogout.dhp.test", status: 502, step: StepDiscovery,
			check: func(err error) bool {
				var e *MetadataError
				return errors.As(err, &e) && e.Field == "end_session_endpoint"
			}},
		{name: "return to another host", input: "alice.dhp.test", ret: "https://evil.test/", status: 400, step: StepInput,
			check: isReturnPathError, pageText: "is not accepted"},
		{name: "return to scheme-relative URL", input: "alice.dhp.test", ret: "//evil.test/x", status: 400, step: StepInput, check: isReturnPathError},
		{name: "return with backslash", input: "alice.dhp.test", ret: `/\evil.test`, status: 400, step: StepInput, check: isReturnPathError},
		{name: "return to javascript URL", input: "alice.dhp.test", ret: "javascript:alert(1)", status: 400, step: StepInput, check: isReturnPathError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRP(t, w, tlsClient(op.srv), nil)
			browser := newBrowser(t, r.srv)
			resp, body := r.startLogin(t, browser, tc.input, tc.ret)
			err := expectFailure(t, r, resp, body, tc.status, tc.step)
			if !tc.check(err) {
				t.Fatalf("error = %v (%T), not the expected cause", err, errors.Unwrap(err))
			}
			if tc.pageText != "" && !strings.Contains(body, htmlEscape(tc.pageText)) {
				t.Errorf("the page does not contain %q:\n%s", tc.pageText, body)
			}
			if cookies := browser.Jar.Cookies(resp.Request.URL); len(cookies) != 0 {
				t.Errorf("a failed start left cookies: %v", cookies)
			}
		})
	}
}

func isReturnPathError(err error) bool {
	var e *ReturnPathError
	return errors.As(err, &e)
}

// htmlEscape escapes text as html/template does in element content.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

func TestCallbackFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   func(env *callbackEnv) testOPOptions
		status int
		step   Step
		check  func(tb testing.TB, err error, issuer string)
		page   string
	}{
		{
			name: "did changed after start (transferred handle)",
			opts: func(env *callbackEnv) testOPOptions {
				return testOPOptions{beforeRedirect: func() { env.setTXT("alice.dhp.test", "did="+otherDID, "oauth="+env.op.issuer) }}
			},
			status: 403, step: StepBinding,
			check: func(tb testing.TB, err error, _ string) {
				var e *BindingError
				if !errors.As(err, &e) || e.Attribute != "did" || e.DNS != otherDID || e.Token != aliceDID {
					tb.Fatalf("error = %v, want a did *BindingError", err)
				}
			},
			page: "is bound to another identity",
		},
		{
			name: "oauth names another issuer after start",
			opts: func(env *callbackEnv) testOPOptions {
				return testOPOptions{beforeRedirect: func() { env.setTXT("alice.dhp.test", "did="+aliceDID, "oauth=https://other-idp.test") }}
			},
			status: 403, step: StepBinding,
			check: func(tb testing.TB, err error, issuer string) {
				var e *BindingError
				if !errors.As(err, &e) || e.Attribute != "oauth" || e.DNS != "https://other-idp.test" || e.Token != issuer {
					tb.Fatalf("error = %v, want an oauth *BindingError", err)
				}
			},
		},
		{
			name:   "iss of another issuer",
			opts:   func(*callbackEnv) testOPOptions { return testOPOptions{issOverride: "https://evil.test"} },
			status: 400, step: StepAuthorize,
			check: func(tb testing.TB, err error, issuer string) {
				var e *IssuerParameterError
				if !errors.As(err, &e) || e.Got != "https://evil.test" || e.Expected != issuer {
					tb.Fatalf("error = %v, want an iss mismatch", err)
				}
			},
		},
		{
			name:   "iss missing though advertised",
			opts:   func(*callbackEnv) testOPOptions { return testOPOptions{omitIss: true} },
			status: 400, step: StepAuthorize,
			check: func(tb testing.TB, err error, _ string) {
				var e *IssuerParameterError
				if !errors.As(err, &e) || e.Got != "" {
					tb.Fatalf("error = %v, want a missing iss", err)
				}
			},
		},
		{
			name:   "error response",
			opts:   func(*callbackEnv) testOPOptions { return testOPOptions{authError: "access_denied"} },
			status: 400, step: StepAuthorize,
			check: func(tb testing.TB, err error, _ string) {
				var e *OAuthError
				if !errors.As(err, &e) || e.Code != "access_denied" || e.Endpoint != "authorization" || e.Description != "The person declined?the request." {
					tb.Fatalf("error = %v, want access_denied from the authorization endpoint", err)
				}
			},
			page: "The sign-in was cancelled or refused at your provider",
		},
		{
			name: "ID token with another nonce",
			opts: func(*callbackEnv) testOPOptions {
				return testOPOptions{mutateIDToken: func(c map[string]any) { c["nonce"] = "replayed" }}
			},
			status: 502, step: StepIDToken,
			check: claimCheck("nonce"),
		},
		{
			name: "ID token for another audience",
			opts: func(*callbackEnv) testOPOptions {
				return testOPOptions{mutateIDToken: func(c map[string]any) { c["aud"] = "another-client" }}
			},
			status: 502, step: StepIDToken,
			check: func(tb testing.TB, err error, _ string) {
				if !strings.Contains(err.Error(), `expected audience`) {
					tb.Fatalf("error = %v, want an audience error", err)
				}
			},
		},
		{
			name: "ID token with azp of another client",
			opts: func(*callbackEnv) testOPOptions {
				return testOPOptions{mutateIDToken: func(c map[string]any) { c["azp"] = "another-client" }}
			},
			status: 502, step: StepIDToken,
			check: claimCheck("azp"),
		},
		{
			name: "ID token expired",
			opts: func(*callbackEnv) testOPOptions {
				return testOPOptions{mutateIDToken: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }}
			},
			status: 502, step: StepIDToken,
			check: func(tb testing.TB, err error, _ string) {
				if !strings.Contains(err.Error(), "expired") {
					tb.Fatalf("error = %v, want an expiry error", err)
				}
			},
		},
		{
			name: "ID token from another issuer",
			opts: func(*callbackEnv) testOPOptions {
				return testOPOptions{mutateIDToken: func(c map[string]any) { c["iss"] = "https://evil.test" }}
			},
			status: 502, step: StepIDToken,
			check: func(tb testing.TB, err error, _ string) {
				if !strings.Contains(err.Error(), "different provider") {
					tb.Fatalf("error = %v, want an issuer error", err)
				}
			},
		},
		{
			name:   "handle claim differs",
			opts:   func(*callbackEnv) testOPOptions { return testOPOptions{handleClaim: "mallory.dhp.test"} },
			status: 403, step: StepIDToken,
			check: func(tb testing.TB, err error, _ string) {
				var e *HandleClaimError
				if !errors.As(err, &e) || e.Token != "mallory.dhp.test" || e.Login != "alice.dhp.test" {
					tb.Fatalf("error = %v, want a *HandleClaimError for mallory.dhp.test", err)
				}
			},
			page: "To sign in as @mallory.dhp.test, type mallory.dhp.test here. To sign in as @alice.dhp.test, start again and choose @alice.dhp.test at your provider.",
		},
		{
			name:   "sub is not a DID",
			opts:   func(*callbackEnv) testOPOptions { return testOPOptions{subject: "user-1"} },
			status: 502, step: StepIDToken,
			check: claimCheck("sub"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := &callbackEnv{tb: t}
			w, r, op := testOPWorld(t, tc.opts(env), nil)
			env.w, env.op = w, op
			resp, body := r.startLogin(t, newBrowser(t, r.srv), "alice.dhp.test", "")
			err := expectFailure(t, r, resp, body, tc.status, tc.step)
			tc.check(t, err, op.issuer)
			if tc.page != "" && !strings.Contains(body, htmlEscape(tc.page)) {
				t.Errorf("the page does not contain %q:\n%s", tc.page, body)
			}
			if _, ok := r.login.Identity(resp.Request); ok {
				t.Error("a failed login left a session")
			}
		})
	}
}

// callbackEnv gives the options of a test case the world and provider,
// which exist only after the options are made.
type callbackEnv struct {
	tb testing.TB
	w  *world
	op *testOP
}

// setTXT changes a record from a provider's handler goroutine, where a
// test must not call Fatal.
func (env *callbackEnv) setTXT(h string, attrs ...string) {
	if err := env.w.editTXT(h, attrs...); err != nil {
		env.tb.Error(err)
	}
}

func claimCheck(claim string) func(testing.TB, error, string) {
	return func(tb testing.TB, err error, _ string) {
		tb.Helper()
		var e *ClaimError
		if !errors.As(err, &e) || e.Claim != claim {
			tb.Fatalf("error = %v, want a *ClaimError on %q", err, claim)
		}
	}
}

// stopAtCallback returns a browser that does not follow the provider's
// redirect to the callback, so a test can change it.
func stopAtCallback(tb testing.TB, r *rp) *http.Client {
	tb.Helper()
	b := newBrowser(tb, r.srv)
	b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == CallbackPath {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return b
}

// callbackURL starts a login and returns the authorization response URL
// that the provider redirected to.
func callbackURL(tb testing.TB, r *rp, browser *http.Client) *url.URL {
	tb.Helper()
	resp, body := r.startLogin(tb, browser, "alice.dhp.test", "")
	if resp.StatusCode != http.StatusFound {
		tb.Fatalf("expected the provider's redirect, got %s\n%s", resp.Status, body)
	}
	u, err := resp.Location()
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func get(tb testing.TB, client *http.Client, u string) (*http.Response, string) {
	tb.Helper()
	resp, err := client.Get(u)
	if err != nil {
		tb.Fatalf("GET %s: %v", u, err)
	}
	return resp, readBody(tb, resp)
}

// clock is a Config.Now that tests can move forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestCallbackState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tamper  func(t *testing.T, r *rp, browser *http.Client, u *url.URL, c *clock) *http.Client
		problem string
	}{
		{
			name: "state mismatch",
			tamper: func(_ *testing.T, _ *rp, browser *http.Client, u *url.URL, _ *clock) *http.Client {
				q := u.Query()
				q.Set("state", randomToken(32))
				u.RawQuery = q.Encode()
				return browser
			},
			problem: StateMismatch,
		},
		{
			name: "state missing",
			tamper: func(_ *testing.T, _ *rp, browser *http.Client, u *url.URL, _ *clock) *http.Client {
				q := u.Query()
				q.Del("state")
				u.RawQuery = q.Encode()
				return browser
			},
			problem: StateMismatch,
		},
		{
			name: "another browser without the cookie",
			tamper: func(t *testing.T, r *rp, _ *http.Client, _ *url.URL, _ *clock) *http.Client {
				return newBrowser(t, r.srv)
			},
			problem: StateMissing,
		},
		{
			name: "cookie altered",
			tamper: func(t *testing.T, r *rp, browser *http.Client, _ *url.URL, _ *clock) *http.Client {
				base, _ := url.Parse(r.base)
				for _, c := range browser.Jar.Cookies(base) {
					if c.Name == r.login.cookies.pending.name {
						c.Value = c.Value[:len(c.Value)-2] + "AA"
						browser.Jar.SetCookies(base, []*http.Cookie{c})
						return browser
					}
				}
				t.Fatal("no pending-login cookie in the browser")
				return nil
			},
			problem: StateInvalid,
		},
		{
			name: "login took too long",
			tamper: func(_ *testing.T, _ *rp, browser *http.Client, _ *url.URL, c *clock) *http.Client {
				c.advance(PendingLifetime + time.Second)
				return browser
			},
			problem: StateExpired,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := new(clock)
			_, r, op := testOPWorld(t, testOPOptions{}, func(cfg *Config) { cfg.Now = c.now })
			browser := stopAtCallback(t, r)
			u := callbackURL(t, r, browser)
			client := tc.tamper(t, r, browser, u, c)

			resp, body := get(t, client, u.String())
			err := expectFailure(t, r, resp, body, http.StatusBadRequest, StepAuthorize)
			var e *StateError
			if !errors.As(err, &e) || e.Problem != tc.problem {
				t.Fatalf("error = %v, want a %q *StateError", err, tc.problem)
			}
			if n := op.snapshot().tokenRequests; n != 0 {
				t.Errorf("the code was redeemed %d times despite the state failure", n)
			}
		})
	}
}

func TestCallbackReplay(t *testing.T) {
	t.Parallel()
	_, r, _ := testOPWorld(t, testOPOptions{}, nil)
	browser := stopAtCallback(t, r)
	u := callbackURL(t, r, browser)

	resp, body := get(t, browser, u.String())
	decodeIdentity(t, resp, body)

	// The pending login ended with the first use, so the same response
	// is refused before its code reaches the provider again.
	resp, body = get(t, browser, u.String())
	err := expectFailure(t, r, resp, body, http.StatusBadRequest, StepAuthorize)
	var e *StateError
	if !errors.As(err, &e) || e.Problem != StateMissing {
		t.Fatalf("replayed response: %v, want a missing pending login", err)
	}
}

func TestCachedResolverRejected(t *testing.T) {
	t.Parallel()
	op := startTestOP(t, testOPOptions{})
	w := newWorld(t, []string{txt("alice.dhp.test", "did="+aliceDID, "oauth="+op.issuer)}, nil)
	cached, err := resolve.New(resolve.Config{Servers: []string{w.server.Addr}, TrustAnchors: w.root.DS(), Policy: resolve.AcceptInsecure})
	if err != nil {
		t.Fatal(err)
	}
	r := newRP(t, w, tlsClient(op.srv), func(cfg *Config) { cfg.Resolver = cached })
	resp, body := r.startLogin(t, newBrowser(t, r.srv), "alice.dhp.test", "")
	err = expectFailure(t, r, resp, body, http.StatusInternalServerError, StepBinding)
	if c := asConfigError(err); c == nil || c.Field != "Resolver" {
		t.Fatalf("error = %v, want a Resolver *ConfigError", err)
	}
}

func TestLookupFailurePage(t *testing.T) {
	t.Parallel()
	op := startTestOP(t, testOPOptions{})
	w := newWorld(t, []string{txt("down.dhp.test", "did="+aliceDID, "oauth="+op.issuer)}, nil)
	w.server.SetHandler(func(rw dns.ResponseWriter, req *dns.Msg) bool {
		if req.Question[0].Name != "_atproto.down.dhp.test." {
			return false
		}
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		_ = rw.WriteMsg(m)
		return true
	})
	r := newRP(t, w, tlsClient(op.srv), nil)

	resp, body := r.startLogin(t, newBrowser(t, r.srv), "down.dhp.test", "")
	err := expectFailure(t, r, resp, body, http.StatusBadGateway, StepResolve)
	var lookup *resolve.LookupError
	if !errors.As(err, &lookup) || lookup.Kind != resolve.KindServFail {
		t.Fatalf("error = %v, want a SERVFAIL *resolve.LookupError", err)
	}
	if !strings.Contains(body, "The DNS lookup failed") {
		t.Errorf("the page does not explain the lookup failure:\n%s", body)
	}
}

func TestRefusedHandlePage(t *testing.T) {
	t.Parallel()
	op := startTestOP(t, testOPOptions{})
	w := newWorld(t, []string{txt("alice.dhp.test", "did="+aliceDID, "oauth="+op.issuer)}, nil)
	// An authoritative server returns REFUSED for a name outside its
	// zones, such as a misspelled handle.
	w.server.SetHandler(func(rw dns.ResponseWriter, req *dns.Msg) bool {
		if !strings.HasSuffix(req.Question[0].Name, "alcie.dhp.test.") {
			return false
		}
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeRefused)
		_ = rw.WriteMsg(m)
		return true
	})
	r := newRP(t, w, tlsClient(op.srv), nil)

	resp, body := r.startLogin(t, newBrowser(t, r.srv), "alcie.dhp.test", "")
	err := expectFailure(t, r, resp, body, http.StatusBadRequest, StepResolve)
	var lookup *resolve.LookupError
	if !errors.As(err, &lookup) || lookup.Kind != resolve.KindRefused {
		t.Fatalf("error = %v, want a REFUSED *resolve.LookupError", err)
	}
	if !strings.Contains(body, "Check the spelling of your handle") {
		t.Errorf("the page does not tell the person to check the spelling:\n%s", body)
	}
	if strings.Contains(body, "Try again in a moment") {
		t.Errorf("the page tells the person to try again, which cannot help:\n%s", body)
	}
}

func TestUntrustedProviderPage(t *testing.T) {
	t.Parallel()
	op := startTestOP(t, testOPOptions{})
	w := newWorld(t, []string{txt("alice.dhp.test", "did="+aliceDID, "oauth="+op.issuer)}, nil)
	// The relying party trusts only the system roots, which lack the
	// test provider's certificate.
	r := newRP(t, w, &http.Client{Timeout: 10 * time.Second}, nil)

	resp, body := r.startLogin(t, newBrowser(t, r.srv), "alice.dhp.test", "")
	err := expectFailure(t, r, resp, body, http.StatusBadGateway, StepDiscovery)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("error = %v, want an x509.UnknownAuthorityError", err)
	}
	for _, want := range []string{"This site does not trust your provider", "Tell the operator of this site to trust the provider"} {
		if !strings.Contains(body, htmlEscape(want)) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
}

func TestProviderEndpointErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		endpoint string
		step     Step
		code     string
	}{
		{"register", StepRegistration, "invalid_client_metadata"},
		{"par", StepPAR, "invalid_request"},
		{"token", StepToken, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.endpoint, func(t *testing.T) {
			t.Parallel()
			_, r, _ := testOPWorld(t, testOPOptions{endpointError: tc.endpoint}, nil)
			resp, body := r.startLogin(t, newBrowser(t, r.srv), "alice.dhp.test", "")
			err := expectFailure(t, r, resp, body, http.StatusBadGateway, tc.step)
			var e *OAuthError
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("error = %v, want an *OAuthError %q", err, tc.code)
			}
			if !strings.Contains(body, tc.code) {
				t.Errorf("the page does not show the provider's error:\n%s", body)
			}
		})
	}
}
