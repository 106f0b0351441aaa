package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dnshandle/dnshandle/handle"
)

// fuzzKey is the session key of the fuzz targets. The seed corpus of
// FuzzSessionCookie holds cookies sealed under it.
var fuzzKey = bytes.Repeat([]byte{0x42}, SessionKeySize)

// fuzzWeb returns a Web with only what sealing and the session checks
// need: the key, a clock and the lifetimes.
func fuzzWeb(t testing.TB) *Web {
	aead, err := sessionAEAD(fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z
	return &Web{aead: aead, cfg: Config{Now: func() time.Time { return now }, SessionLifetime: DefaultSessionLifetime, IdleTimeout: DefaultIdleTimeout}}
}

// FuzzSessionCookie opens arbitrary session cookie values. A value that
// opens must describe a session that seals and opens again to the same
// content, and the time checks must not panic on it.
func FuzzSessionCookie(f *testing.F) {
	w := fuzzWeb(f)
	f.Fuzz(func(t *testing.T, value string) {
		s := &session{}
		if err := w.open(SessionCookie, value, s); err != nil {
			var tokenErr *TokenError
			if !errors.As(err, &tokenErr) {
				t.Fatalf("open returned a %T, want *TokenError: %v", err, err)
			}
			return
		}
		_ = s.checkTimes(w.now(), w.cfg.SessionLifetime, w.cfg.IdleTimeout)

		// A session cookie never opens as a pre-session cookie.
		if err := w.open(preSessionCookie, value, &preSession{}); err == nil {
			t.Fatalf("the session cookie %q opens as a pre-session cookie", value)
		}
		again, err := w.seal(SessionCookie, s)
		if err != nil {
			t.Fatal(err)
		}
		back := &session{}
		if err := w.open(SessionCookie, again, back); err != nil || *back != *s {
			t.Fatalf("sealed session %+v opens as %+v, %v", s, back, err)
		}
	})
}

// FuzzSessionContent decodes arbitrary plaintext as the JSON content of a
// session cookie, the step after authentication, and checks its times.
func FuzzSessionContent(f *testing.F) {
	w := fuzzWeb(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &session{}
		if err := decodeStrict(data, s); err != nil {
			return
		}
		err := s.checkTimes(w.now(), w.cfg.SessionLifetime, w.cfg.IdleTimeout)
		if err == nil && (len(s.ID) != sessionIDLength || s.Account <= 0 || time.Unix(s.Active, 0).After(w.now().Add(clockSkew))) {
			t.Fatalf("checkTimes accepted %+v", s)
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("a decoded session does not encode again: %v", err)
		}
	})
}

// FuzzLocalPath checks that every accepted return path stays on the
// provider's host when a browser resolves it, and survives SignInURL.
func FuzzLocalPath(f *testing.F) {
	base, err := url.Parse("https://dhp.test/oauth/authorize?x=1")
	if err != nil {
		f.Fatal(err)
	}
	w := &Web{}
	f.Fuzz(func(t *testing.T, next string) {
		p, ok := localPath(next)
		if !ok {
			if p != "" {
				t.Fatalf("localPath(%q) rejected the value but returned %q", next, p)
			}
			return
		}
		if p != next || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\t\r\n#") {
			t.Fatalf("localPath accepted %q", next)
		}
		u, err := base.Parse(p)
		if err != nil || u.Scheme != "https" || u.Host != "dhp.test" || u.User != nil {
			t.Fatalf("accepted %q resolves to %v (%v), off the provider's host", next, u, err)
		}

		signIn, err := url.Parse(w.SignInURL(p))
		if err != nil || signIn.Path != "/signin" {
			t.Fatalf("SignInURL(%q) = %q", p, w.SignInURL(p))
		}
		if got := signIn.Query().Get("next"); p != "/" && got != p {
			t.Fatalf("SignInURL(%q) carries next=%q", p, got)
		}
	})
}

var accountNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// FuzzForms parses arbitrary form bodies with every form parser and checks
// that a form without errors holds only valid values.
func FuzzForms(f *testing.F) {
	zones := []string{"dhp.test"}
	f.Fuzz(func(t *testing.T, body string) {
		v, _ := url.ParseQuery(body)

		if up, errs := parseSignUp(v); len(errs) == 0 {
			if !accountNamePattern.MatchString(up.Name) || utf8.RuneCountInString(up.Password) < MinPasswordLength || !utf8.ValidString(up.Password) {
				t.Fatalf("sign-up form accepted name %q, password %q", up.Name, up.Password)
			}
		}

		in, errs := parseSignIn(v)
		if in.Next != "" {
			if _, ok := localPath(in.Next); !ok {
				t.Fatalf("sign-in form kept next %q", in.Next)
			}
		}
		if len(errs) == 0 && (in.Name == "" || in.Password == "") {
			t.Fatalf("sign-in form accepted an empty field: %+v", in)
		}

		if h, errs := parseIdentity(v, zones); len(errs) == 0 {
			checkIdentityForm(t, v, h, zones)
		}

		if b, errs := parseBrowser(v); len(errs) == 0 {
			if labelProblem(b.Label) != "" || utf8.RuneCountInString(b.Password) < MinPKCS12PasswordLength {
				t.Fatalf("browser form accepted %+v", b)
			}
		}

		if r, errs := parseRevoke(v); len(errs) == 0 && !validSerial(r.Serial) {
			t.Fatalf("revoke form accepted serial %q", r.Serial)
		}
	})
}

// checkIdentityForm checks a handle that the identity form accepted.
func checkIdentityForm(t *testing.T, v url.Values, h handle.Handle, zones []string) {
	t.Helper()
	if parsed, err := handle.Parse(h.String()); err != nil || parsed != h {
		t.Fatalf("identity form accepted %q, which is not a canonical handle: %v", h, err)
	}
	zone := zoneOf(h, zones)
	switch v.Get("kind") {
	case kindHosted:
		if zone == "" || strings.Count(strings.TrimSuffix(h.String(), "."+zone), ".") != 0 {
			t.Fatalf("hosted handle %q is not one label under a provider zone", h)
		}
	case kindOwn:
		if zone != "" {
			t.Fatalf("own-domain handle %q lies in the provider zone %s", h, zone)
		}
	default:
		t.Fatalf("identity form accepted kind %q", v.Get("kind"))
	}
}
