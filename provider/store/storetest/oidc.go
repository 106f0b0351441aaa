package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// newGrant creates an identity and an approved authorization request with
// the code hash "code-<id>" for it.
func newGrant(t *testing.T, st store.Store, id string) (*store.Identity, *store.OIDCAuthRequest) {
	t.Helper()
	ident := newIdentity(t, st, id+".dhp.test")
	req := &store.OIDCAuthRequest{ID: id, ClientID: "client-1", Data: []byte(`{"scope":"openid"}`), CreatedAt: testTime, ExpiresAt: testTime.Add(10 * time.Minute)}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateOIDCAuthRequest(ctx, req); err != nil {
			return err
		}
		if err := tx.ApproveOIDCAuthRequest(ctx, id, ident.ID, testTime.Add(time.Minute), testTime.Add(-time.Hour)); err != nil {
			return err
		}
		return tx.SetOIDCCode(ctx, id, "code-"+id, testTime.Add(2*time.Minute))
	})
	return ident, req
}

// newToken stores a token of kind for the grant and identity.
func newToken(t *testing.T, st store.Store, id, kind, grant string, identityID int64) *store.OIDCToken {
	t.Helper()
	tok := &store.OIDCToken{ID: id, Kind: kind, GrantID: grant, ClientID: "client-1", IdentityID: identityID,
		JKT: "jkt-" + id, Data: []byte(`{}`), CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateOIDCToken(ctx, tok) })
	return tok
}

var oidcClientTests = []conformanceTest{
	{"CreateAndRead", func(t *testing.T, st store.Store) {
		confidential := &store.OIDCClient{ID: "c1", SecretHash: []byte{1, 2, 3}, Data: []byte(`{"name":"one"}`), CreatedAt: testTime}
		public := &store.OIDCClient{ID: "c2", Data: []byte(`{}`)}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateOIDCClient(ctx, confidential); err != nil {
				return err
			}
			return tx.CreateOIDCClient(ctx, public)
		})
		got, err := st.OIDCClient(ctxOf(t), "c1")
		must(t, "OIDCClient c1", err)
		if !bytes.Equal(got.SecretHash, confidential.SecretHash) || !bytes.Equal(got.Data, confidential.Data) || !got.CreatedAt.Equal(testTime) {
			t.Errorf("read client %+v, want %+v", got, confidential)
		}
		got, err = st.OIDCClient(ctxOf(t), "c2")
		must(t, "OIDCClient c2", err)
		if got.SecretHash != nil {
			t.Errorf("public client has secret hash %x, want nil", got.SecretHash)
		}
		if got.CreatedAt.IsZero() {
			t.Error("CreatedAt of a client created with a zero time is zero, want the time of creation")
		}
	}},
	{"DuplicateConflicts", func(t *testing.T, st store.Store) {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCClient(ctx, &store.OIDCClient{ID: "c1", Data: []byte(`{}`)})
		})
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCClient(ctx, &store.OIDCClient{ID: "c1", Data: []byte(`{}`)})
		})
		wantIs(t, "second CreateOIDCClient", err, store.ErrConflict)
	}},
	{"MissingIsNotFound", func(t *testing.T, st store.Store) {
		_, err := st.OIDCClient(ctxOf(t), "nobody")
		wantIs(t, "OIDCClient", err, store.ErrNotFound)
	}},
}

var oidcAuthRequestTests = []conformanceTest{
	{"CreateApproveAndRead", func(t *testing.T, st store.Store) {
		ident, req := newGrant(t, st, "req1")
		got, err := st.OIDCAuthRequest(ctxOf(t), "req1")
		must(t, "OIDCAuthRequest", err)
		if got.ClientID != req.ClientID || got.IdentityID != ident.ID || !bytes.Equal(got.Data, req.Data) || got.CodeHash != "code-req1" {
			t.Errorf("read request %+v, want client %q, identity %d, data %q and code hash %q", got, req.ClientID, ident.ID, req.Data, "code-req1")
		}
		if !got.CreatedAt.Equal(testTime) || !got.ExpiresAt.Equal(testTime.Add(10*time.Minute)) ||
			!got.ApprovedAt.Equal(testTime.Add(time.Minute)) || !got.CodeExpiresAt.Equal(testTime.Add(2*time.Minute)) {
			t.Errorf("read times %+v, want created, expiry, approval and code expiry as stored", got)
		}
		if !got.AuthTime.Equal(testTime.Add(-time.Hour)) {
			t.Errorf("AuthTime %v, want the sign-in time %v given to ApproveOIDCAuthRequest", got.AuthTime, testTime.Add(-time.Hour))
		}
		if !got.CodeUsedAt.IsZero() || !got.RevokedAt.IsZero() {
			t.Errorf("new request has CodeUsedAt %v and RevokedAt %v, want zero times", got.CodeUsedAt, got.RevokedAt)
		}
		byCode, err := st.OIDCAuthRequestByCode(ctxOf(t), "code-req1")
		must(t, "OIDCAuthRequestByCode", err)
		if byCode.ID != "req1" {
			t.Errorf("OIDCAuthRequestByCode returned request %q, want req1", byCode.ID)
		}
	}},
	{"PendingRequestHasNoIdentity", func(t *testing.T, st store.Store) {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: "r", ClientID: "c", Data: []byte(`{}`), ExpiresAt: testTime})
		})
		got, err := st.OIDCAuthRequest(ctxOf(t), "r")
		must(t, "OIDCAuthRequest", err)
		if got.IdentityID != 0 || got.CodeHash != "" || !got.ApprovedAt.IsZero() || !got.AuthTime.IsZero() {
			t.Errorf("pending request %+v, want no identity, code, approval or sign-in time", got)
		}
	}},
	{"MissingExpiryRejected", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: "r", ClientID: "c", Data: []byte(`{}`)})
		})
		if err == nil {
			t.Error("CreateOIDCAuthRequest without an expiry succeeded, want an error")
		}
	}},
	{"ApproveOnce", func(t *testing.T, st store.Store) {
		ident, _ := newGrant(t, st, "req1")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.ApproveOIDCAuthRequest(ctx, "req1", ident.ID, testTime, testTime)
		})
		wantIs(t, "second ApproveOIDCAuthRequest", err, store.ErrConflict)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.ApproveOIDCAuthRequest(ctx, "nothing", ident.ID, testTime, testTime)
		})
		wantIs(t, "ApproveOIDCAuthRequest of a missing request", err, store.ErrNotFound)
	}},
	{"CodeNeedsApprovalAndIsSetOnce", func(t *testing.T, st store.Store) {
		newGrant(t, st, "req1")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: "pending", ClientID: "c", Data: []byte(`{}`), ExpiresAt: testTime})
		})
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.SetOIDCCode(ctx, "pending", "code-x", testTime)
		})
		wantIs(t, "SetOIDCCode of a request not approved", err, store.ErrConflict)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.SetOIDCCode(ctx, "req1", "code-y", testTime)
		})
		wantIs(t, "second SetOIDCCode", err, store.ErrConflict)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.SetOIDCCode(ctx, "nothing", "code-z", testTime)
		})
		wantIs(t, "SetOIDCCode of a missing request", err, store.ErrNotFound)
	}},
	{"CodeIsUsedOnce", func(t *testing.T, st store.Store) {
		newGrant(t, st, "req1")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseOIDCCode(ctx, "code-req1", testTime) })
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseOIDCCode(ctx, "code-req1", testTime) })
		wantIs(t, "second UseOIDCCode", err, store.ErrConflict)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseOIDCCode(ctx, "code-none", testTime) })
		wantIs(t, "UseOIDCCode of an unknown code", err, store.ErrNotFound)
		_, err = st.OIDCAuthRequestByCode(ctxOf(t), "code-none")
		wantIs(t, "OIDCAuthRequestByCode of an unknown code", err, store.ErrNotFound)
		got, err := st.OIDCAuthRequestByCode(ctxOf(t), "code-req1")
		must(t, "OIDCAuthRequestByCode", err)
		if !got.CodeUsedAt.Equal(testTime) {
			t.Errorf("CodeUsedAt %v, want %v", got.CodeUsedAt, testTime)
		}
	}},
	{"ConcurrentCodeUseHasOneWinner", func(t *testing.T, st store.Store) {
		newGrant(t, st, "req1")
		const callers = 8
		errs := make(chan error, callers)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				errs <- st.InTx(ctxOf(t), func(tx store.Tx) error { return tx.UseOIDCCode(ctxOf(t), "code-req1", testTime) })
			})
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			if err == nil {
				wins++
				continue
			}
			wantIs(t, "concurrent UseOIDCCode", err, store.ErrConflict)
		}
		if wins != 1 {
			t.Errorf("%d of %d concurrent UseOIDCCode calls succeeded, want exactly 1", wins, callers)
		}
	}},
	{"RevokeGrantRevokesTokens", func(t *testing.T, st store.Store) {
		ident, _ := newGrant(t, st, "req1")
		newToken(t, st, "at1", store.OIDCAccessToken, "req1", ident.ID)
		revokedAt := testTime.Add(time.Hour)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RevokeOIDCGrant(ctx, "req1", revokedAt) })
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.RevokeOIDCGrant(ctx, "req1", revokedAt.Add(time.Hour))
		})

		// A token stored after the revocation reads as revoked too.
		newToken(t, st, "at2", store.OIDCAccessToken, "req1", ident.ID)
		for _, id := range []string{"at1", "at2"} {
			tok, err := st.OIDCToken(ctxOf(t), id)
			must(t, "OIDCToken "+id, err)
			if !tok.RevokedAt.Equal(revokedAt) {
				t.Errorf("token %s RevokedAt %v, want the first grant revocation %v", id, tok.RevokedAt, revokedAt)
			}
		}
		req, err := st.OIDCAuthRequest(ctxOf(t), "req1")
		must(t, "OIDCAuthRequest", err)
		if !req.RevokedAt.Equal(revokedAt) {
			t.Errorf("grant RevokedAt %v, want %v", req.RevokedAt, revokedAt)
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RevokeOIDCGrant(ctx, "nothing", revokedAt) })
		wantIs(t, "RevokeOIDCGrant of a missing grant", err, store.ErrNotFound)
	}},
	{"RevokedRequestCannotBeApproved", func(t *testing.T, st store.Store) {
		ident := newIdentity(t, st, "alice.dhp.test")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: "r", ClientID: "c", Data: []byte(`{}`), ExpiresAt: testTime}); err != nil {
				return err
			}
			return tx.RevokeOIDCGrant(ctx, "r", testTime)
		})
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.ApproveOIDCAuthRequest(ctx, "r", ident.ID, testTime, testTime)
		})
		wantIs(t, "ApproveOIDCAuthRequest after revocation", err, store.ErrConflict)
	}},
}

var oidcPushedRequestTests = []conformanceTest{
	{"UsedOnce", func(t *testing.T, st store.Store) {
		p := &store.OIDCPushedRequest{ID: "p1", ClientID: "c1", Data: []byte("scope=openid"), DPoPJKT: "jkt", CreatedAt: testTime, ExpiresAt: testTime.Add(time.Minute)}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateOIDCPushedRequest(ctx, p) })
		var got *store.OIDCPushedRequest
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			var err error
			got, err = tx.UseOIDCPushedRequest(ctx, "p1", testTime.Add(time.Second))
			return err
		})
		if got.ClientID != "c1" || !bytes.Equal(got.Data, p.Data) || got.DPoPJKT != "jkt" ||
			!got.ExpiresAt.Equal(p.ExpiresAt) || !got.UsedAt.Equal(testTime.Add(time.Second)) {
			t.Errorf("UseOIDCPushedRequest returned %+v, want the stored request marked used", got)
		}
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UseOIDCPushedRequest(ctx, "p1", testTime)
			return err
		})
		wantIs(t, "second UseOIDCPushedRequest", err, store.ErrConflict)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UseOIDCPushedRequest(ctx, "p2", testTime)
			return err
		})
		wantIs(t, "UseOIDCPushedRequest of a missing request", err, store.ErrNotFound)
	}},
	{"MissingExpiryRejected", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCPushedRequest(ctx, &store.OIDCPushedRequest{ID: "p1", ClientID: "c1", Data: []byte("x")})
		})
		if err == nil {
			t.Error("CreateOIDCPushedRequest without an expiry succeeded, want an error")
		}
	}},
}

var oidcTokenTests = []conformanceTest{
	{"CreateAndRead", func(t *testing.T, st store.Store) {
		ident, _ := newGrant(t, st, "req1")
		want := newToken(t, st, "rt1", store.OIDCRefreshToken, "req1", ident.ID)
		got, err := st.OIDCToken(ctxOf(t), "rt1")
		must(t, "OIDCToken", err)
		if got.Kind != want.Kind || got.GrantID != "req1" || got.ClientID != want.ClientID || got.IdentityID != ident.ID ||
			got.JKT != want.JKT || !bytes.Equal(got.Data, want.Data) || !got.CreatedAt.Equal(testTime) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("read token %+v, want %+v", got, want)
		}
		if !got.UsedAt.IsZero() || !got.RevokedAt.IsZero() {
			t.Errorf("new token has UsedAt %v and RevokedAt %v, want zero times", got.UsedAt, got.RevokedAt)
		}
		_, err = st.OIDCToken(ctxOf(t), "rt2")
		wantIs(t, "OIDCToken of a missing token", err, store.ErrNotFound)
	}},
	{"DuplicateConflictsAndTxStaysUsable", func(t *testing.T, st store.Store) {
		ident, _ := newGrant(t, st, "req1")
		newToken(t, st, "at1", store.OIDCAccessToken, "req1", ident.ID)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			dup := &store.OIDCToken{ID: "at1", Kind: store.OIDCAccessToken, GrantID: "req1", ClientID: "c", IdentityID: ident.ID, Data: []byte(`{}`), ExpiresAt: testTime}
			wantIs(t, "CreateOIDCToken of a taken ID", tx.CreateOIDCToken(ctx, dup), store.ErrConflict)
			dup.ID = "at2"
			return tx.CreateOIDCToken(ctx, dup)
		})
		_, err := st.OIDCToken(ctxOf(t), "at2")
		must(t, "OIDCToken after a conflict in the same transaction", err)
	}},
	{"InvalidKindOrGrantRejected", func(t *testing.T, st store.Store) {
		ident, _ := newGrant(t, st, "req1")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCToken(ctx, &store.OIDCToken{ID: "x", Kind: "id", GrantID: "req1", IdentityID: ident.ID, Data: []byte(`{}`), ExpiresAt: testTime})
		})
		if err == nil {
			t.Error("CreateOIDCToken of kind \"id\" succeeded, want an error")
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCToken(ctx, &store.OIDCToken{ID: "y", Kind: store.OIDCAccessToken, GrantID: "nothing", IdentityID: ident.ID, Data: []byte(`{}`), ExpiresAt: testTime})
		})
		wantIs(t, "CreateOIDCToken of a missing grant", err, store.ErrNotFound)
	}},
	{"UsedOnce", func(t *testing.T, st store.Store) {
		ident, _ := newGrant(t, st, "req1")
		newToken(t, st, "rt1", store.OIDCRefreshToken, "req1", ident.ID)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseOIDCToken(ctx, "rt1", testTime) })
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseOIDCToken(ctx, "rt1", testTime) })
		wantIs(t, "second UseOIDCToken", err, store.ErrConflict)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseOIDCToken(ctx, "rt9", testTime) })
		wantIs(t, "UseOIDCToken of a missing token", err, store.ErrNotFound)
		got, err := st.OIDCToken(ctxOf(t), "rt1")
		must(t, "OIDCToken", err)
		if !got.UsedAt.Equal(testTime) {
			t.Errorf("UsedAt %v, want %v", got.UsedAt, testTime)
		}
	}},
	{"RevokeKeepsFirstTime", func(t *testing.T, st store.Store) {
		ident, _ := newGrant(t, st, "req1")
		newToken(t, st, "at1", store.OIDCAccessToken, "req1", ident.ID)
		newToken(t, st, "at2", store.OIDCAccessToken, "req1", ident.ID)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RevokeOIDCToken(ctx, "at1", testTime) })
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.RevokeOIDCToken(ctx, "at1", testTime.Add(time.Hour))
		})
		got, err := st.OIDCToken(ctxOf(t), "at1")
		must(t, "OIDCToken at1", err)
		if !got.RevokedAt.Equal(testTime) {
			t.Errorf("RevokedAt %v, want the first revocation %v", got.RevokedAt, testTime)
		}
		other, err := st.OIDCToken(ctxOf(t), "at2")
		must(t, "OIDCToken at2", err)
		if !other.RevokedAt.IsZero() {
			t.Errorf("revoking at1 revoked at2 at %v, want at2 untouched", other.RevokedAt)
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RevokeOIDCToken(ctx, "at9", testTime) })
		wantIs(t, "RevokeOIDCToken of a missing token", err, store.ErrNotFound)
	}},
}

var oidcMiscTests = []conformanceTest{
	{"DPoPProofReplayConflicts", func(t *testing.T, st store.Store) {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RecordDPoPProof(ctx, "proof-1", testTime) })
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			wantIs(t, "second RecordDPoPProof", tx.RecordDPoPProof(ctx, "proof-1", testTime), store.ErrConflict)
			return tx.RecordDPoPProof(ctx, "proof-2", testTime)
		})
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RecordDPoPProof(ctx, "proof-2", testTime) })
		wantIs(t, "RecordDPoPProof after a conflict in the same transaction", err, store.ErrConflict)
	}},
	{"SigningKeysNewestFirst", func(t *testing.T, st store.Store) {
		for _, id := range []string{"k1", "k2", "k3"} {
			k := &store.OIDCSigningKey{ID: id, Algorithm: "ES256", PublicKey: []byte("pub " + id), PrivateKey: []byte("sealed " + id), CreatedAt: testTime}
			inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateOIDCSigningKey(ctx, k) })
		}
		keys, err := st.OIDCSigningKeys(ctxOf(t), 2)
		must(t, "OIDCSigningKeys", err)
		if len(keys) != 2 || keys[0].ID != "k3" || keys[1].ID != "k2" {
			t.Fatalf("OIDCSigningKeys(2) returned %d keys %v, want k3 and k2", len(keys), keys)
		}
		if keys[0].Algorithm != "ES256" || string(keys[0].PublicKey) != "pub k3" || string(keys[0].PrivateKey) != "sealed k3" || !keys[0].CreatedAt.Equal(testTime) {
			t.Errorf("read key %+v, want the stored fields", keys[0])
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCSigningKey(ctx, &store.OIDCSigningKey{ID: "k1", Algorithm: "ES256", PublicKey: []byte("p"), PrivateKey: []byte("s")})
		})
		wantIs(t, "CreateOIDCSigningKey of a taken ID", err, store.ErrConflict)
		if _, err := st.OIDCSigningKeys(ctxOf(t), 0); err == nil {
			t.Error("OIDCSigningKeys(0) succeeded, want an error")
		}
	}},
	{"SecretCreatedOnce", func(t *testing.T, st store.Store) {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCSecret(ctx, "nonce", []byte("first"))
		})
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateOIDCSecret(ctx, "nonce", []byte("second"))
		})
		wantIs(t, "second CreateOIDCSecret", err, store.ErrConflict)
		got, err := st.OIDCSecret(ctxOf(t), "nonce")
		must(t, "OIDCSecret", err)
		if string(got) != "first" {
			t.Errorf("OIDCSecret returned %q, want the first value", got)
		}
		_, err = st.OIDCSecret(ctxOf(t), "other")
		wantIs(t, "OIDCSecret of a missing name", err, store.ErrNotFound)
	}},
	{"ConsentReplaced", func(t *testing.T, st store.Store) {
		first := newIdentity(t, st, "alice.dhp.test")
		second := &store.Identity{AccountID: first.AccountID, Handle: "work.dhp.test", DID: "did:key:zwork", CreatedAt: testTime}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateIdentity(ctx, second) })
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.PutOIDCConsent(ctx, store.OIDCConsent{AccountID: first.AccountID, ClientID: "c1", IdentityID: first.ID, UpdatedAt: testTime})
		})
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.PutOIDCConsent(ctx, store.OIDCConsent{AccountID: first.AccountID, ClientID: "c1", IdentityID: second.ID, UpdatedAt: testTime.Add(time.Hour)})
		})
		got, err := st.OIDCConsent(ctxOf(t), first.AccountID, "c1")
		must(t, "OIDCConsent", err)
		if got.IdentityID != second.ID || !got.UpdatedAt.Equal(testTime.Add(time.Hour)) {
			t.Errorf("OIDCConsent returned %+v, want identity %d from the second PutOIDCConsent", got, second.ID)
		}
		_, err = st.OIDCConsent(ctxOf(t), first.AccountID, "c2")
		wantIs(t, "OIDCConsent of another client", err, store.ErrNotFound)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.PutOIDCConsent(ctx, store.OIDCConsent{AccountID: first.AccountID, ClientID: "c1", IdentityID: 99999})
		})
		wantIs(t, "PutOIDCConsent of a missing identity", err, store.ErrNotFound)
	}},
	{"DeleteExpired", func(t *testing.T, st store.Store) {
		ident, _ := newGrant(t, st, "kept")
		newGrant(t, st, "gone")
		// The grant "kept" expired too, but has a live token.
		live := &store.OIDCToken{ID: "live", Kind: store.OIDCRefreshToken, GrantID: "kept", ClientID: "c", IdentityID: ident.ID,
			Data: []byte(`{}`), ExpiresAt: testTime.Add(48 * time.Hour)}
		dead := &store.OIDCToken{ID: "dead", Kind: store.OIDCAccessToken, GrantID: "kept", ClientID: "c", IdentityID: ident.ID,
			Data: []byte(`{}`), ExpiresAt: testTime.Add(time.Minute)}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			for _, tok := range []*store.OIDCToken{live, dead} {
				if err := tx.CreateOIDCToken(ctx, tok); err != nil {
					return err
				}
			}
			if err := tx.RecordDPoPProof(ctx, "old-proof", testTime); err != nil {
				return err
			}
			if err := tx.RecordDPoPProof(ctx, "new-proof", testTime.Add(48*time.Hour)); err != nil {
				return err
			}
			return tx.CreateOIDCPushedRequest(ctx, &store.OIDCPushedRequest{ID: "p", ClientID: "c", Data: []byte("x"), ExpiresAt: testTime})
		})

		var n int64
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.DeleteExpiredOIDC(ctx, testTime.Add(24*time.Hour))
			return err
		})
		// dead, old-proof, p and the grant "gone".
		if n != 4 {
			t.Errorf("DeleteExpiredOIDC deleted %d rows, want 4", n)
		}
		if _, err := st.OIDCToken(ctxOf(t), "live"); err != nil {
			t.Errorf("OIDCToken of the live token: %v", err)
		}
		_, err := st.OIDCToken(ctxOf(t), "dead")
		wantIs(t, "OIDCToken of the expired token", err, store.ErrNotFound)
		if _, err := st.OIDCAuthRequest(ctxOf(t), "kept"); err != nil {
			t.Errorf("OIDCAuthRequest of the grant with a live token: %v", err)
		}
		_, err = st.OIDCAuthRequest(ctxOf(t), "gone")
		wantIs(t, "OIDCAuthRequest of the expired grant", err, store.ErrNotFound)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			wantIs(t, "RecordDPoPProof of the kept proof", tx.RecordDPoPProof(ctx, "new-proof", testTime), store.ErrConflict)
			return tx.RecordDPoPProof(ctx, "old-proof", testTime)
		})
	}},
}
