package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// revoked returns WebSessionRevoked of id and fails the test on an error.
func revoked(t *testing.T, st store.Reader, id string) bool {
	t.Helper()
	listed, err := st.WebSessionRevoked(ctxOf(t), id)
	must(t, "WebSessionRevoked "+id, err)
	return listed
}

var webSessionTests = []conformanceTest{
	{"RevokeAndRead", func(t *testing.T, st store.Store) {
		if revoked(t, st, "s1") {
			t.Fatal("a session never revoked is listed as revoked")
		}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.RevokeWebSession(ctx, "s1", testTime.Add(time.Hour))
		})
		if !revoked(t, st, "s1") {
			t.Error("a revoked session is not listed")
		}
		if revoked(t, st, "s2") {
			t.Error("another session is listed after revoking s1")
		}
	}},
	{"RevokeTwiceKeepsLaterExpiry", func(t *testing.T, st store.Store) {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.RevokeWebSession(ctx, "s1", testTime.Add(2*time.Hour)); err != nil {
				return err
			}
			return tx.RevokeWebSession(ctx, "s1", testTime.Add(time.Hour))
		})
		// Had the second call shortened the expiry, this deletion would
		// remove the entry.
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			n, err := tx.DeleteExpiredWebSessions(ctx, testTime.Add(90*time.Minute))
			if n != 0 {
				t.Errorf("DeleteExpiredWebSessions removed %d entries, want 0", n)
			}
			return err
		})
		if !revoked(t, st, "s1") {
			t.Error("the second revocation with an earlier expiry shortened the entry")
		}
	}},
	{"DeleteExpired", func(t *testing.T, st store.Store) {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.RevokeWebSession(ctx, "old", testTime.Add(-time.Minute)); err != nil {
				return err
			}
			return tx.RevokeWebSession(ctx, "current", testTime.Add(time.Minute))
		})
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			n, err := tx.DeleteExpiredWebSessions(ctx, testTime)
			if n != 1 {
				t.Errorf("DeleteExpiredWebSessions removed %d entries, want 1", n)
			}
			return err
		})
		if revoked(t, st, "old") {
			t.Error("the expired entry is still listed")
		}
		if !revoked(t, st, "current") {
			t.Error("the entry that has not expired was deleted")
		}
	}},
	{"MissingExpiryRejected", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.RevokeWebSession(ctx, "s1", time.Time{})
		})
		if err == nil {
			t.Error("RevokeWebSession without an expiry succeeded, want an error")
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.DeleteExpiredWebSessions(ctx, time.Time{})
			return err
		})
		if err == nil {
			t.Error("DeleteExpiredWebSessions without a time succeeded, want an error")
		}
	}},
	{"RevocationRollsBack", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.RevokeWebSession(ctx, "s1", testTime); err != nil {
				return err
			}
			return errRollback
		})
		wantIs(t, "InTx", err, errRollback)
		if revoked(t, st, "s1") {
			t.Error("a revocation in a rolled-back transaction is listed")
		}
	}},
	{"SecretCreatedOnce", func(t *testing.T, st store.Store) {
		_, err := st.WebSecret(ctxOf(t), "session-key")
		wantIs(t, "WebSecret before creation", err, store.ErrNotFound)

		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateWebSecret(ctx, "session-key", []byte("sealed one"))
		})
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateWebSecret(ctx, "session-key", []byte("sealed two"))
		})
		wantIs(t, "second CreateWebSecret", err, store.ErrConflict)

		got, err := st.WebSecret(ctxOf(t), "session-key")
		must(t, "WebSecret", err)
		if !bytes.Equal(got, []byte("sealed one")) {
			t.Errorf("WebSecret = %q, want the first value %q", got, "sealed one")
		}
	}},
}
