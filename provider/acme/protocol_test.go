package acme

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestNonceReuseAndUnknown(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)

	used := e.nonce()
	e.post(jwsOptions{key: key, kid: kid, nonce: used}, kid, nil).wantStatus(t, http.StatusOK)

	cases := []struct {
		name  string
		nonce string
	}{
		{"reused", used},
		{"unknown", "bm90LWEtbm9uY2U"},
		{"missing", "-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.post(jwsOptions{key: key, kid: kid, nonce: tc.nonce}, kid, nil)
			res.wantProblem(t, http.StatusBadRequest, ProblemBadNonce)
			fresh := res.Header.Get("Replay-Nonce")
			if fresh == used {
				t.Fatalf("badNonce response repeats the rejected nonce")
			}
			// The fresh nonce of the error is usable at once.
			e.post(jwsOptions{key: key, kid: kid, nonce: fresh}, kid, nil).wantStatus(t, http.StatusOK)
		})
	}
}

func TestNonceExpires(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.NonceLifetime = time.Minute })
	key := newTestKey(t)
	kid := e.newAccount(key)
	n := e.nonce()
	e.clock.Advance(2 * time.Minute)
	e.post(jwsOptions{key: key, kid: kid, nonce: n}, kid, nil).wantProblem(t, http.StatusBadRequest, ProblemBadNonce)
}

func TestURLMismatch(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)

	res := e.post(jwsOptions{key: key, kid: kid, url: e.url(pathNewOrder)}, kid, nil)
	p := res.wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
	if !strings.Contains(p.Detail, "does not match the request URL") {
		t.Errorf("detail %q does not name the mismatch", p.Detail)
	}
}

func TestJWSSerializationRejected(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)

	flat := signFlattened(t, jwsOptions{key: key, kid: kid, url: kid, nonce: e.nonce()}, nil)
	var m map[string]string
	if err := json.Unmarshal(flat, &m); err != nil {
		t.Fatal(err)
	}
	general, _ := json.Marshal(map[string]any{
		"payload":    m["payload"],
		"signatures": []map[string]string{{"protected": m["protected"], "signature": m["signature"]}},
	})
	compact := m["protected"] + "." + m["payload"] + "." + m["signature"]
	unprotected, _ := json.Marshal(map[string]any{
		"protected": m["protected"], "payload": m["payload"], "signature": m["signature"],
		"header": map[string]string{"kid": kid},
	})

	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"general", general, "general JSON serialization"},
		{"compact", []byte(compact), "compact serialization"},
		{"unprotected header", unprotected, "unprotected header"},
		{"not JSON", []byte("{"), "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := e.postRaw(kid, tc.body).wantProblem(t, http.StatusBadRequest, ProblemMalformed)
			if !strings.Contains(p.Detail, tc.want) {
				t.Errorf("detail %q lacks %q", p.Detail, tc.want)
			}
		})
	}
}

func TestUnsupportedAlgorithm(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []jose.SignatureAlgorithm{jose.PS256, jose.RS512} {
		t.Run(string(alg), func(t *testing.T) {
			res := e.post(jwsOptions{key: testKey{signer: rsaKey, alg: alg}}, e.url(pathNewAccount), map[string]any{})
			p := res.wantProblem(t, http.StatusBadRequest, ProblemBadSignatureAlgorithm)
			if !slices.Equal(p.Algorithms, SignatureAlgorithms) {
				t.Errorf("algorithms = %v, want %v", p.Algorithms, SignatureAlgorithms)
			}
		})
	}
}

func TestContentTypeRequired(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	body := signFlattened(t, jwsOptions{key: key, url: e.url(pathNewAccount), nonce: e.nonce()}, []byte(`{}`))
	req, _ := http.NewRequest(http.MethodPost, e.url(pathNewAccount), strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	e.do(req).wantProblem(t, http.StatusUnsupportedMediaType, ProblemMalformed)
}

func TestJWKAndKIDRules(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)

	t.Run("jwk on order", func(t *testing.T) {
		e.post(jwsOptions{key: key}, e.url(pathNewOrder), map[string]any{}).wantProblem(t, http.StatusBadRequest, ProblemMalformed)
	})
	t.Run("kid on newAccount", func(t *testing.T) {
		e.post(jwsOptions{key: key, kid: kid}, e.url(pathNewAccount), map[string]any{}).wantProblem(t, http.StatusBadRequest, ProblemMalformed)
	})
	t.Run("both", func(t *testing.T) {
		o := jwsOptions{key: key, extra: map[jose.HeaderKey]any{"kid": kid}}
		e.post(o, e.url(pathNewAccount), map[string]any{}).wantProblem(t, http.StatusBadRequest, ProblemMalformed)
	})
	t.Run("wrong signer", func(t *testing.T) {
		other := newTestKey(t)
		e.post(jwsOptions{key: other, kid: kid}, kid, nil).wantProblem(t, http.StatusBadRequest, ProblemMalformed)
	})
}

func TestOnlyReturnExisting(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)

	res := e.post(jwsOptions{key: key}, e.url(pathNewAccount), map[string]any{"onlyReturnExisting": true})
	res.wantProblem(t, http.StatusBadRequest, ProblemAccountDoesNotExist)

	kid := e.newAccount(key)
	res = e.post(jwsOptions{key: key}, e.url(pathNewAccount), map[string]any{"onlyReturnExisting": true})
	res.wantStatus(t, http.StatusOK)
	if got := res.Header.Get("Location"); got != kid {
		t.Errorf("Location = %q, want %q", got, kid)
	}
}

func TestUnknownKID(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	kid := e.url(pathAccount + "no-such-account")
	res := e.post(jwsOptions{key: newTestKey(t), kid: kid}, e.url(pathNewOrder), map[string]any{})
	res.wantProblem(t, http.StatusBadRequest, ProblemAccountDoesNotExist)
}

func TestDirectoryAndNonceAcceptPOSTAsGET(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	for _, path := range []string{pathDirectory, pathNewNonce} {
		t.Run(path, func(t *testing.T) {
			res := e.post(jwsOptions{key: key}, e.url(path), nil)
			if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d: %s", res.StatusCode, res.body)
			}
			if res.Header.Get("Replay-Nonce") == "" {
				t.Error("no Replay-Nonce")
			}
		})
	}
}

func TestDirectoryAndNonceGET(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)

	res, err := http.Get(e.url(pathDirectory))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		NewNonce    string         `json:"newNonce"`
		RenewalInfo string         `json:"renewalInfo"`
		Meta        map[string]any `json:"meta"`
	}
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if d.Meta["externalAccountRequired"] != true || d.RenewalInfo != e.url(pathRenewalInfo) {
		t.Errorf("directory = %+v", d)
	}

	for method, want := range map[string]int{http.MethodGet: http.StatusNoContent, http.MethodHead: http.StatusOK} {
		req, _ := http.NewRequest(method, d.NewNonce, nil)
		res := e.do(req)
		if res.StatusCode != want || res.Header.Get("Replay-Nonce") == "" || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s newNonce: status %d, nonce %q, Cache-Control %q", method, res.StatusCode, res.Header.Get("Replay-Nonce"), res.Header.Get("Cache-Control"))
		}
	}
}

func TestGETOnPOSTResource(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	req, _ := http.NewRequest(http.MethodGet, e.url(pathNewOrder), nil)
	res := e.do(req)
	res.wantProblem(t, http.StatusMethodNotAllowed, ProblemMalformed)
	if res.Header.Get("Allow") != "POST" {
		t.Errorf("Allow = %q", res.Header.Get("Allow"))
	}
}

func TestRateLimitNewOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.RateLimits.NewOrder = Limit{Burst: 2, Every: time.Hour} })
	key := newTestKey(t)
	kid := e.newAccount(key)
	e.newOrder(key, kid)
	e.newOrder(key, kid)

	res := e.post(jwsOptions{key: key, kid: kid}, e.url(pathNewOrder), map[string]any{
		"identifiers": []Identifier{{Type: "dns", Value: string(testHandle)}},
	})
	res.wantProblem(t, http.StatusTooManyRequests, ProblemRateLimited)
	if ra := res.Header.Get("Retry-After"); ra != "3600" {
		t.Errorf("Retry-After = %q, want 3600", ra)
	}

	// After the interval one more order is allowed.
	e.clock.Advance(time.Hour)
	e.newOrder(key, kid)
}

func TestRateLimitNewNonce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.RateLimits.NewNonce = Limit{Burst: 3, Every: time.Minute} })
	for range 3 {
		e.nonce()
	}
	req, _ := http.NewRequest(http.MethodHead, e.url(pathNewNonce), nil)
	res := e.do(req)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "60" || res.Header.Get("Replay-Nonce") == "" {
		t.Errorf("status %d, Retry-After %q, nonce %q", res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Replay-Nonce"))
	}
}

func TestRateLimitNewAccount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.RateLimits.NewAccount = Limit{Burst: 1, Every: time.Minute} })
	e.newAccount(newTestKey(t))
	key := newTestKey(t)
	res := e.post(jwsOptions{key: key}, e.url(pathNewAccount), map[string]any{"onlyReturnExisting": true})
	res.wantProblem(t, http.StatusTooManyRequests, ProblemRateLimited)
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.MaxBodySize = 1024 })
	key := newTestKey(t)
	res := e.post(jwsOptions{key: key}, e.url(pathNewAccount), map[string]any{"contact": []string{strings.Repeat("a", 2000)}})
	res.wantProblem(t, http.StatusRequestEntityTooLarge, ProblemMalformed)
}

func TestNonceStoreDropsOldest(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.MaxNonces = 2 })
	key := newTestKey(t)
	kid := e.newAccount(key)

	oldest := e.nonce()
	e.nonce()
	e.nonce()
	e.post(jwsOptions{key: key, kid: kid, nonce: oldest}, kid, nil).wantProblem(t, http.StatusBadRequest, ProblemBadNonce)
}
