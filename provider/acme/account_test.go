package acme

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestExternalAccountBinding(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	newAccountURL := e.url(pathNewAccount)

	cases := []struct {
		name   string
		eab    func(key testKey, en *Enrollment) any
		status int
		typ    ProblemType
		detail string
	}{
		{
			name:   "missing",
			eab:    func(testKey, *Enrollment) any { return nil },
			status: http.StatusBadRequest, typ: ProblemExternalAccountRequired,
		},
		{
			name: "different JWK",
			eab: func(_ testKey, en *Enrollment) any {
				return eabJWS(t, en.KeyID, en.Key, newAccountURL, newTestKey(t).jwk())
			},
			status: http.StatusForbidden, typ: ProblemUnauthorized, detail: "signs another key",
		},
		{
			name: "wrong MAC key",
			eab: func(key testKey, en *Enrollment) any {
				return eabJWS(t, en.KeyID, make([]byte, 32), newAccountURL, key.jwk())
			},
			status: http.StatusForbidden, typ: ProblemUnauthorized, detail: "MAC does not verify",
		},
		{
			name: "unknown kid",
			eab: func(key testKey, en *Enrollment) any {
				return eabJWS(t, "no-such-kid", en.Key, newAccountURL, key.jwk())
			},
			status: http.StatusForbidden, typ: ProblemUnauthorized, detail: "unknown",
		},
		{
			name: "wrong url",
			eab: func(key testKey, en *Enrollment) any {
				return eabJWS(t, en.KeyID, en.Key, e.url(pathNewOrder), key.jwk())
			},
			status: http.StatusForbidden, typ: ProblemUnauthorized, detail: "newAccount URL",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := newTestKey(t)
			en := e.enrollment("phone")
			payload := map[string]any{}
			if eab := tc.eab(key, en); eab != nil {
				payload["externalAccountBinding"] = eab
			}
			p := e.post(jwsOptions{key: key}, newAccountURL, payload).wantProblem(t, tc.status, tc.typ)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", p.Detail, tc.detail)
			}
		})
	}
}

func TestEABUsedOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	en := e.enrollment("laptop")
	register := func(key testKey) *testResponse {
		return e.post(jwsOptions{key: key}, e.url(pathNewAccount), map[string]any{
			"externalAccountBinding": eabJWS(t, en.KeyID, en.Key, e.url(pathNewAccount), key.jwk()),
		})
	}
	first := newTestKey(t)
	register(first).wantStatus(t, http.StatusCreated)

	p := register(newTestKey(t)).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
	if !strings.Contains(p.Detail, "already bound") {
		t.Errorf("detail %q does not say the key is already bound", p.Detail)
	}

	// The first key gets its account back.
	register(first).wantStatus(t, http.StatusOK)
}

func TestEABExpired(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.EnrollmentLifetime = 10 * time.Minute })
	en := e.enrollment("laptop")
	e.clock.Advance(11 * time.Minute)
	key := newTestKey(t)
	p := e.post(jwsOptions{key: key}, e.url(pathNewAccount), map[string]any{
		"externalAccountBinding": eabJWS(t, en.KeyID, en.Key, e.url(pathNewAccount), key.jwk()),
	}).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
	if !strings.Contains(p.Detail, "expired") {
		t.Errorf("detail %q does not say expired", p.Detail)
	}
}

func TestNewEnrollmentLabel(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	for _, label := range []string{"", strings.Repeat("x", 65), "a\nb", "\xff"} {
		if _, err := e.server.NewEnrollment(context.Background(), testIdentity, label); err == nil {
			t.Errorf("label %q accepted", label)
		}
	}
	if _, err := e.server.NewEnrollment(context.Background(), "nobody", "laptop"); err == nil {
		t.Error("unknown identity accepted")
	}
}

// An enrollment's key ID and encoded key are pasted as command-line
// arguments, and one starting with "-" made certbot fail ("--eab-kid: expected
// one argument"). Without the redraw, 2,000 values all avoid "-" with a
// probability of about 2e-14.
func TestEnrollmentNoLeadingDash(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	for i := range 1000 {
		en, err := e.server.NewEnrollment(context.Background(), testIdentity, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(en.KeyID, "-") {
			t.Fatalf("enrollment %d: key ID %q starts with \"-\"", i, en.KeyID)
		}
		if strings.HasPrefix(en.EncodedKey(), "-") {
			t.Fatalf("enrollment %d: encoded key %q starts with \"-\"", i, en.EncodedKey())
		}
	}
}

func TestAccountUpdateAndDeactivate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	o := jwsOptions{key: key, kid: kid}

	var acct accountObject
	res := e.post(o, kid, map[string]any{"contact": []string{"mailto:alice@dhp.test"}})
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &acct)
	if len(acct.Contact) != 1 || acct.Contact[0] != "mailto:alice@dhp.test" {
		t.Errorf("contact = %v", acct.Contact)
	}

	e.post(o, kid, map[string]any{"contact": []string{"tel:+1"}}).wantProblem(t, http.StatusBadRequest, ProblemUnsupportedContact)

	res = e.post(o, kid, map[string]any{"status": "deactivated"})
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &acct)
	if acct.Status != AccountDeactivated {
		t.Errorf("status = %s", acct.Status)
	}
	e.post(o, e.url(pathNewOrder), map[string]any{}).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
}

func TestAccountOfAnother(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	a, b := newTestKey(t), newTestKey(t)
	kidA := e.newAccount(a)
	kidB := e.newAccount(b)
	e.post(jwsOptions{key: a, kid: kidA}, kidB, nil).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
}

// keyChangeBody returns the inner JWS of a key change from old to next.
func keyChangeBody(t *testing.T, url, kid string, old, next testKey) json.RawMessage {
	t.Helper()
	oldJWK, _ := old.jwk().MarshalJSON()
	inner, _ := json.Marshal(map[string]any{"account": kid, "oldKey": json.RawMessage(oldJWK)})
	return signFlattened(t, jwsOptions{key: next, url: url, nonce: "-"}, inner)
}

func TestKeyChange(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	old := newTestKey(t)
	kid := e.newAccount(old)
	next := newTestKey(t)
	url := e.url(pathKeyChange)

	t.Run("wrong old key", func(t *testing.T) {
		body := keyChangeBody(t, url, kid, newTestKey(t), next)
		e.post(jwsOptions{key: old, kid: kid}, url, body).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
	})
	t.Run("key of another account", func(t *testing.T) {
		other := newTestKey(t)
		otherKID := e.newAccount(other)
		res := e.post(jwsOptions{key: old, kid: kid}, url, keyChangeBody(t, url, kid, old, other))
		res.wantProblem(t, http.StatusConflict, ProblemMalformed)
		if res.Header.Get("Location") != otherKID {
			t.Errorf("Location = %q, want %q", res.Header.Get("Location"), otherKID)
		}
	})
	t.Run("inner with nonce", func(t *testing.T) {
		oldJWK, _ := old.jwk().MarshalJSON()
		inner, _ := json.Marshal(map[string]any{"account": kid, "oldKey": json.RawMessage(oldJWK)})
		body := signFlattened(t, jwsOptions{key: next, url: url, nonce: "x"}, inner)
		e.post(jwsOptions{key: old, kid: kid}, url, json.RawMessage(body)).wantProblem(t, http.StatusBadRequest, ProblemMalformed)
	})

	e.post(jwsOptions{key: old, kid: kid}, url, keyChangeBody(t, url, kid, old, next)).wantStatus(t, http.StatusOK)
	e.post(jwsOptions{key: next, kid: kid}, kid, nil).wantStatus(t, http.StatusOK)
	e.post(jwsOptions{key: old, kid: kid}, kid, nil).wantProblem(t, http.StatusBadRequest, ProblemMalformed)
}

func TestEABHS512(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	en := e.enrollment("laptop")
	key := newTestKey(t)
	jwk, _ := key.jwk().MarshalJSON()

	// go-jose refuses HS512 with a 32-byte key, so the MAC is computed here.
	protected, _ := json.Marshal(map[string]string{"alg": "HS512", "kid": en.KeyID, "url": e.url(pathNewAccount)})
	m := &jwsMessage{Header: jwsHeader{Alg: "HS512"}, Protected: b64.EncodeToString(protected), PayloadB64: b64.EncodeToString(jwk)}
	mac := computeMAC(m, en.Key)
	eab, _ := json.Marshal(map[string]string{"protected": m.Protected, "payload": m.PayloadB64, "signature": b64.EncodeToString(mac)})

	e.post(jwsOptions{key: key}, e.url(pathNewAccount), map[string]any{"externalAccountBinding": json.RawMessage(eab)}).wantStatus(t, http.StatusCreated)
}
