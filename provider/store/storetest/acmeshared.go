package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// acmeSharedTests covers the ACMESharedReader and ACMESharedWriter methods:
// the shared secrets, the used nonces and the deletion of expired ACME
// rows.
var acmeSharedTests = []conformanceTest{
	{"SecretCreatedOnce", func(t *testing.T, st store.Store) {
		_, err := st.ACMESecret(ctxOf(t), "nonce")
		wantIs(t, "ACMESecret before CreateACMESecret", err, store.ErrNotFound)

		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateACMESecret(ctx, "nonce", []byte("sealed one"))
		})
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			wantIs(t, "second CreateACMESecret", tx.CreateACMESecret(ctx, "nonce", []byte("sealed two")), store.ErrConflict)
			// The conflict leaves the transaction usable.
			return tx.CreateACMESecret(ctx, "other", []byte("sealed three"))
		})

		for name, want := range map[string]string{"nonce": "sealed one", "other": "sealed three"} {
			got, err := st.ACMESecret(ctxOf(t), name)
			must(t, "ACMESecret "+name, err)
			if !bytes.Equal(got, []byte(want)) {
				t.Errorf("ACMESecret %s = %q, want %q", name, got, want)
			}
		}
	}},
	{"NonceUsedOnce", func(t *testing.T, st store.Store) {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseACMENonce(ctx, "n-1", testTime) })
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			wantIs(t, "second UseACMENonce", tx.UseACMENonce(ctx, "n-1", testTime.Add(time.Hour)), store.ErrConflict)
			// The conflict leaves the transaction usable.
			return tx.UseACMENonce(ctx, "n-2", testTime)
		})
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseACMENonce(ctx, "n-2", testTime) })
		wantIs(t, "UseACMENonce of the nonce used in the same transaction as a conflict", err, store.ErrConflict)
	}},
	{"NonceUseRolledBack", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.UseACMENonce(ctx, "n-1", testTime); err != nil {
				return err
			}
			return errRollback
		})
		wantIs(t, "InTx", err, errRollback)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseACMENonce(ctx, "n-1", testTime) })
	}},
	{"NonceWithoutExpiryRejected", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseACMENonce(ctx, "n-1", time.Time{}) })
		if err == nil {
			t.Fatal("UseACMENonce with a zero expiry time succeeded")
		}
	}},
	{"DeleteExpiredKeepsLiveRows", testDeleteExpiredACME},
	{"DeleteExpiredInBatches", testDeleteExpiredACMEBatches},
	{"DeleteExpiredArguments", func(t *testing.T, st store.Store) {
		tests := []struct {
			name   string
			before time.Time
			limit  int
		}{
			{"ZeroTime", time.Time{}, 10},
			{"ZeroLimit", testTime, 0},
			{"NegativeLimit", testTime, -1},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
					_, err := tx.DeleteExpiredACME(ctx, tc.before, tc.limit)
					return err
				})
				if err == nil {
					t.Errorf("DeleteExpiredACME(%v, %d) succeeded", tc.before, tc.limit)
				}
			})
		}
	}},
}

// testDeleteExpiredACME fills the store with ACME rows on both sides of the
// cut-off time and checks which ones DeleteExpiredACME removes.
func testDeleteExpiredACME(t *testing.T, st store.Store) {
	cutoff := testTime
	past, future := cutoff.Add(-time.Second), cutoff.Add(time.Hour)
	id := newIdentity(t, st, "alice.dhp.test")

	enrollment := func(keyID string, expires time.Time) {
		e := &store.Enrollment{KeyID: keyID, IdentityID: id.ID, Label: "phone", MACKeyHash: []byte("sealed " + keyID), ExpiresAt: expires}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateEnrollment(ctx, e) })
	}
	account := func(keyID, accountID string, expires time.Time) {
		enrollment(keyID, expires)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.UseEnrollment(ctx, keyID, past.Add(-time.Hour)); err != nil {
				return err
			}
			return tx.CreateACMEAccount(ctx, &store.ACMEAccount{ID: accountID, IdentityID: id.ID, Thumbprint: "tp-" + accountID, EABKeyID: keyID, Data: []byte(`{}`)})
		})
	}
	enrollment("unused-expired", past)
	enrollment("unused-live", future)
	account("used-expired", "acct-1", past)
	account("used-live", "acct-2", future)

	order := func(orderID, status string, expires time.Time) {
		o := &store.ACMEOrder{ID: orderID, AccountID: "acct-1", Status: status, Expires: expires, Data: []byte(`{}`)}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateACMEOrder(ctx, o) })
	}
	order("order-valid-expired", "valid", past)
	order("order-processing-expired", "processing", past)
	order("order-ready-live", "ready", future)
	order("order-at-cutoff", "ready", cutoff)

	newDevice(t, st, id.ID, "0a")
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateACMECertificate(ctx, &store.ACMECertificate{Serial: "0a", AccountID: "acct-1", OrderID: "order-valid-expired", Chain: []byte("chain")}); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, store.AuditEntry{At: past.Add(-time.Hour), Actor: "acme:acct-1", Action: "device.issue", Subject: "alice.dhp.test"}); err != nil {
			return err
		}
		if err := tx.UseACMENonce(ctx, "nonce-expired", past); err != nil {
			return err
		}
		return tx.UseACMENonce(ctx, "nonce-live", future)
	})

	var got store.ACMEPruned
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, err = tx.DeleteExpiredACME(ctx, cutoff, 100)
		return err
	})
	want := store.ACMEPruned{Orders: 2, Enrollments: 1, EnrollmentKeys: 1, Nonces: 1}
	if got != want {
		t.Errorf("DeleteExpiredACME = %+v, want %+v", got, want)
	}

	ctx := ctxOf(t)
	for _, orderID := range []string{"order-valid-expired", "order-processing-expired"} {
		_, err := st.ACMEOrder(ctx, orderID)
		wantIs(t, "ACMEOrder "+orderID, err, store.ErrNotFound)
	}
	for _, orderID := range []string{"order-ready-live", "order-at-cutoff"} {
		_, err := st.ACMEOrder(ctx, orderID)
		must(t, "ACMEOrder "+orderID, err)
	}
	ids, err := st.ACMEOrderIDs(ctx, "acct-1", "", 10)
	must(t, "ACMEOrderIDs", err)
	if fmt.Sprint(ids) != "[order-ready-live order-at-cutoff]" {
		t.Errorf("ACMEOrderIDs after the deletion = %v, want [order-ready-live order-at-cutoff]", ids)
	}

	_, err = st.Enrollment(ctx, "unused-expired")
	wantIs(t, "Enrollment unused-expired", err, store.ErrNotFound)
	enrollments := []struct {
		keyID   string
		wantKey bool
	}{
		{"unused-live", true},
		{"used-expired", false},
		{"used-live", true},
	}
	for _, e := range enrollments {
		got, err := st.Enrollment(ctx, e.keyID)
		must(t, "Enrollment "+e.keyID, err)
		if hasKey := got.MACKeyHash != nil; hasKey != e.wantKey {
			t.Errorf("Enrollment %s has key %q, want a key: %t", e.keyID, got.MACKeyHash, e.wantKey)
		}
	}
	for _, a := range []string{"acct-1", "acct-2"} {
		_, err := st.ACMEAccount(ctx, a)
		must(t, "ACMEAccount "+a, err)
	}
	_, err = st.ACMEAccountByEABKey(ctx, "used-expired")
	must(t, "ACMEAccountByEABKey of the erased enrollment", err)
	_, err = st.DeviceBySerial(ctx, "0a")
	must(t, "DeviceBySerial", err)
	_, err = st.ACMECertificate(ctx, "0a")
	must(t, "ACMECertificate", err)
	audit, err := st.Audit(ctx, 10)
	must(t, "Audit", err)
	if len(audit) != 1 {
		t.Errorf("audit log has %d entries after the deletion, want 1", len(audit))
	}

	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		wantIs(t, "UseACMENonce of the live nonce", tx.UseACMENonce(ctx, "nonce-live", future), store.ErrConflict)
		// The record of the expired nonce is gone, so it is accepted again.
		// Callers reject an expired nonce before they record it.
		return tx.UseACMENonce(ctx, "nonce-expired", past)
	})

	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, err = tx.DeleteExpiredACME(ctx, cutoff, 100)
		return err
	})
	if want := (store.ACMEPruned{Nonces: 1}); got != want {
		t.Errorf("second DeleteExpiredACME = %+v, want %+v", got, want)
	}
}

// testDeleteExpiredACMEBatches checks that DeleteExpiredACME removes at most
// limit rows of each kind, and the rest in later calls.
func testDeleteExpiredACMEBatches(t *testing.T, st store.Store) {
	id := newIdentity(t, st, "alice.dhp.test")
	acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		for i := range 5 {
			o := &store.ACMEOrder{ID: fmt.Sprintf("order-%d", i), AccountID: acct.ID, Status: "ready", Expires: testTime, Data: []byte(`{}`)}
			if err := tx.CreateACMEOrder(ctx, o); err != nil {
				return err
			}
			if err := tx.UseACMENonce(ctx, fmt.Sprintf("nonce-%d", i), testTime); err != nil {
				return err
			}
		}
		return nil
	})

	var batches []store.ACMEPruned
	for range 4 {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			p, err := tx.DeleteExpiredACME(ctx, testTime.Add(time.Second), 2)
			batches = append(batches, p)
			return err
		})
	}
	want := []store.ACMEPruned{{Orders: 2, Nonces: 2}, {Orders: 2, Nonces: 2}, {Orders: 1, Nonces: 1}, {}}
	if fmt.Sprint(batches) != fmt.Sprint(want) {
		t.Errorf("DeleteExpiredACME with limit 2, four times = %+v, want %+v", batches, want)
	}
	ids, err := st.ACMEOrderIDs(ctxOf(t), acct.ID, "", 10)
	must(t, "ACMEOrderIDs", err)
	if len(ids) != 0 {
		t.Errorf("orders left after the batches: %v", ids)
	}
}
