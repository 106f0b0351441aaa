package client

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func validCode() EnrollmentCode {
	return EnrollmentCode{
		DirectoryURL: "https://dhp.test/acme/directory",
		Handle:       "alice.dhp.test",
		KeyID:        "kid_-123",
		Key:          bytes.Repeat([]byte{7}, 32),
	}
}

func TestEnrollmentCodeRoundTrip(t *testing.T) {
	t.Parallel()
	c := validCode()
	s := c.String()
	if !strings.HasPrefix(s, "dnshandle-enroll:v1:") || strings.ContainsAny(s, " \n=") {
		t.Fatalf("code %q is not one unpadded line", s)
	}
	got, err := ParseEnrollmentCode("  " + s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.DirectoryURL != c.DirectoryURL || got.Handle != c.Handle || got.KeyID != c.KeyID || !bytes.Equal(got.Key, c.Key) {
		t.Errorf("parsed %+v, want %+v", got, c)
	}
}

func payloadCode(json string) string {
	return CodePrefix + CodeVersion + ":" + base64.RawURLEncoding.EncodeToString([]byte(json))
}

func TestEnrollmentCodeRejects(t *testing.T) {
	t.Parallel()
	key := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	obj := func(dir, h, kid, k string) string {
		return `{"directory":"` + dir + `","handle":"` + h + `","kid":"` + kid + `","key":"` + k + `"}`
	}
	good := obj("https://dhp.test/acme/directory", "alice.dhp.test", "kid1", key)
	cases := []struct {
		name, code, want string
	}{
		{"wrong prefix", "enroll:v1:" + base64.RawURLEncoding.EncodeToString([]byte(good)), "does not start"},
		{"version 2", CodePrefix + "v2:" + base64.RawURLEncoding.EncodeToString([]byte(good)), "version"},
		{"no version", CodePrefix + "v1", "no version"},
		{"padding", CodePrefix + CodeVersion + ":" + base64.URLEncoding.EncodeToString([]byte(good+" ")), "base64url"},
		{"std base64", CodePrefix + CodeVersion + ":" + strings.ReplaceAll(base64.RawURLEncoding.EncodeToString([]byte(good)), "_", "/") + "+", "base64url"},
		{"not object", payloadCode(`[1]`), "not a JSON object"},
		{"unknown member", payloadCode(`{"directory":"https://dhp.test/d","x":"y"}`), "unknown member"},
		{"repeated member", payloadCode(`{"kid":"a","kid":"b"}`), "repeats"},
		{"missing member", payloadCode(`{"directory":"https://dhp.test/d","handle":"alice.dhp.test","kid":"a"}`), "no member \"key\""},
		{"trailing data", payloadCode(good + `{}`), "after the JSON object"},
		{"number", payloadCode(`{"kid":1}`), "not a string"},
		{"http remote", payloadCode(obj("http://dhp.test/d", "alice.dhp.test", "kid1", key)), "https"},
		{"relative URL", payloadCode(obj("/acme/directory", "alice.dhp.test", "kid1", key)), "absolute"},
		{"handle upper case", payloadCode(obj("https://dhp.test/d", "Alice.dhp.test", "kid1", key)), "normal form"},
		{"reserved TLD", payloadCode(obj("https://dhp.test/d", "alice.local", "kid1", key)), "normal form"},
		{"kid with dot", payloadCode(obj("https://dhp.test/d", "alice.dhp.test", "a.b", key)), "key ID"},
		{"short key", payloadCode(obj("https://dhp.test/d", "alice.dhp.test", "kid1", "AAAA")), "bytes"},
		{"too long", CodePrefix + strings.Repeat("a", MaxCodeLength), "longer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEnrollmentCode(tc.code)
			var cerr *CodeError
			if !errors.As(err, &cerr) {
				t.Fatalf("error %v, want *CodeError", err)
			}
			if !strings.Contains(cerr.Reason, tc.want) {
				t.Errorf("reason %q lacks %q", cerr.Reason, tc.want)
			}
		})
	}

	if _, err := ParseEnrollmentCode(payloadCode(obj("http://127.0.0.1:8080/acme/directory", "alice.dhp.test", "kid1", key))); err != nil {
		t.Errorf("http on loopback rejected: %v", err)
	}
}

// FuzzParseEnrollmentCode checks that every accepted code is valid and
// survives a round trip through String.
func FuzzParseEnrollmentCode(f *testing.F) {
	f.Add(validCode().String())
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseEnrollmentCode(s)
		if err != nil {
			var cerr *CodeError
			if !errors.As(err, &cerr) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if len(c.Key) < MinEABKeySize || !validKeyID(c.KeyID) || checkDirectoryURL(c.DirectoryURL) != nil {
			t.Fatalf("accepted an invalid code %+v", c)
		}
		again, err := ParseEnrollmentCode(c.String())
		if err != nil {
			t.Fatalf("round trip of %+v: %v", c, err)
		}
		if again.DirectoryURL != c.DirectoryURL || again.Handle != c.Handle || again.KeyID != c.KeyID || !bytes.Equal(again.Key, c.Key) {
			t.Fatalf("round trip changed %+v to %+v", c, again)
		}
	})
}
