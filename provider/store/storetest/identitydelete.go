package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// identityRows creates, for the identity, a device with an ACME
// certificate, an ACME account with an order, an unused enrollment, an
// approved grant with a token, and a consent of its account. prefix
// keeps the keys of two calls apart.
func identityRows(t *testing.T, st store.Store, ident *store.Identity, prefix string) {
	t.Helper()
	d := newDevice(t, st, ident.ID, prefix+"01")
	acct := newACMEAccount(t, st, ident.ID, prefix+"-kid", prefix+"-acct")
	o := newACMEOrder(t, st, acct.ID, prefix+"-order", "")
	newEnrollment(t, st, ident.ID, prefix+"-unused")
	req := &store.OIDCAuthRequest{ID: prefix + "-grant", ClientID: "client-1", Data: []byte(`{}`), CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateACMECertificate(ctx, &store.ACMECertificate{Serial: d.Serial, AccountID: acct.ID, OrderID: o.ID, Chain: []byte("chain")}); err != nil {
			return err
		}
		if err := tx.CreateOIDCAuthRequest(ctx, req); err != nil {
			return err
		}
		if err := tx.ApproveOIDCAuthRequest(ctx, req.ID, ident.ID, testTime, testTime); err != nil {
			return err
		}
		return tx.PutOIDCConsent(ctx, store.OIDCConsent{AccountID: ident.AccountID, ClientID: "client-1", IdentityID: ident.ID})
	})
	newToken(t, st, prefix+"-token", "access", req.ID, ident.ID)
}

var identityDeleteTests = []conformanceTest{
	{"DeletesEverythingOfIt", func(t *testing.T, st store.Store) {
		deleted := newIdentity(t, st, "deleted.dhp.test")
		other := newIdentity(t, st, "other.dhp.test")
		identityRows(t, st, deleted, "aa")
		identityRows(t, st, other, "bb")

		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.DeleteIdentity(ctx, deleted.ID) })
		ctx := ctxOf(t)

		_, err := st.IdentityByHandle(ctx, "deleted.dhp.test")
		wantIs(t, "IdentityByHandle of the deleted identity", err, store.ErrNotFound)
		for rowKind, err := range identityRowErrors(ctx, st, deleted, "aa") {
			wantIs(t, "the deleted identity's "+rowKind, err, store.ErrNotFound)
		}

		if _, err := st.IdentityByHandle(ctx, "other.dhp.test"); err != nil {
			t.Errorf("the other identity: %v", err)
		}
		for rowKind, err := range identityRowErrors(ctx, st, other, "bb") {
			if err != nil {
				t.Errorf("the other identity's %s: %v", rowKind, err)
			}
		}

		// The handle is free for a new identity, with another DID.
		again := &store.Identity{AccountID: other.AccountID, Handle: "deleted.dhp.test", DID: "did:key:znew", Hosted: true, CreatedAt: testTime}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateIdentity(ctx, again) })
	}},
	{"MissingIsNotFound", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.DeleteIdentity(ctx, 4242) })
		wantIs(t, "DeleteIdentity", err, store.ErrNotFound)
	}},
	{"AccountOnlyWithoutIdentities", func(t *testing.T, st store.Store) {
		ident := newIdentity(t, st, "alice.dhp.test")
		other := newAccount(t, st, "bob")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.PutOIDCConsent(ctx, store.OIDCConsent{AccountID: ident.AccountID, ClientID: "client-1", IdentityID: ident.ID}); err != nil {
				return err
			}
			return tx.PutOIDCConsent(ctx, store.OIDCConsent{AccountID: other.ID, ClientID: "client-1", IdentityID: ident.ID})
		})

		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.DeleteAccount(ctx, ident.AccountID) })
		wantIs(t, "DeleteAccount with an identity", err, store.ErrConflict)
		if _, err := st.AccountByID(ctxOf(t), ident.AccountID); err != nil {
			t.Errorf("the rejected deletion removed the account: %v", err)
		}

		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.DeleteIdentity(ctx, ident.ID); err != nil {
				return err
			}
			return tx.DeleteAccount(ctx, ident.AccountID)
		})
		_, err = st.AccountByID(ctxOf(t), ident.AccountID)
		wantIs(t, "AccountByID after DeleteAccount", err, store.ErrNotFound)
		_, err = st.OIDCConsent(ctxOf(t), ident.AccountID, "client-1")
		wantIs(t, "consent of the deleted account", err, store.ErrNotFound)
		if _, err := st.AccountByID(ctxOf(t), other.ID); err != nil {
			t.Errorf("the other account: %v", err)
		}

		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.DeleteAccount(ctx, ident.AccountID) })
		wantIs(t, "DeleteAccount again", err, store.ErrNotFound)
	}},
}

// identityRowErrors reads each row that identityRows made for ident with
// prefix and returns the error of each read by the kind of row.
func identityRowErrors(ctx context.Context, st store.Store, ident *store.Identity, prefix string) map[string]error {
	return map[string]error{
		"device":           errOf(st.DeviceBySerial(ctx, prefix+"01")),
		"ACME certificate": errOf(st.ACMECertificate(ctx, prefix+"01")),
		"ACME account":     errOf(st.ACMEAccount(ctx, prefix+"-acct")),
		"ACME order":       errOf(st.ACMEOrder(ctx, prefix+"-order")),
		"enrollment":       errOf(st.Enrollment(ctx, prefix+"-unused")),
		"grant":            errOf(st.OIDCAuthRequest(ctx, prefix+"-grant")),
		"token":            errOf(st.OIDCToken(ctx, prefix+"-token")),
		"consent":          errOf(st.OIDCConsent(ctx, ident.AccountID, "client-1")),
	}
}

// errOf returns the error of a two-result call.
func errOf[T any](_ T, err error) error { return err }
