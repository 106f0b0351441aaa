package oidclogin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

func testCodec(tb testing.TB, fill byte, secure bool) cookieCodec {
	tb.Helper()
	c, err := newCookieCodec(bytes.Repeat([]byte{fill}, SessionKeySize), secure)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var testIdentity = &verify.Identity{Handle: "alice.dhp.test", DID: aliceDID, DNSSEC: resolve.Secure, Method: MethodOIDC}

func TestSessionCookieRoundTrip(t *testing.T) {
	t.Parallel()
	c := testCodec(t, 1, true)
	now := time.Unix(1_800_000_000, 0)
	value := c.encodeSession(testIdentity, "https://idp.test", now.Add(time.Hour), providerSession{})

	got, err := c.decodeSession(value, now)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *testIdentity {
		t.Fatalf("decoded %+v, want %+v", got, testIdentity)
	}
	if strings.Contains(value, "alice") || strings.Contains(value, "did:plc") {
		t.Errorf("the sealed value shows its content: %s", value)
	}
	if again := c.encodeSession(testIdentity, "https://idp.test", now.Add(time.Hour), providerSession{}); again == value {
		t.Error("two sealings of one session are equal; the nonce is not random")
	}
}

func TestSessionCookieRejected(t *testing.T) {
	t.Parallel()
	c := testCodec(t, 1, true)
	now := time.Unix(1_800_000_000, 0)
	good := c.encodeSession(testIdentity, "https://idp.test", now.Add(time.Hour), providerSession{})
	pending := c.encodePending(&pendingData{Handle: "alice.dhp.test", Issuer: "https://idp.test", ClientID: "c", State: "s", Nonce: "n", Verifier: "v", Return: "/", Expires: now.Add(time.Hour).Unix()})

	tests := []struct {
		name  string
		codec cookieCodec
		value string
		now   time.Time
	}{
		{"expired", c, good, now.Add(time.Hour)},
		{"another key", testCodec(t, 2, true), good, now},
		{"pending value as session", c, pending, now},
		{"flipped byte", c, flipMiddle(good), now},
		{"truncated", c, good[:len(good)-4], now},
		{"not base64", c, "!!!" + good, now},
		{"empty", c, "", now},
		{"oversized", c, strings.Repeat("A", maxCookieValue+1), now},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if id, err := tc.codec.decodeSession(tc.value, tc.now); err == nil {
				t.Fatalf("decoded %+v, want an error", id)
			}
		})
	}
}

// flipMiddle changes one base64url character in the middle of s. The last
// character of unpadded base64 may carry only padding bits, which the
// decoder ignores, so changing it does not always change the bytes.
func flipMiddle(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestSessionContentChecked(t *testing.T) {
	t.Parallel()
	c := testCodec(t, 1, false)
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Hour).Unix()
	tests := []struct {
		name string
		data sessionData
	}{
		{"handle not normalized", sessionData{Handle: "Alice.dhp.test", DID: aliceDID, DNSSEC: int(resolve.Secure), Expires: exp}},
		{"handle invalid", sessionData{Handle: "alice", DID: aliceDID, DNSSEC: int(resolve.Secure), Expires: exp}},
		{"DID invalid", sessionData{Handle: "alice.dhp.test", DID: "user-1", DNSSEC: int(resolve.Secure), Expires: exp}},
		{"status bogus", sessionData{Handle: "alice.dhp.test", DID: aliceDID, DNSSEC: int(resolve.Bogus), Expires: exp}},
		{"status unknown", sessionData{Handle: "alice.dhp.test", DID: aliceDID, DNSSEC: 99, Expires: exp}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			value := c.session.seal(mustJSON(t, tc.data))
			if id, err := c.decodeSession(value, now); !errors.Is(err, errSessionContent) {
				t.Fatalf("decoded %+v, %v; want errSessionContent", id, err)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	secure := testCodec(t, 1, true)
	cookie := secure.cookie(secure.session, "v", now.Add(time.Hour), now)
	if cookie.Name != "__Host-dnshandle_login" || !cookie.Secure || !cookie.HttpOnly || cookie.Path != "/" || cookie.Domain != "" || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge != 3600 {
		t.Errorf("https session cookie = %+v", cookie)
	}
	plain := testCodec(t, 1, false)
	if cookie := plain.cookie(plain.pending, "v", now.Add(time.Minute), now); cookie.Name != "dnshandle_login_pending" || cookie.Secure {
		t.Errorf("http pending cookie = %+v", cookie)
	}
	if cleared := secure.clear(secure.pending); cleared.MaxAge != -1 || cleared.Name != "__Host-dnshandle_login_pending" {
		t.Errorf("clearing cookie = %+v", cleared)
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	l, err := New(Config{BaseURL: "https://rp.test", Resolver: staticResolver{}, SessionKey: bytes.Repeat([]byte{3}, SessionKeySize)})
	if err != nil {
		t.Fatal(err)
	}
	value := l.cookies.encodeSession(testIdentity, "https://idp.test", time.Now().Add(time.Hour), providerSession{})
	tlsIdentity := &verify.Identity{Handle: "bob.dhp.test", DID: otherDID, Device: "ab", DNSSEC: resolve.Secure, Method: verify.MethodTLS}

	tests := []struct {
		name    string
		cookie  string
		context *verify.Identity
		want    *verify.Identity
	}{
		{"session", value, nil, testIdentity},
		{"no session", "", nil, nil},
		{"broken session", flipMiddle(value), nil, nil},
		{"TLS identity kept", value, tlsIdentity, tlsIdentity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "https://rp.test/", nil)
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: l.cookies.session.name, Value: tc.cookie})
			}
			if tc.context != nil {
				req = req.WithContext(verify.NewContext(req.Context(), tc.context))
			}
			var got *verify.Identity
			l.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got, _ = verify.FromContext(r.Context())
			})).ServeHTTP(httptest.NewRecorder(), req)
			switch {
			case tc.want == nil && got != nil:
				t.Fatalf("identity %+v, want none", got)
			case tc.want != nil && (got == nil || *got != *tc.want):
				t.Fatalf("identity %+v, want %+v", got, tc.want)
			}
		})
	}
}

// staticResolver is a verify.HandleResolver for tests that never resolve.
type staticResolver struct{}

func (staticResolver) Resolve(context.Context, handle.Handle) (*resolve.Result, error) {
	return nil, errors.New("this test does not resolve handles")
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
