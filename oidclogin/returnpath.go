package oidclogin

import (
	"net/url"
	"strings"
)

// maxReturnPath bounds the length of a return path in bytes.
const maxReturnPath = 2048

// checkReturnPath accepts a local path of this site, with an optional
// query, and returns it; "" becomes "/". Everything a browser could read
// as another origin is rejected: a scheme, "//host", a backslash (which
// browsers treat as a slash) and control characters. Errors are
// *ReturnPathError.
func checkReturnPath(s string) (string, error) {
	if s == "" {
		return "/", nil
	}
	if len(s) > maxReturnPath {
		return "", &ReturnPathError{Path: s[:64] + "...", Reason: "longer than 2048 bytes"}
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", &ReturnPathError{Path: s, Reason: "contains white space or control characters"}
	}
	if strings.Contains(s, `\`) {
		return "", &ReturnPathError{Path: s, Reason: "contains a backslash"}
	}
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return "", &ReturnPathError{Path: s, Reason: "is not a path that starts with a single \"/\""}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil {
		return "", &ReturnPathError{Path: s, Reason: "is not a local path"}
	}
	return s, nil
}
