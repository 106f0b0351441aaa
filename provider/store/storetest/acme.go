package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// acmeTests covers the ACMEReader and ACMEWriter methods: accounts, orders
// and certificates.
var acmeTests = slices.Concat(acmeAccountTests, acmeOrderTests, acmeOrderPagingTests, acmeCertificateTests)

// newACMEAccount creates an enrollment keyID for the identity and the ACME
// account id bound to both, with the key thumbprint "tp-<id>".
func newACMEAccount(t *testing.T, st store.Store, identityID int64, keyID, id string) *store.ACMEAccount {
	t.Helper()
	newEnrollment(t, st, identityID, keyID)
	a := &store.ACMEAccount{ID: id, IdentityID: identityID, Thumbprint: "tp-" + id, EABKeyID: keyID, Data: []byte(`{"status":"valid"}`)}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateACMEAccount(ctx, a) })
	return a
}

// newACMEOrder creates a pending order of the account.
func newACMEOrder(t *testing.T, st store.Store, accountID, id, replaces string) *store.ACMEOrder {
	t.Helper()
	o := &store.ACMEOrder{ID: id, AccountID: accountID, Status: "pending", Replaces: replaces,
		Expires: testTime.Add(time.Hour), Data: []byte(`{"order":"` + id + `"}`)}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateACMEOrder(ctx, o) })
	return o
}

// wantACMEAccount fails the test unless got has the fields of want.
func wantACMEAccount(t *testing.T, what string, got, want *store.ACMEAccount) {
	t.Helper()
	if got.ID != want.ID || got.IdentityID != want.IdentityID || got.Thumbprint != want.Thumbprint ||
		got.EABKeyID != want.EABKeyID || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s = %+v, want %+v", what, *got, *want)
	}
}

// wantACMEOrder fails the test unless got has the fields of want.
func wantACMEOrder(t *testing.T, what string, got, want *store.ACMEOrder) {
	t.Helper()
	if got.ID != want.ID || got.AccountID != want.AccountID || got.Status != want.Status || got.Replaces != want.Replaces ||
		!got.Expires.Equal(want.Expires) || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s = %+v, want %+v", what, *got, *want)
	}
	if got.Expires.Location() != time.UTC {
		t.Errorf("%s: Expires is in %v, want UTC", what, got.Expires.Location())
	}
}

var acmeAccountTests = []conformanceTest{
	{"AccountCreateAndRead", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		a := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		ctx := ctxOf(t)

		byID, err := st.ACMEAccount(ctx, "acct-1")
		must(t, "ACMEAccount", err)
		wantACMEAccount(t, "ACMEAccount", byID, a)
		byKey, err := st.ACMEAccountByThumbprint(ctx, "tp-acct-1")
		must(t, "ACMEAccountByThumbprint", err)
		wantACMEAccount(t, "ACMEAccountByThumbprint", byKey, a)
		byEAB, err := st.ACMEAccountByEABKey(ctx, "kid-1")
		must(t, "ACMEAccountByEABKey", err)
		wantACMEAccount(t, "ACMEAccountByEABKey", byEAB, a)
	}},
	{"AccountUniqueColumnsConflict", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		first := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		newEnrollment(t, st, id.ID, "kid-2")
		tests := []struct {
			name string
			a    store.ACMEAccount
		}{
			{"TakenID", store.ACMEAccount{ID: "acct-1", IdentityID: id.ID, Thumbprint: "tp-other", EABKeyID: "kid-2", Data: []byte(`{}`)}},
			{"TakenThumbprint", store.ACMEAccount{ID: "acct-2", IdentityID: id.ID, Thumbprint: "tp-acct-1", EABKeyID: "kid-2", Data: []byte(`{}`)}},
			{"TakenEnrollment", store.ACMEAccount{ID: "acct-2", IdentityID: id.ID, Thumbprint: "tp-other", EABKeyID: "kid-1", Data: []byte(`{}`)}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateACMEAccount(ctx, &tc.a) })
				wantIs(t, "CreateACMEAccount", err, store.ErrConflict)
			})
		}
		got, err := st.ACMEAccount(ctxOf(t), "acct-1")
		must(t, "ACMEAccount after the conflicts", err)
		wantACMEAccount(t, "ACMEAccount after the conflicts", got, first)
		_, err = st.ACMEAccount(ctxOf(t), "acct-2")
		wantIs(t, "ACMEAccount of a rejected account", err, store.ErrNotFound)
	}},
	{"AccountUnknownReferencesAreNotFound", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		newEnrollment(t, st, id.ID, "kid-1")
		tests := []struct {
			name string
			a    store.ACMEAccount
		}{
			{"UnknownIdentity", store.ACMEAccount{ID: "acct-1", IdentityID: id.ID + 999, Thumbprint: "tp-1", EABKeyID: "kid-1", Data: []byte(`{}`)}},
			{"UnknownEnrollment", store.ACMEAccount{ID: "acct-1", IdentityID: id.ID, Thumbprint: "tp-1", EABKeyID: "kid-none", Data: []byte(`{}`)}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateACMEAccount(ctx, &tc.a) })
				wantIs(t, "CreateACMEAccount", err, store.ErrNotFound)
			})
		}
	}},
	{"AccountUpdateReplacesKeyAndData", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		a := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		ctx := ctxOf(t)

		// IdentityID and EABKeyID are not among the columns an update changes.
		changed := &store.ACMEAccount{ID: a.ID, IdentityID: a.IdentityID + 999, Thumbprint: "tp-rolled", EABKeyID: "kid-other", Data: []byte(`{"status":"deactivated"}`)}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UpdateACMEAccount(ctx, changed) })

		want := &store.ACMEAccount{ID: a.ID, IdentityID: a.IdentityID, Thumbprint: "tp-rolled", EABKeyID: a.EABKeyID, Data: changed.Data}
		got, err := st.ACMEAccountByThumbprint(ctx, "tp-rolled")
		must(t, "ACMEAccountByThumbprint of the new key", err)
		wantACMEAccount(t, "account after UpdateACMEAccount", got, want)
		_, err = st.ACMEAccountByThumbprint(ctx, "tp-acct-1")
		wantIs(t, "ACMEAccountByThumbprint of the replaced key", err, store.ErrNotFound)
	}},
	{"AccountUpdateErrors", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		first := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		newACMEAccount(t, st, id.ID, "kid-2", "acct-2")

		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateACMEAccount(ctx, &store.ACMEAccount{ID: "acct-none", Thumbprint: "tp-new", Data: []byte(`{}`)})
		})
		wantIs(t, "UpdateACMEAccount of a missing account", err, store.ErrNotFound)

		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateACMEAccount(ctx, &store.ACMEAccount{ID: "acct-1", Thumbprint: "tp-acct-2", Data: []byte(`{}`)})
		})
		wantIs(t, "UpdateACMEAccount to the thumbprint of another account", err, store.ErrConflict)
		got, err := st.ACMEAccount(ctxOf(t), "acct-1")
		must(t, "ACMEAccount after the rejected update", err)
		wantACMEAccount(t, "ACMEAccount after the rejected update", got, first)
	}},
	{"AccountMissingIsNotFound", func(t *testing.T, st store.Store) {
		ctx := ctxOf(t)
		_, err := st.ACMEAccount(ctx, "acct-none")
		wantIs(t, "ACMEAccount", err, store.ErrNotFound)
		_, err = st.ACMEAccountByThumbprint(ctx, "tp-none")
		wantIs(t, "ACMEAccountByThumbprint", err, store.ErrNotFound)
		_, err = st.ACMEAccountByEABKey(ctx, "kid-none")
		wantIs(t, "ACMEAccountByEABKey", err, store.ErrNotFound)
	}},
	{"ConflictsKeepTxUsable", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		newEnrollment(t, st, id.ID, "kid-2")
		newACMEOrder(t, st, acct.ID, "order-1", "")
		newDevice(t, st, id.ID, "0a")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateACMECertificate(ctx, &store.ACMECertificate{Serial: "0a", AccountID: acct.ID, OrderID: "order-1", Chain: []byte("chain")})
		})

		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			dupAccount := &store.ACMEAccount{ID: "acct-1", IdentityID: id.ID, Thumbprint: "tp-x", EABKeyID: "kid-2", Data: []byte(`{}`)}
			wantIs(t, "CreateACMEAccount of a taken ID", tx.CreateACMEAccount(ctx, dupAccount), store.ErrConflict)
			dupOrder := &store.ACMEOrder{ID: "order-1", AccountID: acct.ID, Status: "pending", Expires: testTime, Data: []byte(`{}`)}
			wantIs(t, "CreateACMEOrder of a taken ID", tx.CreateACMEOrder(ctx, dupOrder), store.ErrConflict)
			dupCert := &store.ACMECertificate{Serial: "0a", AccountID: acct.ID, OrderID: "order-1", Chain: []byte("other")}
			wantIs(t, "CreateACMECertificate of a taken serial", tx.CreateACMECertificate(ctx, dupCert), store.ErrConflict)
			_, err := tx.ACMEOrder(ctx, "order-none")
			wantIs(t, "ACMEOrder of a missing order", err, store.ErrNotFound)
			_, err = tx.ACMECertificate(ctx, "ff")
			wantIs(t, "ACMECertificate of a missing serial", err, store.ErrNotFound)

			dupAccount.ID = "acct-2"
			return tx.CreateACMEAccount(ctx, dupAccount)
		})
		_, err := st.ACMEAccount(ctxOf(t), "acct-2")
		must(t, "ACMEAccount created after the conflicts", err)
	}},
}

var acmeOrderTests = []conformanceTest{
	{"OrderCreateAndRead", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		o := &store.ACMEOrder{ID: "order-1", AccountID: acct.ID, Status: "pending", Replaces: "aki.serial",
			Expires: testTime.In(time.FixedZone("UTC+2", 2*3600)), Data: []byte(`{"identifiers":[]}`)}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateACMEOrder(ctx, o) })

		got, err := st.ACMEOrder(ctxOf(t), "order-1")
		must(t, "ACMEOrder", err)
		want := *o
		want.Expires = testTime
		wantACMEOrder(t, "ACMEOrder", got, &want)
	}},
	{"OrderDuplicateIDConflicts", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		first := newACMEOrder(t, st, acct.ID, "order-1", "")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateACMEOrder(ctx, &store.ACMEOrder{ID: "order-1", AccountID: acct.ID, Status: "ready", Expires: testTime, Data: []byte(`{}`)})
		})
		wantIs(t, "second CreateACMEOrder", err, store.ErrConflict)
		got, err := st.ACMEOrder(ctxOf(t), "order-1")
		must(t, "ACMEOrder", err)
		wantACMEOrder(t, "ACMEOrder after the conflict", got, first)
	}},
	{"OrderUnknownAccountIsNotFound", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateACMEOrder(ctx, &store.ACMEOrder{ID: "order-1", AccountID: "acct-none", Status: "pending", Expires: testTime, Data: []byte(`{}`)})
		})
		wantIs(t, "CreateACMEOrder", err, store.ErrNotFound)
	}},
	{"OrderUpdateNeedsPreviousStatus", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		newACMEOrder(t, st, acct.ID, "order-1", "")
		ctx := ctxOf(t)

		ready := &store.ACMEOrder{ID: "order-1", AccountID: acct.ID, Status: "ready", Replaces: "aki.serial",
			Expires: testTime.Add(2 * time.Hour), Data: []byte(`{"status":"ready"}`)}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UpdateACMEOrder(ctx, ready, "pending") })
		got, err := st.ACMEOrder(ctx, "order-1")
		must(t, "ACMEOrder after the update", err)
		wantACMEOrder(t, "ACMEOrder after the update", got, ready)

		// A second caller that still expects "pending" loses.
		stale := &store.ACMEOrder{ID: "order-1", AccountID: acct.ID, Status: "invalid", Expires: testTime, Data: []byte(`{"status":"invalid"}`)}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UpdateACMEOrder(ctx, stale, "pending") })
		wantIs(t, "UpdateACMEOrder from a status the order left", err, store.ErrConflict)
		got, err = st.ACMEOrder(ctx, "order-1")
		must(t, "ACMEOrder after the rejected update", err)
		wantACMEOrder(t, "ACMEOrder after the rejected update", got, ready)

		missing := &store.ACMEOrder{ID: "order-none", AccountID: acct.ID, Status: "ready", Expires: testTime, Data: []byte(`{}`)}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UpdateACMEOrder(ctx, missing, "pending") })
		wantIs(t, "UpdateACMEOrder of a missing order", err, store.ErrNotFound)
	}},
	{"OrderConcurrentUpdateHasOneWinner", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		newACMEOrder(t, st, acct.ID, "order-1", "")
		errs := concurrently(8, func(i int) error {
			return txErr(t, st, func(ctx context.Context, tx store.Tx) error {
				o := &store.ACMEOrder{ID: "order-1", AccountID: acct.ID, Status: "processing", Expires: testTime, Data: fmt.Appendf(nil, `{"writer":%d}`, i)}
				return tx.UpdateACMEOrder(ctx, o, "pending")
			})
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("updates %d and %d both succeeded, want exactly one", winner, i)
			case err == nil:
				winner = i
			case !isConflict(err):
				t.Errorf("UpdateACMEOrder %d failed with %v, want success or ErrConflict", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no concurrent UpdateACMEOrder succeeded, want exactly one")
		}
		got, err := st.ACMEOrder(ctxOf(t), "order-1")
		must(t, "ACMEOrder", err)
		if want := fmt.Sprintf(`{"writer":%d}`, winner); got.Status != "processing" || string(got.Data) != want {
			t.Errorf("order after the race: status %q, data %s; want processing, %s", got.Status, got.Data, want)
		}
	}},
	{"OrderMissingExpiryRejected", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		newACMEOrder(t, st, acct.ID, "order-1", "")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateACMEOrder(ctx, &store.ACMEOrder{ID: "order-2", AccountID: acct.ID, Status: "pending", Data: []byte(`{}`)})
		})
		if err == nil {
			t.Error("CreateACMEOrder without Expires succeeded, want an error")
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateACMEOrder(ctx, &store.ACMEOrder{ID: "order-1", AccountID: acct.ID, Status: "ready", Data: []byte(`{}`)}, "pending")
		})
		if err == nil {
			t.Error("UpdateACMEOrder without Expires succeeded, want an error")
		}
	}},
	{"OrderMissingIsNotFound", func(t *testing.T, st store.Store) {
		_, err := st.ACMEOrder(ctxOf(t), "order-none")
		wantIs(t, "ACMEOrder", err, store.ErrNotFound)
	}},
	{"OrdersReplacing", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		newACMEOrder(t, st, acct.ID, "order-b", "cert-1")
		newACMEOrder(t, st, acct.ID, "order-c", "cert-2")
		newACMEOrder(t, st, acct.ID, "order-d", "")
		newACMEOrder(t, st, acct.ID, "order-a", "cert-1")
		ctx := ctxOf(t)

		tests := []struct {
			replaces string
			want     []string
		}{
			{"cert-1", []string{"order-b", "order-a"}},
			{"cert-2", []string{"order-c"}},
			{"cert-none", nil},
		}
		for _, tc := range tests {
			list, err := st.ACMEOrdersReplacing(ctx, tc.replaces)
			must(t, "ACMEOrdersReplacing "+tc.replaces, err)
			var got []string
			for _, o := range list {
				got = append(got, o.ID)
				if o.Replaces != tc.replaces || o.AccountID != acct.ID || o.Status != "pending" {
					t.Errorf("ACMEOrdersReplacing(%q) returned %+v", tc.replaces, *o)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ACMEOrdersReplacing(%q) = %v, want %v", tc.replaces, got, tc.want)
			}
		}
		if _, err := st.ACMEOrdersReplacing(ctx, ""); err == nil {
			t.Error(`ACMEOrdersReplacing("") succeeded, want an error for the empty identifier`)
		}
	}},
}

var acmeOrderPagingTests = []conformanceTest{
	{"OrderIDsPaging", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		alice := newACMEAccount(t, st, id.ID, "kid-1", "acct-alice")
		bob := newACMEAccount(t, st, id.ID, "kid-2", "acct-bob")
		// IDs out of alphabetical order, and bob's orders in between, show
		// that pages follow creation within one account.
		for _, o := range []struct{ account, id string }{
			{alice.ID, "o-e"}, {bob.ID, "o-x"}, {alice.ID, "o-c"}, {alice.ID, "o-a"},
			{bob.ID, "o-y"}, {alice.ID, "o-d"}, {alice.ID, "o-b"},
		} {
			newACMEOrder(t, st, o.account, o.id, "")
		}
		ctx := ctxOf(t)

		tests := []struct {
			name, account, after string
			limit                int
			want                 []string
		}{
			{"FirstPage", alice.ID, "", 2, []string{"o-e", "o-c"}},
			{"SecondPage", alice.ID, "o-c", 2, []string{"o-a", "o-d"}},
			{"LastPartialPage", alice.ID, "o-d", 2, []string{"o-b"}},
			{"AfterLast", alice.ID, "o-b", 2, nil},
			{"AllAtOnce", alice.ID, "", 100, []string{"o-e", "o-c", "o-a", "o-d", "o-b"}},
			{"OtherAccount", bob.ID, "", 100, []string{"o-x", "o-y"}},
			{"AccountWithoutOrders", "acct-none", "", 100, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ACMEOrderIDs(ctx, tc.account, tc.after, tc.limit)
				must(t, "ACMEOrderIDs", err)
				if !slices.Equal(got, tc.want) {
					t.Errorf("ACMEOrderIDs(%q, %q, %d) = %v, want %v", tc.account, tc.after, tc.limit, got, tc.want)
				}
			})
		}
	}},
	{"OrderIDsAfterUnknownOrderIsNotFound", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		alice := newACMEAccount(t, st, id.ID, "kid-1", "acct-alice")
		bob := newACMEAccount(t, st, id.ID, "kid-2", "acct-bob")
		newACMEOrder(t, st, alice.ID, "o-alice", "")
		newACMEOrder(t, st, bob.ID, "o-bob", "")
		ctx := ctxOf(t)

		_, err := st.ACMEOrderIDs(ctx, alice.ID, "o-none", 10)
		wantIs(t, "ACMEOrderIDs after a missing order", err, store.ErrNotFound)
		_, err = st.ACMEOrderIDs(ctx, alice.ID, "o-bob", 10)
		wantIs(t, "ACMEOrderIDs after an order of another account", err, store.ErrNotFound)
	}},
	{"OrderIDsLimitMustBePositive", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		acct := newACMEAccount(t, st, id.ID, "kid-1", "acct-1")
		newACMEOrder(t, st, acct.ID, "order-1", "")
		for _, limit := range []int{0, -1} {
			if ids, err := st.ACMEOrderIDs(ctxOf(t), acct.ID, "", limit); err == nil {
				t.Errorf("ACMEOrderIDs with limit %d = %v, want an error", limit, ids)
			}
		}
	}},
}

var acmeCertificateTests = []conformanceTest{
	{"CertificateCreateAndRead", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		newDevice(t, st, id.ID, "0a1b")
		c := &store.ACMECertificate{Serial: "0a1b", AccountID: "acct-1", OrderID: "order-1", Chain: []byte("-----BEGIN CERTIFICATE-----\n")}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateACMECertificate(ctx, c) })

		got, err := st.ACMECertificate(ctxOf(t), "0a1b")
		must(t, "ACMECertificate", err)
		if got.Serial != c.Serial || got.AccountID != c.AccountID || got.OrderID != c.OrderID || !bytes.Equal(got.Chain, c.Chain) {
			t.Errorf("ACMECertificate = %+v, want %+v", *got, *c)
		}
	}},
	{"CertificateDuplicateSerialConflicts", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		newDevice(t, st, id.ID, "0a")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateACMECertificate(ctx, &store.ACMECertificate{Serial: "0a", AccountID: "acct-1", OrderID: "order-1", Chain: []byte("first")})
		})
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateACMECertificate(ctx, &store.ACMECertificate{Serial: "0a", AccountID: "acct-2", OrderID: "order-2", Chain: []byte("second")})
		})
		wantIs(t, "second CreateACMECertificate", err, store.ErrConflict)
		got, err := st.ACMECertificate(ctxOf(t), "0a")
		must(t, "ACMECertificate", err)
		if string(got.Chain) != "first" || got.OrderID != "order-1" {
			t.Errorf("certificate after the conflict: order %q, chain %q; want order-1, first", got.OrderID, got.Chain)
		}
	}},
	{"CertificateUnknownDeviceIsNotFound", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateACMECertificate(ctx, &store.ACMECertificate{Serial: "ff", AccountID: "acct-1", OrderID: "order-1", Chain: []byte("chain")})
		})
		wantIs(t, "CreateACMECertificate", err, store.ErrNotFound)
	}},
	{"CertificateMissingIsNotFound", func(t *testing.T, st store.Store) {
		_, err := st.ACMECertificate(ctxOf(t), "ff")
		wantIs(t, "ACMECertificate", err, store.ErrNotFound)
	}},
}
