package acme

import (
	"slices"
	"testing"
)

// FuzzParseJWS checks that parseJWS never panics and that whatever it
// accepts has the form RFC 8555, section 6.2 requires.
func FuzzParseJWS(f *testing.F) {
	f.Add([]byte(`{"protected":"eyJhbGciOiJFUzI1NiJ9","payload":"","signature":""}`), false)
	f.Add([]byte(`{"payload":"","signatures":[]}`), false)
	f.Add([]byte(`a.b.c`), false)
	f.Fuzz(func(t *testing.T, body []byte, eab bool) {
		m, p := parseJWS(body, eab)
		if p != nil {
			if p.Type == "" || p.Detail == "" || p.HTTPStatus() != 400 {
				t.Fatalf("problem without type, detail or status 400: %+v", p)
			}
			return
		}
		h := m.Header
		if h.URL == "" {
			t.Fatal("accepted a JWS without url")
		}
		if eab {
			if !slices.Contains(eabAlgorithms, h.Alg) || h.KID == "" || h.Nonce != "" {
				t.Fatalf("accepted an EAB header %+v", h)
			}
			return
		}
		if !slices.Contains(SignatureAlgorithms, h.Alg) {
			t.Fatalf("accepted alg %q", h.Alg)
		}
		if (m.JWK != nil) == (h.KID != "") {
			t.Fatalf("accepted a header with jwk %v and kid %q", m.JWK != nil, h.KID)
		}
		if m.JWK != nil && checkKeyAlgorithm(m.JWK.Key, h.Alg) != nil {
			t.Fatal("accepted a jwk that does not suit alg")
		}
	})
}

// FuzzParseCertID checks that every accepted RFC 9773 certificate
// identifier has a positive serial and round-trips to the same text.
func FuzzParseCertID(f *testing.F) {
	f.Add("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
	f.Add("AAAA.AQ")
	f.Fuzz(func(t *testing.T, s string) {
		id, p := parseCertID(s)
		if p != nil {
			return
		}
		if id.serial.Sign() <= 0 {
			t.Fatalf("negative serial from %q", s)
		}
		serial := id.serial.Bytes()
		if serial[0]&0x80 != 0 {
			serial = append([]byte{0}, serial...)
		}
		if got := b64.EncodeToString(id.keyID) + "." + b64.EncodeToString(serial); got != s {
			t.Fatalf("%q parsed and encoded again is %q", s, got)
		}
	})
}
