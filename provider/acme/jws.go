package acme

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/dnshandle/dnshandle/pki"
)

// SignatureAlgorithms are the JWS algorithms accepted on requests. RFC 8555,
// section 6.2 requires ES256 and recommends EdDSA. ES384 is accepted too, and
// RS256 for clients with RSA account keys (certbot 2.1's default).
var SignatureAlgorithms = []string{"ES256", "ES384", "EdDSA", "RS256"}

// eabAlgorithms are the MAC algorithms accepted in an external account
// binding, RFC 8555, section 7.3.4.
var eabAlgorithms = []string{"HS256", "HS384", "HS512"}

// b64 is the base64url encoding of JWS (RFC 7515, section 2): no padding,
// and trailing bits must be zero. Decode with decodeB64.
var b64 = base64.RawURLEncoding.Strict()

// decodeB64 decodes unpadded base64url. Unlike encoding/base64 alone it
// rejects line breaks, which the decoder would skip.
func decodeB64(s string) ([]byte, error) {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("line break at offset %d", i)
	}
	return b64.DecodeString(s)
}

// jwsHeader is the protected header of an ACME request.
type jwsHeader struct {
	Alg   string          `json:"alg"`
	Nonce string          `json:"nonce"`
	URL   string          `json:"url"`
	JWK   json.RawMessage `json:"jwk"`
	KID   string          `json:"kid"`
	B64   *bool           `json:"b64"`
	Crit  json.RawMessage `json:"crit"`
}

// jwsMessage is a parsed flattened JWS whose signature is not verified yet.
type jwsMessage struct {
	Header    jwsHeader
	Protected string // as received, for the signing input
	Payload   []byte
	// PayloadB64 is the payload as received, for the signing input.
	PayloadB64 string
	Signature  []byte
	// JWK is the parsed "jwk" header, nil when the request has a "kid".
	JWK *jose.JSONWebKey
}

// signingInput returns the bytes the signature covers, RFC 7515,
// section 5.1.
func (m *jwsMessage) signingInput() []byte {
	return []byte(m.Protected + "." + m.PayloadB64)
}

// parseJWS parses body as a JWS in flattened JSON serialization and checks
// its form: RFC 8555, section 6.2 allows neither the general serialization
// nor the compact one, nor an unprotected header, nor a detached payload.
// For requests (eab false) alg must be one of SignatureAlgorithms, and the
// header needs url and exactly one of jwk and kid. With eab true it parses
// an external account binding: alg HS256/384/512, kid and url, no nonce.
func parseJWS(body []byte, eab bool) (*jwsMessage, *Problem) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] != '{' {
			return nil, malformed("request body is not a JWS in flattened JSON serialization: RFC 8555, section 6.2 does not allow the compact serialization")
		}
		return nil, malformed("request body is not a JSON object: %v", err)
	}
	if _, ok := members["signatures"]; ok {
		return nil, malformed("JWS uses the general JSON serialization; RFC 8555, section 6.2 requires the flattened serialization with one signature")
	}
	if _, ok := members["header"]; ok {
		return nil, malformed("JWS has an unprotected header; RFC 8555, section 6.2 allows only the protected header")
	}

	m := &jwsMessage{}
	var err *Problem
	if m.Protected, err = stringMember(members, "protected"); err != nil {
		return nil, err
	}
	if m.PayloadB64, err = stringMember(members, "payload"); err != nil {
		return nil, err
	}
	sig, err := stringMember(members, "signature")
	if err != nil {
		return nil, err
	}
	if m.Payload, err = decodeMember("payload", m.PayloadB64); err != nil {
		return nil, err
	}
	if m.Signature, err = decodeMember("signature", sig); err != nil {
		return nil, err
	}
	protected, err := decodeMember("protected", m.Protected)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(protected, &m.Header); err != nil {
		return nil, malformed("JWS protected header is not a JSON object: %v", err)
	}
	if p := m.checkHeader(eab); p != nil {
		return nil, p
	}
	return m, nil
}

func (m *jwsMessage) checkHeader(eab bool) *Problem {
	h := &m.Header
	if h.B64 != nil || len(h.Crit) > 0 {
		return malformed(`JWS protected header has "b64" or "crit", which ACME does not use`)
	}
	if h.URL == "" {
		return malformed(`JWS protected header has no "url" (RFC 8555, section 6.4)`)
	}

	if eab {
		if !slices.Contains(eabAlgorithms, h.Alg) {
			return malformed("external account binding uses alg %q; use one of %s", h.Alg, strings.Join(eabAlgorithms, ", "))
		}
		if h.KID == "" || len(h.JWK) > 0 {
			return malformed(`external account binding needs "kid" (the EAB key ID) and no "jwk"`)
		}
		if h.Nonce != "" {
			return malformed(`external account binding must not have a "nonce" (RFC 8555, section 7.3.4)`)
		}
		return nil
	}

	if !slices.Contains(SignatureAlgorithms, h.Alg) {
		return &Problem{
			Type:       ProblemBadSignatureAlgorithm,
			Detail:     fmt.Sprintf("JWS algorithm %q is not supported; use one of %s", h.Alg, strings.Join(SignatureAlgorithms, ", ")),
			Algorithms: slices.Clone(SignatureAlgorithms),
		}
	}
	hasJWK, hasKID := len(h.JWK) > 0 && string(h.JWK) != "null", h.KID != ""
	if hasJWK == hasKID {
		return malformed(`JWS protected header must have exactly one of "jwk" and "kid" (RFC 8555, section 6.2)`)
	}
	if hasJWK {
		key, p := parsePublicJWK(h.JWK)
		if p != nil {
			return p
		}
		if p := checkKeyAlgorithm(key.Key, h.Alg); p != nil {
			return p
		}
		m.JWK = key
	}
	return nil
}

func stringMember(members map[string]json.RawMessage, name string) (string, *Problem) {
	raw, ok := members[name]
	if !ok {
		return "", malformed("JWS has no %q member", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed("JWS member %q is not a string", name)
	}
	return s, nil
}

func decodeMember(name, s string) ([]byte, *Problem) {
	b, err := decodeB64(s)
	if err != nil {
		return nil, malformed("JWS member %q is not unpadded base64url: %v", name, err)
	}
	return b, nil
}

// parsePublicJWK parses a JWK that must hold a public key.
func parsePublicJWK(raw []byte) (*jose.JSONWebKey, *Problem) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return nil, &Problem{Type: ProblemBadPublicKey, Detail: fmt.Sprintf("JWK does not parse: %v", err)}
	}
	if !k.Valid() || !k.IsPublic() {
		return nil, &Problem{Type: ProblemBadPublicKey, Detail: "JWK must be a valid public key without private parameters"}
	}
	return &k, nil
}

// checkKeyAlgorithm checks that key suits alg and is strong enough.
func checkKeyAlgorithm(key any, alg string) *Problem {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384()}[alg]
		if want == nil || k.Curve != want {
			return &Problem{Type: ProblemBadPublicKey, Detail: fmt.Sprintf("ECDSA key on %s does not match JWS algorithm %s (ES256 needs P-256, ES384 needs P-384)", k.Curve.Params().Name, alg)}
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			return &Problem{Type: ProblemBadPublicKey, Detail: fmt.Sprintf("Ed25519 key does not match JWS algorithm %s; use EdDSA", alg)}
		}
	case *rsa.PublicKey:
		if alg != "RS256" {
			return &Problem{Type: ProblemBadPublicKey, Detail: fmt.Sprintf("RSA key does not match JWS algorithm %s; use RS256", alg)}
		}
		if bits := k.N.BitLen(); bits < pki.MinRSABits || bits > pki.MaxRSABits {
			return &Problem{Type: ProblemBadPublicKey, Detail: fmt.Sprintf("RSA key has %d bits; use %d to %d", bits, pki.MinRSABits, pki.MaxRSABits)}
		}
	default:
		return &Problem{Type: ProblemBadPublicKey, Detail: fmt.Sprintf("unsupported key type %T", key)}
	}
	return nil
}

// verifyJWS checks the signature of body, already parsed as m, with key.
func verifyJWS(body []byte, m *jwsMessage, key any) *Problem {
	if p := checkKeyAlgorithm(key, m.Header.Alg); p != nil {
		return p
	}
	sig, err := jose.ParseSignedJSON(string(body), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(m.Header.Alg)})
	if err != nil {
		return &Problem{Type: ProblemMalformed, Detail: "JWS does not parse", Err: err}
	}
	if _, err := sig.Verify(key); err != nil {
		return &Problem{Type: ProblemMalformed, Detail: "JWS signature does not verify with the account key", Err: err}
	}
	return nil
}

// verifyMAC checks the HMAC of an external account binding with key in
// constant time, RFC 7518, section 3.2.
func verifyMAC(m *jwsMessage, key []byte) bool {
	mac := computeMAC(m, key)
	return mac != nil && hmac.Equal(mac, m.Signature)
}

// computeMAC returns the HMAC of m's signing input for its alg, or nil for
// an alg that is not HS256, HS384 or HS512.
func computeMAC(m *jwsMessage, key []byte) []byte {
	var h func() hash.Hash
	switch m.Header.Alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		return nil
	}
	mac := hmac.New(h, key)
	mac.Write(m.signingInput())
	return mac.Sum(nil)
}

// thumbprint returns the base64url RFC 7638 SHA-256 thumbprint of k.
func thumbprint(k *jose.JSONWebKey) (string, error) {
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
