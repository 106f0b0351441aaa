package web_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/web"
)

// newSealer returns a sealer with a random key-encryption key.
func newSealer(t *testing.T) *store.Sealer {
	t.Helper()
	kek := make([]byte, store.KEKSize)
	_, _ = rand.Read(kek)
	sealer, err := store.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	return sealer
}

// replica starts another *web.Web on the world's store, with the session
// key that the store keeps, as a restarted process or a second replica
// would, and returns a browser of it that carries no cookie.
func (w *world) replica(sealer *store.Sealer) *browser {
	t := w.t
	key, err := web.LoadSessionKey(t.Context(), w.svc.Store, sealer, nil)
	if err != nil {
		t.Fatalf("LoadSessionKey: %v", err)
	}
	pages, err := web.New(web.Config{Provider: w.svc, Store: w.svc.Store, SessionKey: key, Zones: []string{"dhp.test."}, Now: w.clock.Now})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	srv := httptest.NewTLSServer(pages.Handler())
	t.Cleanup(srv.Close)
	b := w.browser()
	b.base = srv.URL
	return b
}

// getWithSession sends GET path to b's server with the session cookie
// value only.
func (b *browser) getWithSession(path, cookie string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: cookie})
	return b.do(req)
}

func TestSessionsSharedThroughStore(t *testing.T) {
	t.Parallel()
	sealer := newSealer(t)
	w := newWorld(t, func(c *web.Config) {
		key, err := web.LoadSessionKey(t.Context(), c.Store, sealer, nil)
		if err != nil {
			t.Fatalf("LoadSessionKey: %v", err)
		}
		c.SessionKey = key
	})
	alice := w.browser()
	alice.signUp("alice", testPassword)
	bob := w.browser()
	bob.signUp("bob", testPassword)
	aliceCookie, bobCookie := alice.sessionCookie(), bob.sessionCookie()

	// A second replica on the store accepts the sessions of the first.
	second := w.replica(sealer)
	if resp := second.getWithSession("/", aliceCookie); resp.StatusCode != http.StatusOK {
		t.Fatalf("second replica with alice's session: %s, want the home page", resp.Status)
	}

	// Alice signs out at the first replica: the second rejects her cookie.
	if resp := alice.submit("/", "/signout", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %s", resp.Status)
	}
	wantRedirectToSignIn(t, second.getWithSession("/", aliceCookie))

	// A restarted process on the same store rejects it too, and keeps
	// bob's session, which did not sign out.
	restarted := w.replica(sealer)
	wantRedirectToSignIn(t, restarted.getWithSession("/", aliceCookie))
	if resp := restarted.getWithSession("/", bobCookie); resp.StatusCode != http.StatusOK {
		t.Errorf("restarted process with bob's session: %s, want the home page", resp.Status)
	}
}

func TestLoadSessionKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	open := func(t *testing.T) store.Store {
		st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "keys.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	sealer := newSealer(t)
	sealKey := func(t *testing.T, key []byte, purpose string) []byte {
		sealed, err := sealer.Seal(key, purpose)
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}

	t.Run("created once", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		first, err := web.LoadSessionKey(ctx, st, sealer, nil)
		if err != nil || len(first) != web.SessionKeySize {
			t.Fatalf("LoadSessionKey = %x, %v; want a %d-byte key", first, err, web.SessionKeySize)
		}
		again, err := web.LoadSessionKey(ctx, st, sealer, nil)
		if err != nil || !bytes.Equal(again, first) {
			t.Errorf("second LoadSessionKey = %x, %v; want the stored key %x", again, err, first)
		}
	})
	t.Run("legacy key imported", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		legacy := bytes.Repeat([]byte{1}, web.SessionKeySize)
		got, err := web.LoadSessionKey(ctx, st, sealer, sealKey(t, legacy, web.SessionKeyPurpose))
		if err != nil || !bytes.Equal(got, legacy) {
			t.Fatalf("LoadSessionKey with a legacy key = %x, %v; want %x", got, err, legacy)
		}
		other := bytes.Repeat([]byte{2}, web.SessionKeySize)
		got, err = web.LoadSessionKey(ctx, st, sealer, sealKey(t, other, web.SessionKeyPurpose))
		if err != nil || !bytes.Equal(got, legacy) {
			t.Errorf("LoadSessionKey with another legacy key = %x, %v; want the stored key %x", got, err, legacy)
		}
	})
	t.Run("legacy key for another purpose", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		_, err := web.LoadSessionKey(ctx, st, sealer, sealKey(t, bytes.Repeat([]byte{3}, web.SessionKeySize), "other"))
		var sealErr *store.SealedValueError
		if !errors.As(err, &sealErr) {
			t.Fatalf("LoadSessionKey = %v, want a *store.SealedValueError", err)
		}
		if _, err := st.WebSecret(ctx, "session-key"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("WebSecret after a rejected import = %v, want ErrNotFound", err)
		}
	})
	t.Run("legacy key of another length", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		if _, err := web.LoadSessionKey(ctx, st, sealer, sealKey(t, []byte("short"), web.SessionKeyPurpose)); err == nil {
			t.Error("LoadSessionKey accepted a 5-byte legacy key")
		}
	})
	t.Run("another key-encryption key", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		if _, err := web.LoadSessionKey(ctx, st, sealer, nil); err != nil {
			t.Fatal(err)
		}
		_, err := web.LoadSessionKey(ctx, st, newSealer(t), nil)
		var sealErr *store.SealedValueError
		if !errors.As(err, &sealErr) {
			t.Errorf("LoadSessionKey with another KEK = %v, want a *store.SealedValueError", err)
		}
	})
}
