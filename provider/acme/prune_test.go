package acme

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPruneMemoryBackend(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) {
		c.OrderLifetime = 2 * time.Hour
		c.AuthorizationLifetime = 2 * time.Hour
		c.EnrollmentLifetime = time.Hour
	})
	ctx := t.Context()
	key := newTestKey(t)
	kid := e.newAccount(key)
	oldOrder, _ := e.newOrder(key, kid)
	used, err := e.backend.Account(ctx, strings.TrimPrefix(kid, e.url(pathAccount)))
	if err != nil {
		t.Fatal(err)
	}
	unused := e.enrollment("phone")

	e.clock.Advance(90 * time.Minute)
	newOrder, _ := e.newOrder(key, kid)
	live := e.enrollment("tablet")

	n, err := e.server.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (PruneCounts{Credentials: 2}); n != want {
		t.Errorf("Prune after the credentials expired = %+v, want %+v", n, want)
	}
	for _, keyID := range []string{used.EABKeyID, unused.KeyID} {
		if _, err := e.backend.EABCredential(ctx, keyID); !errors.Is(err, ErrNotFound) {
			t.Errorf("EABCredential %s after Prune: %v, want ErrNotFound", keyID, err)
		}
	}
	if _, err := e.backend.EABCredential(ctx, live.KeyID); err != nil {
		t.Errorf("EABCredential of the live credential: %v", err)
	}

	e.clock.Advance(time.Hour + time.Minute)
	n, err = e.server.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (PruneCounts{Orders: 1, Credentials: 1}); n != want {
		t.Errorf("Prune after the first order and the last credential expired = %+v, want %+v", n, want)
	}
	e.post(jwsOptions{key: key, kid: kid}, oldOrder, nil).wantProblem(t, http.StatusNotFound, ProblemMalformed)
	e.post(jwsOptions{key: key, kid: kid}, newOrder, nil).wantStatus(t, http.StatusOK)

	var list struct {
		Orders []string `json:"orders"`
	}
	e.post(jwsOptions{key: key, kid: kid}, kid+"/orders", nil).decode(t, &list)
	if len(list.Orders) != 1 || list.Orders[0] != newOrder {
		t.Errorf("orders after Prune = %v, want only %s", list.Orders, newOrder)
	}

	// The account outlives its credential.
	e.post(jwsOptions{key: key, kid: kid}, kid, nil).wantStatus(t, http.StatusOK)
}
