package oidclogin

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckReturnPath(t *testing.T) {
	t.Parallel()
	accepted := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/inbox", "/inbox"},
		{"/a/b?c=d&e=%2F%2Fx", "/a/b?c=d&e=%2F%2Fx"},
		{"/a#section", "/a#section"},
		{"/@alice", "/@alice"},
	}
	for _, tc := range accepted {
		got, err := checkReturnPath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("checkReturnPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}

	rejected := []string{
		"https://evil.test/",
		"http:/evil.test",
		"//evil.test",
		"///evil.test",
		`/\evil.test`,
		`\\evil.test`,
		"javascript:alert(1)",
		"data:text/html,x",
		"inbox",
		"./inbox",
		"/\tevil",
		"/ev il",
		"/\x00",
		"/\r\nLocation: x",
		"/" + strings.Repeat("a", maxReturnPath),
	}
	for _, in := range rejected {
		got, err := checkReturnPath(in)
		var e *ReturnPathError
		if !errors.As(err, &e) {
			t.Errorf("checkReturnPath(%q) = %q, %v; want a *ReturnPathError", in, got, err)
		}
	}
}
