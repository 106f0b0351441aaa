package oidclogin

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/resolve"
)

// fuzzNow is the clock of the fuzz targets: 2030-01-01T00:00:00Z.
var fuzzNow = time.Unix(1_893_456_000, 0)

// fuzzCodec seals with a fixed key, so that corpus files stay valid.
func fuzzCodec(tb testing.TB) cookieCodec {
	tb.Helper()
	c, err := newCookieCodec(bytes.Repeat([]byte{0x5a}, SessionKeySize), true)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// FuzzDecodeCookie feeds cookie values to the three decoders. Only values
// sealed with the key for that cookie may open.
func FuzzDecodeCookie(f *testing.F) {
	c := fuzzCodec(f)
	f.Add(c.encodeSession(testIdentity, "https://idp.test", fuzzNow.Add(time.Hour), providerSession{}))
	f.Add(c.encodePending(&pendingData{Handle: "alice.dhp.test", Issuer: "https://idp.test", ClientID: "c", State: "s", Nonce: "n", Verifier: "v", Return: "/", Expires: fuzzNow.Add(time.Hour).Unix()}))
	f.Add(c.encodeLogout(&logoutData{State: "s", Return: "/bye", Expires: fuzzNow.Add(time.Hour).Unix()}))
	f.Fuzz(func(t *testing.T, value string) {
		id, sessionErr := c.decodeSession(value, fuzzNow)
		pending, pendingErr := c.decodePending(value, fuzzNow)
		logout, logoutErr := c.decodeLogout(value, fuzzNow)
		opened := 0
		for _, err := range []error{sessionErr, pendingErr, logoutErr} {
			if err == nil {
				opened++
			}
		}
		if opened > 1 {
			t.Fatal("one value opened as more than one kind of cookie")
		}
		if logoutErr != nil {
			var e *LogoutStateError
			if !errors.As(logoutErr, &e) {
				t.Fatalf("logout decode error %v is not a *LogoutStateError", logoutErr)
			}
		} else if _, err := checkReturnPath(logout.Return); err != nil || logout.State == "" {
			t.Fatalf("accepted pending logout %+v", logout)
		}
		if sessionErr == nil {
			checkFuzzIdentity(t, id.Handle, id.DID, id.DNSSEC)
		}
		if pendingErr != nil {
			var e *StateError
			if !errors.As(pendingErr, &e) {
				t.Fatalf("pending decode error %v is not a *StateError", pendingErr)
			}
		} else if pending.State == "" {
			t.Fatal("a pending login without state opened")
		}
	})
}

// FuzzParseSession checks the content of opened session cookies, which
// the key protects, so that a decoder change cannot accept a malformed
// identity.
func FuzzParseSession(f *testing.F) {
	f.Add([]byte(`{"h":"alice.dhp.test","d":"did:plc:aliceaaaaaaaaaaaaaaaaaaa","s":1,"i":"https://idp.test","e":1893459600}`))
	f.Fuzz(func(t *testing.T, plaintext []byte) {
		id, err := parseSession(plaintext, fuzzNow)
		if err != nil {
			if !errors.Is(err, errSessionContent) {
				t.Fatalf("error %v is not errSessionContent", err)
			}
			return
		}
		checkFuzzIdentity(t, id.Handle, id.DID, id.DNSSEC)
		if id.Method != MethodOIDC || id.Device != "" {
			t.Fatalf("identity %+v is not an OIDC identity", id)
		}
	})
}

// FuzzParsePending checks the content of opened pending-login cookies.
func FuzzParsePending(f *testing.F) {
	f.Add([]byte(`{"h":"alice.dhp.test","i":"https://idp.test","c":"client","st":"state","n":"nonce","v":"verifier","s":1,"r":"/inbox","e":1893456600}`))
	f.Fuzz(func(t *testing.T, plaintext []byte) {
		p, err := parsePending(plaintext, fuzzNow)
		if err != nil {
			var e *StateError
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *StateError", err)
			}
			return
		}
		if _, err := checkReturnPath(p.Return); err != nil {
			t.Fatalf("accepted return path %q: %v", p.Return, err)
		}
		if p.State == "" || p.Nonce == "" || p.Verifier == "" || p.Issuer == "" || p.ClientID == "" {
			t.Fatalf("accepted an incomplete pending login %+v", p)
		}
		if !fuzzNow.Before(time.Unix(p.Expires, 0)) {
			t.Fatalf("accepted an expired pending login %+v", p)
		}
		if h, err := handle.Parse(p.Handle); err != nil || string(h) != p.Handle {
			t.Fatalf("accepted handle %q: %v", p.Handle, err)
		}
	})
}

func checkFuzzIdentity(t *testing.T, h handle.Handle, did string, status resolve.Status) {
	t.Helper()
	if parsed, err := handle.Parse(string(h)); err != nil || parsed != h {
		t.Fatalf("accepted handle %q: %v", h, err)
	}
	if _, err := handle.ParseDID(did); err != nil {
		t.Fatalf("accepted DID %q: %v", did, err)
	}
	if status != resolve.Secure && status != resolve.Insecure && status != resolve.Indeterminate {
		t.Fatalf("accepted DNSSEC status %v", status)
	}
}

// FuzzParseCallback parses the query of authorization responses.
func FuzzParseCallback(f *testing.F) {
	f.Add("code=abc&state=xyz&iss=https%3A%2F%2Fidp.test")
	f.Add("error=access_denied&error_description=no&state=xyz")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		p, err := parseCallback(q)
		if err != nil {
			var e *ResponseError
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *ResponseError", err)
			}
			return
		}
		if p.Code == "" && p.Error == "" {
			t.Fatal("accepted a response with neither code nor error")
		}
		for name, value := range map[string]string{"error": p.Error, "error_description": p.ErrorDescription, "error_uri": p.ErrorURI} {
			if strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
				t.Fatalf("%s %q holds characters outside printable ASCII", name, value)
			}
		}
		for _, name := range []string{"code", "state", "iss", "error"} {
			if len(q[name]) > 1 {
				t.Fatalf("accepted a repeated %s", name)
			}
		}
	})
}

// TestFuzzSeedsOpen keeps the sealed seeds of FuzzDecodeCookie valid, so
// that the target starts from values that reach the content checks.
func TestFuzzSeedsOpen(t *testing.T) {
	t.Parallel()
	c := fuzzCodec(t)
	for _, name := range []string{"session_valid", "pending_valid", "logout_valid"} {
		data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecodeCookie", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		value, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, sessionErr := c.decodeSession(value, fuzzNow)
		_, pendingErr := c.decodePending(value, fuzzNow)
		_, logoutErr := c.decodeLogout(value, fuzzNow)
		if (name == "session_valid") != (sessionErr == nil) || (name == "pending_valid") != (pendingErr == nil) || (name == "logout_valid") != (logoutErr == nil) {
			t.Errorf("seed %s: session %v, pending %v, logout %v", name, sessionErr, pendingErr, logoutErr)
		}
	}
}
