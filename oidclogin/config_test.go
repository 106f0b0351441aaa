package oidclogin

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		BaseURL:    "https://rp.test/app/",
		Resolver:   staticResolver{},
		SessionKey: bytes.Repeat([]byte{7}, SessionKeySize),
	}
}

func TestNewRejectsConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"no base URL", func(c *Config) { c.BaseURL = "" }, "BaseURL"},
		{"base URL scheme", func(c *Config) { c.BaseURL = "ftp://rp.test" }, "BaseURL"},
		{"base URL without host", func(c *Config) { c.BaseURL = "https:///x" }, "BaseURL"},
		{"base URL with query", func(c *Config) { c.BaseURL = "https://rp.test/?a=b" }, "BaseURL"},
		{"no resolver", func(c *Config) { c.Resolver = nil }, "Resolver"},
		{"short key", func(c *Config) { c.SessionKey = make([]byte, 16) }, "SessionKey"},
		{"no key", func(c *Config) { c.SessionKey = nil }, "SessionKey"},
		{"negative lifetime", func(c *Config) { c.SessionLifetime = -time.Second }, "SessionLifetime"},
		{"unknown DNSSEC policy", func(c *Config) { c.MinDNSSEC = 7 }, "MinDNSSEC"},
		{"static client at http issuer", func(c *Config) { c.StaticClients = map[string]Client{"http://idp.test": {ID: "x"}} }, "StaticClients"},
		{"static client without ID", func(c *Config) { c.StaticClients = map[string]Client{"idp.test": {Secret: "s"}} }, "StaticClients"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := validConfig()
			tc.mod(&cfg)
			_, err := New(cfg)
			if c := asConfigError(err); c == nil || c.Field != tc.field {
				t.Fatalf("New = %v, want a *ConfigError on %s", err, tc.field)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	cfg := validConfig()
	cfg.StaticClients = map[string]Client{"IDP.test/": {ID: "rp"}}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.callbackURL != "https://rp.test/app"+CallbackPath {
		t.Errorf("callback URL = %q", l.callbackURL)
	}
	if l.lifetime != DefaultSessionLifetime || l.clientName != "rp.test" || l.httpClient == nil || l.minDNSSEC != RequireSecure {
		t.Errorf("defaults not applied: lifetime %v, client name %q, HTTP client %v, DNSSEC %v", l.lifetime, l.clientName, l.httpClient, l.minDNSSEC)
	}
	if _, ok := l.staticClients["https://idp.test"]; !ok {
		t.Errorf("static client not keyed by the normalized issuer: %v", l.staticClients)
	}
	if got := l.LoginURL("/inbox?x=1"); got != "/app"+LoginPath+"?return=%2Finbox%3Fx%3D1" {
		t.Errorf("LoginURL = %q", got)
	}
	if got := l.LoginURL("https://evil.test"); got != "/app"+LoginPath {
		t.Errorf("LoginURL with a foreign return = %q", got)
	}
}

func newTestLogin(tb testing.TB) *Login {
	tb.Helper()
	cfg := validConfig()
	cfg.BaseURL = "https://rp.test"
	l, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	l := newTestLogin(t)
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://rp.test"+LoginPath+"?return=/inbox&handle=alice.dhp.test", nil))
	body := rec.Body.String()

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d\n%s", rec.Code, body)
	}
	for _, want := range []string{
		`<html lang="en">`,
		`<label for="handle">Your handle</label>`,
		`id="handle" name="handle" value="alice.dhp.test"`,
		`autocomplete="username"`,
		`aria-describedby="handle-hint"`,
		`<form method="post" action="` + LoginPath + `">`,
		`<input type="hidden" name="return" value="/inbox">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the login page lacks %s", want)
		}
	}
	if strings.Contains(body, "signed in as") {
		t.Error("the page claims a session that does not exist")
	}
	headers := map[string]string{
		"Cache-Control":   "no-store",
		"Referrer-Policy": "no-referrer",
		"Content-Type":    "text/html; charset=utf-8",
	}
	for name, want := range headers {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q, want frame-ancestors 'none'", csp)
	}
}

func TestLoginPageSignedIn(t *testing.T) {
	t.Parallel()
	l := newTestLogin(t)
	req := httptest.NewRequest(http.MethodGet, "https://rp.test"+LoginPath, nil)
	req.AddCookie(&http.Cookie{Name: l.cookies.session.name, Value: l.cookies.encodeSession(testIdentity, "https://idp.test", time.Now().Add(time.Hour), providerSession{})})
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, req)
	body := rec.Body.String()
	if !strings.Contains(body, "You are signed in as <strong>@alice.dhp.test</strong>") || !strings.Contains(body, `action="`+LogoutPath+`"`) {
		t.Fatalf("the page does not offer sign-out for the session:\n%s", body)
	}
}

func TestHandlerRequests(t *testing.T) {
	t.Parallel()
	l := newTestLogin(t)
	tests := []struct {
		name     string
		method   string
		path     string
		form     url.Values
		header   map[string]string
		status   int
		contains string
		absent   string
	}{
		{name: "foreign return path on the form", method: http.MethodGet, path: LoginPath + "?return=//evil.test", status: 400, contains: "is not accepted"},
		{name: "cross-site POST", method: http.MethodPost, path: LoginPath, form: url.Values{"handle": {"alice.dhp.test"}}, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "cross-origin logout", method: http.MethodPost, path: LogoutPath, header: map[string]string{"Origin": "https://evil.test"}, status: 403},
		{name: "PUT", method: http.MethodPut, path: LoginPath, status: 405},
		{name: "callback POST", method: http.MethodPost, path: CallbackPath, status: 405},
		{name: "unknown path", method: http.MethodGet, path: "/.dnshandle/other", status: 404},
		{name: "markup in the handle is escaped", method: http.MethodPost, path: LoginPath, form: url.Values{"handle": {`<script>alert(1)</script>`}}, status: 400,
			contains: `value="&lt;script&gt;alert(1)&lt;/script&gt;"`, absent: "<script>"},
		{name: "callback without parameters", method: http.MethodGet, path: CallbackPath, status: 400, contains: "is missing"},
		{name: "callback with repeated state", method: http.MethodGet, path: CallbackPath + "?code=a&state=b&state=c", status: 400, contains: "appears more than once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body *strings.Reader
			if tc.form != nil {
				body = strings.NewReader(tc.form.Encode())
			} else {
				body = strings.NewReader("")
			}
			req := httptest.NewRequest(tc.method, "https://rp.test"+tc.path, body)
			if tc.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			l.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d\n%s", rec.Code, tc.status, rec.Body)
			}
			if tc.contains != "" && !strings.Contains(rec.Body.String(), tc.contains) {
				t.Errorf("body lacks %q:\n%s", tc.contains, rec.Body)
			}
			if tc.absent != "" && strings.Contains(rec.Body.String(), tc.absent) {
				t.Errorf("body contains %q:\n%s", tc.absent, rec.Body)
			}
		})
	}
}

func TestLogoutRedirect(t *testing.T) {
	t.Parallel()
	l := newTestLogin(t)
	tests := []struct{ ret, want string }{
		{"/bye", "/bye"},
		{"https://evil.test/", "/"},
		{"", "/"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodPost, "https://rp.test"+LogoutPath, strings.NewReader(url.Values{"return": {tc.ret}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		l.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tc.want {
			t.Errorf("logout with return %q: %d to %q, want 303 to %q", tc.ret, rec.Code, rec.Header().Get("Location"), tc.want)
		}
		if c := rec.Result().Cookies(); len(c) != 1 || c[0].Name != l.cookies.session.name || c[0].MaxAge != -1 {
			t.Errorf("logout cookies = %v, want the session cleared", c)
		}
	}
}
