package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestTokenSealOpen(t *testing.T) {
	t.Parallel()
	w := fuzzWeb(t)
	now := w.now().Unix()
	s := &session{ID: randomToken(16), Account: 3, PasswordTag: passwordTag("h"), Method: MethodPassword, Issued: now, Active: now, CSRF: randomToken(32)}
	value, err := w.seal(SessionCookie, s)
	if err != nil {
		t.Fatal(err)
	}
	back := &session{}
	if err := w.open(SessionCookie, value, back); err != nil || *back != *s {
		t.Fatalf("open of a sealed session = %+v, %v; want %+v", back, err, s)
	}

	other, err := sessionAEAD(bytes.Repeat([]byte{7}, SessionKeySize))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(value)
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 1

	cases := []struct {
		name, cookie, value string
		w                   *Web
	}{
		{"other cookie name", preSessionCookie, value, w},
		{"other key", SessionCookie, value, &Web{aead: other}},
		{"one bit changed", SessionCookie, base64.RawURLEncoding.EncodeToString(flipped), w},
		{"truncated", SessionCookie, value[:len(value)-4], w},
		{"padded base64", SessionCookie, value + "=", w},
		{"too long", SessionCookie, string(bytes.Repeat([]byte{'A'}, maxTokenLength+1)), w},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.w.open(c.cookie, c.value, &session{})
			var tokenErr *TokenError
			if !errors.As(err, &tokenErr) {
				t.Errorf("open = %v, want a *TokenError", err)
			}
		})
	}
}

func TestSessionCheckTimes(t *testing.T) {
	t.Parallel()
	now := time.Unix(1767225600, 0)
	good := session{ID: randomToken(16), Account: 1, Method: MethodCertificate, Issued: now.Add(-time.Hour).Unix(), Active: now.Add(-time.Minute).Unix(), CSRF: randomToken(32)}
	cases := []struct {
		name   string
		change func(*session)
		ok     bool
	}{
		{"valid", func(*session) {}, true},
		{"idle too long", func(s *session) { s.Active = now.Add(-30 * time.Minute).Unix() }, false},
		{"lifetime over", func(s *session) { s.Issued = now.Add(-12 * time.Hour).Unix() }, false},
		{"active before issued", func(s *session) { s.Active = s.Issued - 1 }, false},
		{"from the future", func(s *session) { s.Active = now.Add(2 * time.Minute).Unix() }, false},
		{"small clock skew", func(s *session) { s.Active = now.Add(30 * time.Second).Unix() }, true},
		{"no account", func(s *session) { s.Account = 0 }, false},
		{"short ID", func(s *session) { s.ID = "abc" }, false},
		{"short CSRF token", func(s *session) { s.CSRF = "abc" }, false},
		{"unknown method", func(s *session) { s.Method = "magic" }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := good
			c.change(&s)
			err := s.checkTimes(now, 12*time.Hour, 30*time.Minute)
			if (err == nil) != c.ok {
				t.Errorf("checkTimes = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	cases := []struct{ remote, want string }{
		{"192.0.2.7:4711", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
	}
	for _, c := range cases {
		r := &http.Request{RemoteAddr: c.remote}
		if got := clientKey(r); got != c.want {
			t.Errorf("clientKey(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		next string
		ok   bool
	}{
		{"/", true},
		{"/identities/new", true},
		{"/oauth/authorize?client_id=a&request_uri=urn%3Aietf%3Aparams", true},
		{"/%2F%2Fevil.example", true},
		{"/.//evil.example", true},
		{"", false},
		{"//evil.example", false},
		{"/\\evil.example", false},
		{"\\\\evil.example", false},
		{"/a\\b", false},
		{"https://evil.example/", false},
		{"https:evil.example", false},
		{"javascript:alert(1)", false},
		{"evil.example", false},
		{"/\t/evil.example", false},
		{"/\r\n/evil.example", false},
		{"/ /evil.example", false},
		{"/#frag", false},
		{"/\u00e9", false},
		{"/" + string(bytes.Repeat([]byte{'a'}, maxNextLength)), false},
	}
	for _, c := range cases {
		if _, ok := localPath(c.next); ok != c.ok {
			t.Errorf("localPath(%q) ok = %v, want %v", c.next, ok, c.ok)
		}
	}
}

func TestAccountNameRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"a", true},
		{"alice.smith-2_x", true},
		{"", false},
		{".alice", false},
		{"-alice", false},
		{"alice smith", false},
		{"al@ce", false},
		{"Alice", false},
		{"\u00e4lice", false},
		{string(bytes.Repeat([]byte{'a'}, 64)), true},
		{string(bytes.Repeat([]byte{'a'}, 65)), false},
	}
	for _, c := range cases {
		if got := accountNameProblem(c.name); (got == "") != c.ok {
			t.Errorf("accountNameProblem(%q) = %q, want ok=%v", c.name, got, c.ok)
		}
	}
}
