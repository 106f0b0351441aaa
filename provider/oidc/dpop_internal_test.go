package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/internal/ratelimit"

	jose "github.com/go-jose/go-jose/v4"
)

// makeProof signs a proof with the header options and claims.
func makeProof(t testing.TB, alg jose.SignatureAlgorithm, key any, typ string, embed bool, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{EmbedJWK: embed}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return compact
}

func goodClaims() map[string]any {
	return map[string]any{"jti": "id-1", "htm": "POST", "htu": "https://dhp.test/oauth/token", "iat": time.Now().Unix(), "nonce": "n"}
}

func withClaim(name string, value any) map[string]any {
	c := goodClaims()
	if value == nil {
		delete(c, name)
	} else {
		c[name] = value
	}
	return c
}

func TestParseDPoPProof(t *testing.T) {
	t.Parallel()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384Key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a key too small on purpose, to be rejected

	good := []struct {
		name string
		alg  jose.SignatureAlgorithm
		key  any
	}{
		{"ES256", jose.ES256, ecKey},
		{"EdDSA", jose.EdDSA, edKey},
		{"RS256", jose.RS256, rsaKey},
		{"PS256", jose.PS256, rsaKey},
	}
	for _, tc := range good {
		t.Run("Accepts"+tc.name, func(t *testing.T) {
			t.Parallel()
			proof, err := parseDPoPProof(makeProof(t, tc.alg, tc.key, "dpop+jwt", true, goodClaims()))
			if err != nil {
				t.Fatalf("parseDPoPProof: %v", err)
			}
			pub := tc.key.(crypto.Signer).Public()
			thumb, _ := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
			if proof.jkt != base64.RawURLEncoding.EncodeToString(thumb) || proof.jti != "id-1" || proof.htm != "POST" || proof.nonce != "n" {
				t.Errorf("parsed %+v, want the key's thumbprint and the claims", proof)
			}
		})
	}

	bad := []struct {
		name  string
		proof string
		want  string
	}{
		{"Empty", "", "compact serialization"},
		{"NotJWS", "a.b.c", "compact serialization"},
		{"JSONSerialization", `{"payload":"e30","signatures":[]}`, "compact serialization"},
		{"HS256", makeProof(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "dpop+jwt", false, goodClaims()), "compact serialization"},
		{"ES384", makeProof(t, jose.ES384, p384Key, "dpop+jwt", true, goodClaims()), "compact serialization"},
		{"WrongTyp", makeProof(t, jose.ES256, ecKey, "JWT", true, goodClaims()), "typ"},
		{"MissingTyp", makeProof(t, jose.ES256, ecKey, "", true, goodClaims()), "typ"},
		{"MissingJWK", makeProof(t, jose.ES256, ecKey, "dpop+jwt", false, goodClaims()), "jwk"},
		{"SmallRSA", makeProof(t, jose.RS256, smallRSA, "dpop+jwt", true, goodClaims()), "1024 bits"},
		{"MissingJTI", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, withClaim("jti", nil)), "jti"},
		{"MissingHTM", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, withClaim("htm", nil)), "htm"},
		{"MissingHTU", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, withClaim("htu", nil)), "htu"},
		{"MissingIAT", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, withClaim("iat", nil)), "iat"},
		{"StringIAT", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, withClaim("iat", "now")), "claims"},
		{"NegativeIAT", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, withClaim("iat", -5)), "iat"},
		{"NumberJTI", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, withClaim("jti", 7)), "claims"},
		{"LongJTI", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, withClaim("jti", strings.Repeat("j", 600))), "jti"},
		{"ArrayPayload", makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, []string{"x"}), "claims"},
		{"TooLong", strings.Repeat("a", maxDPoPProofLength+1), "bytes"},
	}
	for _, tc := range bad {
		t.Run("Rejects"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseDPoPProof(tc.proof)
			var proofErr *dpopError
			if !errors.As(err, &proofErr) || proofErr.code != errInvalidDPoPProof {
				t.Fatalf("error %v, want an invalid_dpop_proof *dpopError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}

	t.Run("RejectsSwappedKey", func(t *testing.T) {
		t.Parallel()
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		real := strings.Split(makeProof(t, jose.ES256, ecKey, "dpop+jwt", true, goodClaims()), ".")
		forged := strings.Split(makeProof(t, jose.ES256, other, "dpop+jwt", true, goodClaims()), ".")
		_, err := parseDPoPProof(forged[0] + "." + real[1] + "." + real[2])
		if err == nil || !strings.Contains(err.Error(), "signature") {
			t.Errorf("a proof whose jwk is not the signing key: error %v, want a signature error", err)
		}
	})
}

func TestSameTargetURI(t *testing.T) {
	t.Parallel()
	const target = "https://dhp.test:8443/oauth/token"
	tests := []struct {
		htu  string
		want bool
	}{
		{target, true},
		{"HTTPS://DHP.TEST:8443/oauth/token", true},
		{target + "?x=1#frag", true},
		{"https://dhp.test/oauth/token", false},
		{"https://dhp.test:8443/oauth/token/", false},
		{"https://dhp.test:8443/OAUTH/token", false},
		{"http://dhp.test:8443/oauth/token", false},
		{"https://user@dhp.test:8443/oauth/token", false},
		{"https://evil.test:8443/oauth/token", false},
		{"%zz", false},
	}
	for _, tc := range tests {
		if got := sameTargetURI(tc.htu, target); got != tc.want {
			t.Errorf("sameTargetURI(%q) = %v, want %v", tc.htu, got, tc.want)
		}
	}
	if !sameTargetURI("https://dhp.test:443/oauth/token", "https://dhp.test/oauth/token") {
		t.Error("the default port does not match its absence")
	}
}

func TestNonceSource(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	n := &nonceSource{key: []byte("key one"), lifetime: 5 * time.Minute}
	other := &nonceSource{key: []byte("key two"), lifetime: 5 * time.Minute}
	nonce := n.issue(now)

	tests := []struct {
		name string
		src  *nonceSource
		at   time.Time
		ok   bool
	}{
		{"Fresh", n, now, true},
		{"WithinLifetime", n, now.Add(5 * time.Minute), true},
		{"Expired", n, now.Add(5*time.Minute + time.Second), false},
		{"FromTheFuture", n, now.Add(-2 * time.Minute), false},
		{"OtherKey", other, now, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.src.check(nonce, tc.at)
			if (err == nil) != tc.ok {
				t.Errorf("check: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	for _, forged := range []string{"", "x", nonce[:len(nonce)-1], nonce + "A", strings.Repeat("A", len(nonce))} {
		if n.check(forged, now) == nil {
			t.Errorf("check(%q) accepted a nonce that was not issued", forged)
		}
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := newLimiter(Limit{Burst: 2, Every: time.Second}, Limit{})
	now := time.Unix(1000, 0)
	for i := range 2 {
		if ok, _ := l.Allow("a", now); !ok {
			t.Fatalf("request %d within the burst was refused", i+1)
		}
	}
	ok, wait := l.Allow("a", now)
	if ok || wait != time.Second {
		t.Fatalf("third request: ok=%v wait=%v, want a refusal with 1s to wait", ok, wait)
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Error("another key shares the bucket of the first")
	}
	if ok, _ := l.Allow("a", now.Add(time.Second)); !ok {
		t.Error("a token did not come back after Every")
	}
	var disabled *ratelimit.Limiter
	if ok, _ := disabled.Allow("a", now); !ok {
		t.Error("a nil limiter refused a request")
	}
}

func TestCheckRedirectURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri string
		ok  bool
	}{
		{"https://rp.test/cb", true},
		{"https://rp.test:8443/cb?x=1", true},
		{"http://127.0.0.1/cb", true},
		{"http://127.1.2.3:80/cb", true},
		{"http://[::1]:9/cb", true},
		{"http://localhost:9/cb", true},
		{"http://rp.test/cb", false},
		{"http://localhost.evil.test/cb", false},
		{"http://10.0.0.1/cb", false},
		{"https://rp.test/cb#f", false},
		{"https://rp.test/cb#", false},
		{"https://u:p@rp.test/cb", false},
		{"https:///cb", false},
		{"https://rp.test/a b", false},
		{"https://rp.test/\u00e9", false},
		{"ftp://rp.test/cb", false},
		{"javascript:alert(1)", false},
		{"//rp.test/cb", false},
		{"https://" + strings.Repeat("a", maxRedirectURILength) + ".test/", false},
	}
	for _, tc := range tests {
		err := checkRedirectURI(tc.uri)
		if (err == nil) != tc.ok {
			t.Errorf("checkRedirectURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
		var regErr *RegistrationError
		if err != nil && (!errors.As(err, &regErr) || regErr.Code != errInvalidRedirectURI) {
			t.Errorf("checkRedirectURI(%q) error %v, want an invalid_redirect_uri *RegistrationError", tc.uri, err)
		}
	}
}
