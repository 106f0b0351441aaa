package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// tokenVersion is the first byte of every sealed cookie value. A new
// format gets a new version, and old cookies then fail to open.
const tokenVersion = 1

// maxTokenLength bounds the cookie values that openToken decodes, in
// characters. Sessions seal to about 300.
const maxTokenLength = 2048

// TokenError reports a cookie value that does not open: malformed,
// sealed under another key or for another cookie, or changed.
type TokenError struct {
	// Cookie is the name of the cookie.
	Cookie string
	// Reason describes what is wrong.
	Reason string
}

// Error returns a message that names the cookie.
func (e *TokenError) Error() string {
	return fmt.Sprintf("cookie %s: %s", e.Cookie, e.Reason)
}

// seal encodes v as JSON and seals it with AES-GCM for the cookie name:
// base64url(version || nonce || ciphertext). The name is the additional
// data, so a value sealed for one cookie does not open as another.
func (w *Web) seal(cookie string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode cookie %s: %w", cookie, err)
	}
	out := make([]byte, 1+w.aead.NonceSize(), 1+w.aead.NonceSize()+len(plain)+w.aead.Overhead())
	out[0] = tokenVersion
	// crypto/rand.Read never returns an error since Go 1.24.
	_, _ = rand.Read(out[1:])
	out = w.aead.Seal(out, out[1:], plain, []byte(cookie))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// open reverses seal and decodes the JSON into v, rejecting unknown
// fields. Every failure is a *TokenError.
func (w *Web) open(cookie, value string, v any) error {
	if value == "" {
		return &TokenError{Cookie: cookie, Reason: "empty value"}
	}
	if len(value) > maxTokenLength {
		return &TokenError{Cookie: cookie, Reason: fmt.Sprintf("value of %d characters is longer than %d", len(value), maxTokenLength)}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil {
		return &TokenError{Cookie: cookie, Reason: "value is not unpadded base64url"}
	}
	n := w.aead.NonceSize()
	if len(raw) < 1+n+w.aead.Overhead() {
		return &TokenError{Cookie: cookie, Reason: "value is too short"}
	}
	if raw[0] != tokenVersion {
		return &TokenError{Cookie: cookie, Reason: fmt.Sprintf("unknown format version %d", raw[0])}
	}
	plain, err := w.aead.Open(nil, raw[1:1+n], raw[1+n:], []byte(cookie))
	if err != nil {
		return &TokenError{Cookie: cookie, Reason: "value does not authenticate: it was sealed with another key or changed"}
	}
	if err := decodeStrict(plain, v); err != nil {
		return &TokenError{Cookie: cookie, Reason: "sealed content is not valid: " + err.Error()}
	}
	return nil
}

// decodeStrict decodes one JSON value with no unknown fields and nothing
// after it.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}
