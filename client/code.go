package client

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

// Enrollment code format. A code is one line:
//
//	dnshandle-enroll:v1:<payload>
//
// The payload is the unpadded base64url encoding of a JSON object with
// exactly these four string members:
//
//   - "directory": the ACME directory URL of the provider (https, or http on a loopback host).
//   - "handle": the handle to enroll, in normal form ("alice.dhp.test").
//   - "kid": the EAB key ID, 1 to MaxKeyIDLength characters of [A-Za-z0-9_-].
//   - "key": the EAB HMAC key, unpadded base64url of MinEABKeySize to MaxEABKeySize bytes.
//
// The code contains a secret, so show it once, to the person enrolling.
const (
	CodePrefix  = "dnshandle-enroll:"
	CodeVersion = "v1"
	// MaxCodeLength bounds the length of a code in bytes.
	MaxCodeLength = 2048
	// MaxKeyIDLength bounds the EAB key ID in characters.
	MaxKeyIDLength = 128
	// MinEABKeySize and MaxEABKeySize bound the HMAC key in bytes. 32 bytes
	// match HS256 (RFC 7518, section 3.2).
	MinEABKeySize = 32
	MaxEABKeySize = 64
)

// EnrollmentCode is the data a device needs to enroll: the provider's ACME
// directory URL, the handle to request, and the External Account Binding
// credential (RFC 8555, section 7.3.4) that binds the new account.
type EnrollmentCode struct {
	DirectoryURL string
	Handle       handle.Handle
	KeyID        string
	Key          []byte
}

type codePayload struct {
	Directory string `json:"directory"`
	Handle    string `json:"handle"`
	KID       string `json:"kid"`
	Key       string `json:"key"`
}

// String returns the one-line code. It does not check c; ParseEnrollmentCode
// of the result fails if c is not valid.
func (c EnrollmentCode) String() string {
	b, err := json.Marshal(codePayload{
		Directory: c.DirectoryURL,
		Handle:    string(c.Handle),
		KID:       c.KeyID,
		Key:       base64.RawURLEncoding.EncodeToString(c.Key),
	})
	if err != nil {
		// json.Marshal fails only on unsupported types and values, and
		// codePayload has four string fields.
		panic("client: marshal enrollment code: " + err.Error())
	}
	return CodePrefix + CodeVersion + ":" + base64.RawURLEncoding.EncodeToString(b)
}

// EncodedKey returns the HMAC key as unpadded base64url, the form lego's
// --hmac and certbot's --eab-hmac-key take.
func (c EnrollmentCode) EncodedKey() string {
	return base64.RawURLEncoding.EncodeToString(c.Key)
}

// CodeError reports an enrollment code that does not parse.
type CodeError struct {
	Reason string
}

func (e *CodeError) Error() string {
	return "invalid enrollment code: " + e.Reason + "; copy the whole code again from the provider"
}

func codeErrorf(format string, args ...any) error {
	return &CodeError{Reason: fmt.Sprintf(format, args...)}
}

// ParseEnrollmentCode parses a code in the format above. It ignores
// surrounding white space, because codes are pasted. It rejects anything
// else that departs from the format: unknown versions, padding, line
// breaks, unknown or repeated JSON members, and an invalid URL, handle, key
// ID or key. Errors are *CodeError.
func ParseEnrollmentCode(s string) (EnrollmentCode, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxCodeLength {
		return EnrollmentCode{}, codeErrorf("longer than %d bytes", MaxCodeLength)
	}
	rest, ok := strings.CutPrefix(s, CodePrefix)
	if !ok {
		return EnrollmentCode{}, codeErrorf("it does not start with %q", CodePrefix)
	}
	version, payload, ok := strings.Cut(rest, ":")
	if !ok {
		return EnrollmentCode{}, codeErrorf("no version part")
	}
	if version != CodeVersion {
		return EnrollmentCode{}, codeErrorf("version %q is not supported (this program reads %s); update dnshandle", version, CodeVersion)
	}
	raw, err := decodeB64(payload)
	if err != nil {
		return EnrollmentCode{}, codeErrorf("payload is not unpadded base64url")
	}
	p, err := decodeCodePayload(raw)
	if err != nil {
		return EnrollmentCode{}, err
	}
	return p.check()
}

// decodeCodePayload decodes the JSON object, rejecting unknown, missing and
// repeated members and trailing data.
func decodeCodePayload(raw []byte) (codePayload, error) {
	var p codePayload
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return p, codeErrorf("payload is not a JSON object")
	}
	fields := map[string]*string{"directory": &p.Directory, "handle": &p.Handle, "kid": &p.KID, "key": &p.Key}
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return p, codeErrorf("payload is not valid JSON")
		}
		name, _ := t.(string)
		dst, known := fields[name]
		if !known {
			return p, codeErrorf("payload has unknown member %q", name)
		}
		if seen[name] {
			return p, codeErrorf("payload repeats member %q", name)
		}
		seen[name] = true
		if err := dec.Decode(dst); err != nil {
			return p, codeErrorf("payload member %q is not a string", name)
		}
	}
	if _, err := dec.Token(); err != nil {
		return p, codeErrorf("payload is not valid JSON")
	}
	if _, err := dec.Token(); err == nil {
		return p, codeErrorf("payload has data after the JSON object")
	}
	for name := range fields {
		if !seen[name] {
			return p, codeErrorf("payload has no member %q", name)
		}
	}
	return p, nil
}

func (p codePayload) check() (EnrollmentCode, error) {
	if err := checkDirectoryURL(p.Directory); err != nil {
		return EnrollmentCode{}, codeErrorf("directory: %v", err)
	}
	h, err := handle.Parse(p.Handle)
	if err != nil || string(h) != p.Handle {
		return EnrollmentCode{}, codeErrorf("handle %q is not a handle in normal form", p.Handle)
	}
	if !validKeyID(p.KID) {
		return EnrollmentCode{}, codeErrorf("key ID must be 1 to %d characters of A-Z, a-z, 0-9, '-' and '_'", MaxKeyIDLength)
	}
	key, err := decodeB64(p.Key)
	if err != nil {
		return EnrollmentCode{}, codeErrorf("key is not unpadded base64url")
	}
	if len(key) < MinEABKeySize || len(key) > MaxEABKeySize {
		return EnrollmentCode{}, codeErrorf("key has %d bytes; expected %d to %d", len(key), MinEABKeySize, MaxEABKeySize)
	}
	return EnrollmentCode{DirectoryURL: p.Directory, Handle: h, KeyID: p.KID, Key: key}, nil
}

func validKeyID(s string) bool {
	if s == "" || len(s) > MaxKeyIDLength {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

// checkDirectoryURL requires an absolute https URL, or http on a loopback
// host, without user information or fragment.
func checkDirectoryURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q must be an absolute URL without user or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%q must use https (http only on a loopback host)", raw)
}

// decodeB64 decodes unpadded base64url and rejects line breaks, which
// encoding/base64 would skip.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64url")
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}
