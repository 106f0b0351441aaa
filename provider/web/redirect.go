package web

import (
	"net/http"
	"net/url"
)

// maxNextLength bounds a return path, in bytes. OpenID authorization
// requests with a request_uri fit well within it.
const maxNextLength = 2048

// localPath returns next when it is an absolute path on this site,
// optionally with a query, that no browser resolves to another host. It
// rejects an empty value, a scheme ("https://evil.example",
// "javascript:...") and a path that starts with "//" or "/\", because
// browsers read both as a host. It also rejects any backslash, white space
// or control character, because browsers drop tabs and line breaks, which
// can turn "/\t/evil" into "//evil". Non-ASCII bytes and a fragment are
// rejected too.
func localPath(next string) (string, bool) {
	if next == "" || len(next) > maxNextLength || next[0] != '/' {
		return "", false
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "", false
	}
	for i := 0; i < len(next); i++ {
		c := next[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			return "", false
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return next, true
}

// seeOther redirects with 303 See Other to location, a local path checked by
// localPath or built by this package. Unlike http.Redirect it keeps the
// path exactly as given.
func seeOther(rw http.ResponseWriter, location string) {
	rw.Header().Set("Location", location)
	rw.WriteHeader(http.StatusSeeOther)
}
