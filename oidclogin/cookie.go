package oidclogin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// SessionKeySize is the length of Config.SessionKey in bytes.
const SessionKeySize = 32

// maxCookieValue bounds the cookie values that are decoded, below the
// 4096 bytes per cookie that browsers store at least (RFC 6265,
// section 6.1).
const maxCookieValue = 4000

// cookieVersion is the first byte of every sealed value, so that a later
// format can be distinguished.
const cookieVersion = 1

// Cookie names without the "__Host-" prefix, which is added when the site
// uses https. The names are also the purposes of the derived keys and the
// additional data of the AEAD, so a value sealed for one cookie never opens
// as the other.
const (
	sessionCookieName = "dnshandle_login"
	pendingCookieName = "dnshandle_login_pending"
	logoutCookieName  = "dnshandle_logout_pending"
)

// errCookie is the cause of every cookie that does not open. It has one
// meaning, so one sentinel serves all decode failures, and the client gets
// no detail about them.
var errCookie = errors.New("cookie is not a value sealed with the session key")

// sealer encrypts and authenticates the values of one cookie.
type sealer struct {
	name string
	aead cipher.AEAD
}

// cookieCodec holds the sealers of the session, pending-login and
// pending-logout cookies.
type cookieCodec struct {
	secure  bool
	session sealer
	pending sealer
	logout  sealer
}

// newCookieCodec derives one AES-256-GCM key per cookie from key with
// HKDF-SHA256 (RFC 5869).
func newCookieCodec(key []byte, secure bool) (cookieCodec, error) {
	if len(key) != SessionKeySize {
		return cookieCodec{}, &ConfigError{Field: "SessionKey", Reason: "must be " + strconv.Itoa(SessionKeySize) + " random bytes, got " + strconv.Itoa(len(key))}
	}
	prefix := ""
	if secure {
		// RFC 6265bis: a "__Host-" cookie must be Secure, have Path=/
		// and no Domain, so no other host or path can set it.
		prefix = "__Host-"
	}
	c := cookieCodec{secure: secure}
	for _, s := range []struct {
		dst     *sealer
		purpose string
	}{{&c.session, sessionCookieName}, {&c.pending, pendingCookieName}, {&c.logout, logoutCookieName}} {
		sub, err := hkdf.Key(sha256.New, key, nil, "dnshandle oidclogin "+s.purpose, 32)
		if err != nil {
			return cookieCodec{}, &ConfigError{Field: "SessionKey", Reason: err.Error()}
		}
		block, err := aes.NewCipher(sub)
		if err != nil {
			return cookieCodec{}, &ConfigError{Field: "SessionKey", Reason: err.Error()}
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return cookieCodec{}, &ConfigError{Field: "SessionKey", Reason: err.Error()}
		}
		*s.dst = sealer{name: prefix + s.purpose, aead: aead}
	}
	return c, nil
}

// seal returns base64url(version || nonce || ciphertext) of plaintext.
func (s sealer) seal(plaintext []byte) string {
	nonceSize := s.aead.NonceSize()
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+s.aead.Overhead())
	out[0] = cookieVersion
	// A random 96-bit nonce per value: the number of values sealed under
	// one key stays far below the 2^32 limit of NIST SP 800-38D, 8.3.
	rand.Read(out[1:])
	out = s.aead.Seal(out, out[1:], plaintext, []byte(s.name))
	return base64.RawURLEncoding.EncodeToString(out)
}

// open reverses seal. Every failure returns errCookie.
func (s sealer) open(value string) ([]byte, error) {
	if len(value) > maxCookieValue {
		return nil, errCookie
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return nil, errCookie
	}
	nonceSize := s.aead.NonceSize()
	if len(raw) < 1+nonceSize+s.aead.Overhead() || raw[0] != cookieVersion {
		return nil, errCookie
	}
	plaintext, err := s.aead.Open(nil, raw[1:1+nonceSize], raw[1+nonceSize:], []byte(s.name))
	if err != nil {
		return nil, errCookie
	}
	return plaintext, nil
}

// cookie returns the cookie that carries value until expires.
func (c cookieCodec) cookie(s sealer, value string, expires time.Time, now time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     s.name,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		MaxAge:   max(int(expires.Sub(now)/time.Second), 1),
		Secure:   c.secure,
		HttpOnly: true,
		// Lax lets the cookie travel with the provider's top-level GET
		// redirect to the callback and keeps it off cross-site POSTs.
		SameSite: http.SameSiteLaxMode,
	}
}

// clear returns the cookie that deletes the cookie of s.
func (c cookieCodec) clear(s sealer) *http.Cookie {
	return &http.Cookie{
		Name:     s.name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}
