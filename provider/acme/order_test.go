package acme

import (
	"crypto"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewOrderIdentifiers(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)

	cases := []struct {
		name   string
		ids    []Identifier
		status int
		typ    ProblemType
	}{
		{"other handle", []Identifier{{"dns", "bob.dhp.test"}}, http.StatusBadRequest, ProblemRejectedIdentifier},
		{"two identifiers", []Identifier{{"dns", string(testHandle)}, {"dns", "www.dhp.test"}}, http.StatusBadRequest, ProblemRejectedIdentifier},
		{"ip", []Identifier{{"ip", "127.0.0.1"}}, http.StatusBadRequest, ProblemRejectedIdentifier},
		{"wildcard", []Identifier{{"dns", "*." + string(testHandle)}}, http.StatusBadRequest, ProblemRejectedIdentifier},
		{"none", nil, http.StatusBadRequest, ProblemMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.post(jwsOptions{key: key, kid: kid}, e.url(pathNewOrder), map[string]any{"identifiers": tc.ids})
			res.wantProblem(t, tc.status, tc.typ)
		})
	}

	t.Run("upper case handle", func(t *testing.T) {
		res := e.post(jwsOptions{key: key, kid: kid}, e.url(pathNewOrder), map[string]any{
			"identifiers": []Identifier{{"dns", strings.ToUpper(string(testHandle))}},
		})
		res.wantStatus(t, http.StatusCreated)
	})
}

func TestOrderIsReadyWithValidAuthz(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	_, o := e.newOrder(key, kid)
	if o.Status != OrderReady || len(o.Authorizations) != 1 {
		t.Fatalf("order = %+v", o)
	}

	var az authzObject
	res := e.post(jwsOptions{key: key, kid: kid}, o.Authorizations[0], nil)
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &az)
	if az.Status != AuthzValid || az.Identifier.Value != string(testHandle) || az.Challenges == nil {
		t.Errorf("authorization = %+v", az)
	}
}

func TestFinalizeCSRRules(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	orderURL, o := e.newOrder(key, kid)
	h := string(testHandle)

	cases := []struct {
		name   string
		csr    string
		detail string
	}{
		{"extra SAN", csrFor(t, newDeviceKey(t), h, h, "www.dhp.test"), "www.dhp.test"},
		{"other handle", csrFor(t, newDeviceKey(t), "bob.dhp.test", "bob.dhp.test"), "bob.dhp.test"},
		{"account key", csrFor(t, key.signer, h, h), "account key"},
		{"not base64url", "a+b/", "base64url"},
		{"not a CSR", b64.EncodeToString([]byte("hello")), "does not parse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.post(jwsOptions{key: key, kid: kid}, o.Finalize, map[string]string{"csr": tc.csr})
			p := res.wantProblem(t, http.StatusBadRequest, ProblemBadCSR)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", p.Detail, tc.detail)
			}
			var after orderObject
			e.post(jwsOptions{key: key, kid: kid}, orderURL, nil).decode(t, &after)
			if after.Status != OrderReady {
				t.Errorf("order is %s after a rejected CSR, want ready", after.Status)
			}
		})
	}

	// A CSR that names the handle only as CN is accepted.
	res := e.post(jwsOptions{key: key, kid: kid}, o.Finalize, map[string]string{"csr": csrFor(t, newDeviceKey(t), h)})
	res.wantStatus(t, http.StatusOK)
	var done orderObject
	res.decode(t, &done)
	if done.Status != OrderValid || done.Certificate == "" {
		t.Fatalf("order after finalize = %+v", done)
	}

	// A second finalize finds the order valid.
	e.post(jwsOptions{key: key, kid: kid}, o.Finalize, map[string]string{"csr": csrFor(t, newDeviceKey(t), h)}).
		wantProblem(t, http.StatusForbidden, ProblemOrderNotReady)
}

func TestExpiredAuthorizationInvalidatesOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.AuthorizationLifetime = time.Hour; c.OrderLifetime = 24 * time.Hour })
	key := newTestKey(t)
	kid := e.newAccount(key)
	orderURL, o := e.newOrder(key, kid)

	e.clock.Advance(time.Hour + time.Second)
	var got orderObject
	res := e.post(jwsOptions{key: key, kid: kid}, orderURL, nil)
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &got)
	if got.Status != OrderInvalid || got.Error == nil {
		t.Fatalf("order = %+v, want invalid with an error", got)
	}

	var az authzObject
	e.post(jwsOptions{key: key, kid: kid}, o.Authorizations[0], nil).decode(t, &az)
	if az.Status != AuthzExpired {
		t.Errorf("authorization is %s, want expired", az.Status)
	}
	e.post(jwsOptions{key: key, kid: kid}, o.Finalize, map[string]string{"csr": csrFor(t, newDeviceKey(t), string(testHandle))}).
		wantProblem(t, http.StatusForbidden, ProblemOrderNotReady)
}

func TestDeactivatedAuthorizationInvalidatesOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	orderURL, o := e.newOrder(key, kid)

	var az authzObject
	res := e.post(jwsOptions{key: key, kid: kid}, o.Authorizations[0], map[string]string{"status": "deactivated"})
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &az)
	var got orderObject
	e.post(jwsOptions{key: key, kid: kid}, orderURL, nil).decode(t, &got)
	if az.Status != AuthzDeactivated || got.Status != OrderInvalid {
		t.Errorf("authorization %s, order %s; want deactivated, invalid", az.Status, got.Status)
	}
}

func TestOrdersList(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.AuthorizationLifetime = time.Hour })
	key := newTestKey(t)
	kid := e.newAccount(key)
	first, _ := e.newOrder(key, kid)
	e.clock.Advance(2 * time.Hour) // first becomes invalid
	second, _ := e.newOrder(key, kid)

	var list struct {
		Orders []string `json:"orders"`
	}
	res := e.post(jwsOptions{key: key, kid: kid}, kid+"/orders", nil)
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &list)
	if len(list.Orders) != 1 || list.Orders[0] != second {
		t.Errorf("orders = %v, want only %s (not the invalid %s)", list.Orders, second, first)
	}
}

func TestOrderOfAnotherAccount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	a, b := newTestKey(t), newTestKey(t)
	kidA, kidB := e.newAccount(a), e.newAccount(b)
	orderURL, _ := e.newOrder(a, kidA)
	e.post(jwsOptions{key: b, kid: kidB}, orderURL, nil).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
}

func TestNotBeforeRejected(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	res := e.post(jwsOptions{key: key, kid: kid}, e.url(pathNewOrder), map[string]any{
		"identifiers": []Identifier{{"dns", string(testHandle)}},
		"notAfter":    "2030-01-01T00:00:00Z",
	})
	res.wantProblem(t, http.StatusBadRequest, ProblemMalformed)
}

// issueCert runs an order to a certificate for deviceKey (nil for a new
// key) and returns the valid order object.
func (e *testEnv) issueCert(key testKey, kid string, deviceKey crypto.Signer) orderObject {
	e.t.Helper()
	_, o := e.newOrder(key, kid)
	if deviceKey == nil {
		deviceKey = newDeviceKey(e.t)
	}
	res := e.post(jwsOptions{key: key, kid: kid}, o.Finalize, map[string]string{"csr": csrFor(e.t, deviceKey, string(testHandle), string(testHandle))})
	res.wantStatus(e.t, http.StatusOK)
	var done orderObject
	res.decode(e.t, &done)
	return done
}

func TestInterruptedFinalizeInvalidatesOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.FinalizeTimeout = time.Minute })
	key := newTestKey(t)
	kid := e.newAccount(key)
	orderURL, o := e.newOrder(key, kid)

	// A process that stopped between claiming the order and storing the
	// certificate leaves it processing.
	ctx := t.Context()
	stored, err := e.backend.Order(ctx, strings.TrimPrefix(orderURL, e.url(pathOrder)))
	if err != nil {
		t.Fatal(err)
	}
	stored.Status, stored.ProcessingSince = OrderProcessing, e.clock.Now()
	if err := e.backend.UpdateOrder(ctx, stored, OrderReady); err != nil {
		t.Fatal(err)
	}

	var got orderObject
	e.clock.Advance(time.Minute - time.Second)
	e.post(jwsOptions{key: key, kid: kid}, orderURL, nil).decode(t, &got)
	if got.Status != OrderProcessing || got.Error != nil {
		t.Fatalf("order within the finalize timeout = %+v, want processing without error", got)
	}

	e.clock.Advance(time.Second)
	res := e.post(jwsOptions{key: key, kid: kid}, orderURL, nil)
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &got)
	if got.Status != OrderInvalid || got.Error == nil {
		t.Fatalf("order after the finalize timeout = %+v, want invalid with an error", got)
	}
	if got.Error.Type != ErrorNamespace+string(ProblemServerInternal) {
		t.Errorf("error type %q, want serverInternal", got.Error.Type)
	}
	if !strings.Contains(got.Error.Detail, "interrupted") || !strings.Contains(got.Error.Detail, "new order") {
		t.Errorf("error detail %q does not say that finalize was interrupted and to place a new order", got.Error.Detail)
	}
	if after, err := e.backend.Order(ctx, stored.ID); err != nil || after.Status != OrderInvalid {
		t.Errorf("stored order after the read: %+v, %v; want it invalid", after, err)
	}

	e.post(jwsOptions{key: key, kid: kid}, o.Finalize, map[string]string{"csr": csrFor(t, newDeviceKey(t), string(testHandle))}).
		wantProblem(t, http.StatusForbidden, ProblemOrderNotReady)
	if done := e.issueCert(key, kid, nil); done.Status != OrderValid {
		t.Errorf("new order after the interrupted one = %+v, want valid", done)
	}
}
