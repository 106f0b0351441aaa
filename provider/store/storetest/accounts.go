package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

var accountTests = []conformanceTest{
	{"CreateAndRead", func(t *testing.T, st store.Store) {
		a := newAccount(t, st, "alice")
		if a.ID <= 0 {
			t.Fatalf("CreateAccount set ID %d, want a positive ID", a.ID)
		}
		byName, err := st.AccountByName(ctxOf(t), "alice")
		must(t, "AccountByName", err)
		byID, err := st.AccountByID(ctxOf(t), a.ID)
		must(t, "AccountByID", err)
		for _, got := range []*store.Account{byName, byID} {
			if *got != *a {
				t.Errorf("read account %+v, want %+v", *got, *a)
			}
		}
	}},
	{"ZeroCreatedAtIsNow", func(t *testing.T, st store.Store) {
		before := time.Now().Add(-time.Second)
		a := &store.Account{Name: "bob"}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateAccount(ctx, a) })
		got, err := st.AccountByID(ctxOf(t), a.ID)
		must(t, "AccountByID", err)
		if got.CreatedAt.Before(before) || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Errorf("CreatedAt %v (set in struct %v), want the time of creation", got.CreatedAt, a.CreatedAt)
		}
	}},
	{"DuplicateNameConflicts", func(t *testing.T, st store.Store) {
		newAccount(t, st, "alice")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateAccount(ctx, &store.Account{Name: "alice"})
		})
		wantIs(t, "second CreateAccount", err, store.ErrConflict)
	}},
	{"ConflictKeepsTxUsable", func(t *testing.T, st store.Store) {
		newAccount(t, st, "alice")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			wantIs(t, "CreateAccount of a taken name", tx.CreateAccount(ctx, &store.Account{Name: "alice"}), store.ErrConflict)
			return tx.CreateAccount(ctx, &store.Account{Name: "carol"})
		})
		_, err := st.AccountByName(ctxOf(t), "carol")
		must(t, "AccountByName after a conflict in the same transaction", err)
	}},
	{"MissingIsNotFound", func(t *testing.T, st store.Store) {
		_, err := st.AccountByName(ctxOf(t), "nobody")
		wantIs(t, "AccountByName", err, store.ErrNotFound)
		_, err = st.AccountByID(ctxOf(t), 12345)
		wantIs(t, "AccountByID", err, store.ErrNotFound)
	}},
	{"ListByName", func(t *testing.T, st store.Store) {
		empty, err := st.Accounts(ctxOf(t))
		must(t, "Accounts of an empty store", err)
		if len(empty) != 0 {
			t.Errorf("an empty store lists %d accounts", len(empty))
		}
		for _, name := range []string{"carol", "alice", "bob"} {
			newAccount(t, st, name)
		}
		list, err := st.Accounts(ctxOf(t))
		must(t, "Accounts", err)
		var names []string
		for _, a := range list {
			names = append(names, a.Name)
		}
		if fmt.Sprint(names) != "[alice bob carol]" {
			t.Errorf("Accounts = %v, want [alice bob carol]", names)
		}
	}},
}

var identityTests = []conformanceTest{
	{"CreateAndRead", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		byHandle, err := st.IdentityByHandle(ctxOf(t), "alice.dhp.test")
		must(t, "IdentityByHandle", err)
		byID, err := st.IdentityByID(ctxOf(t), id.ID)
		must(t, "IdentityByID", err)
		for _, got := range []*store.Identity{byHandle, byID} {
			if got.ID != id.ID || got.AccountID != id.AccountID || got.Handle != id.Handle || got.DID != id.DID ||
				got.Hosted != id.Hosted || got.Verified != id.Verified || !got.CreatedAt.Equal(id.CreatedAt) {
				t.Errorf("read identity %+v, want %+v", *got, *id)
			}
			if !bytes.Equal(got.CSCCert, id.CSCCert) || !bytes.Equal(got.CSCKey, id.CSCKey) {
				t.Errorf("read CSC %q and key %q, want %q and %q", got.CSCCert, got.CSCKey, id.CSCCert, id.CSCKey)
			}
		}
	}},
	{"DuplicateHandleConflicts", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateIdentity(ctx, &store.Identity{AccountID: id.AccountID, Handle: "alice.dhp.test", DID: "did:key:zother"})
		})
		wantIs(t, "second CreateIdentity", err, store.ErrConflict)
	}},
	{"UnknownAccountIsNotFound", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateIdentity(ctx, &store.Identity{AccountID: 999, Handle: "orphan.dhp.test", DID: "did:key:z1"})
		})
		wantIs(t, "CreateIdentity", err, store.ErrNotFound)
	}},
	{"MissingIsNotFound", func(t *testing.T, st store.Store) {
		_, err := st.IdentityByHandle(ctxOf(t), "nobody.dhp.test")
		wantIs(t, "IdentityByHandle", err, store.ErrNotFound)
		_, err = st.IdentityByID(ctxOf(t), 777)
		wantIs(t, "IdentityByID", err, store.ErrNotFound)
	}},
	{"ListByAccount", func(t *testing.T, st store.Store) {
		a := newAccount(t, st, "alice")
		b := newAccount(t, st, "bob")
		var want []string
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			for i, owner := range []*store.Account{a, b, a} {
				handle := fmt.Sprintf("h%d.dhp.test", i)
				if owner == a {
					want = append(want, handle)
				}
				if err := tx.CreateIdentity(ctx, &store.Identity{AccountID: owner.ID, Handle: handle, DID: "did:key:z" + handle}); err != nil {
					return err
				}
			}
			return nil
		})

		list, err := st.Identities(ctxOf(t), a.ID)
		must(t, "Identities", err)
		if got := handles(list); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Identities(alice) = %v, want %v", got, want)
		}
		all, err := st.Identities(ctxOf(t), 0)
		must(t, "Identities(0)", err)
		if got := handles(all); fmt.Sprint(got) != "[h0.dhp.test h1.dhp.test h2.dhp.test]" {
			t.Errorf("Identities(0) = %v, want all three in ID order", got)
		}
		none, err := st.Identities(ctxOf(t), 4242)
		must(t, "Identities(unknown account)", err)
		if len(none) != 0 {
			t.Errorf("Identities(unknown account) = %v, want none", handles(none))
		}
	}},
	{"SetVerified", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "own.example.org")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.SetIdentityVerified(ctx, id.ID, true) })
		got, err := st.IdentityByID(ctxOf(t), id.ID)
		must(t, "IdentityByID", err)
		if !got.Verified {
			t.Errorf("Verified = false after SetIdentityVerified(true)")
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.SetIdentityVerified(ctx, 999, true) })
		wantIs(t, "SetIdentityVerified of a missing identity", err, store.ErrNotFound)
	}},
}

func handles(list []*store.Identity) []string {
	out := make([]string, len(list))
	for i, id := range list {
		out[i] = id.Handle
	}
	return out
}

var deviceTests = []conformanceTest{
	{"CreateAndRead", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		d := newDevice(t, st, id.ID, "0a1b")
		if d.ID <= 0 || d.Status != store.DeviceActive {
			t.Fatalf("CreateDevice set ID %d and status %q, want a positive ID and %q", d.ID, d.Status, store.DeviceActive)
		}
		got, err := st.DeviceBySerial(ctxOf(t), "0a1b")
		must(t, "DeviceBySerial", err)
		if got.ID != d.ID || got.IdentityID != id.ID || got.Label != "laptop" || got.Fingerprint != "fp-0a1b" ||
			got.Status != store.DeviceActive || !bytes.Equal(got.CertDER, d.CertDER) || !got.CreatedAt.Equal(testTime) ||
			!got.LastSeen.IsZero() || !got.RevokedAt.IsZero() || got.RevocationReason != 0 {
			t.Errorf("read device %+v, want %+v", *got, *d)
		}
	}},
	{"DuplicateSerialConflicts", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		newDevice(t, st, id.ID, "0a1b")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateDevice(ctx, &store.Device{IdentityID: id.ID, Serial: "0a1b", Label: "phone"})
		})
		wantIs(t, "second CreateDevice", err, store.ErrConflict)
	}},
	{"UnknownIdentityIsNotFound", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateDevice(ctx, &store.Device{IdentityID: 999, Serial: "ff", Label: "phone"})
		})
		wantIs(t, "CreateDevice", err, store.ErrNotFound)
	}},
	{"InvalidStatusRejected", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateDevice(ctx, &store.Device{IdentityID: id.ID, Serial: "ff", Status: "lost"})
		})
		if err == nil {
			t.Fatal("CreateDevice with status \"lost\" succeeded, want an error")
		}
	}},
	{"ListByIdentity", func(t *testing.T, st store.Store) {
		alice := newIdentity(t, st, "alice.dhp.test")
		bob := newIdentity(t, st, "bob.dhp.test")
		newDevice(t, st, alice.ID, "01")
		newDevice(t, st, bob.ID, "02")
		newDevice(t, st, alice.ID, "03")
		list, err := st.Devices(ctxOf(t), alice.ID)
		must(t, "Devices", err)
		if got := serials(list); fmt.Sprint(got) != "[01 03]" {
			t.Errorf("Devices(alice) = %v, want [01 03]", got)
		}
		all, err := st.Devices(ctxOf(t), 0)
		must(t, "Devices(0)", err)
		if got := serials(all); fmt.Sprint(got) != "[01 02 03]" {
			t.Errorf("Devices(0) = %v, want [01 02 03]", got)
		}
	}},
	{"Touch", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		d := newDevice(t, st, id.ID, "0a")
		seen := testTime.Add(time.Hour)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.TouchDevice(ctx, d.ID, seen) })
		got, err := st.DeviceBySerial(ctxOf(t), "0a")
		must(t, "DeviceBySerial", err)
		if !got.LastSeen.Equal(seen) {
			t.Errorf("LastSeen = %v, want %v", got.LastSeen, seen)
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.TouchDevice(ctx, 999, seen) })
		wantIs(t, "TouchDevice of a missing device", err, store.ErrNotFound)
	}},
	{"Revoke", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		d := newDevice(t, st, id.ID, "0a")
		at := testTime.Add(2 * time.Hour)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RevokeDevice(ctx, d.ID, at, 1) })

		got, err := st.DeviceBySerial(ctxOf(t), "0a")
		must(t, "DeviceBySerial", err)
		if got.Status != store.DeviceRevoked || !got.RevokedAt.Equal(at) || got.RevocationReason != 1 {
			t.Errorf("after RevokeDevice: status %q, revoked at %v, reason %d; want %q, %v, 1",
				got.Status, got.RevokedAt, got.RevocationReason, store.DeviceRevoked, at)
		}

		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RevokeDevice(ctx, d.ID, at.Add(time.Hour), 4) })
		wantIs(t, "second RevokeDevice", err, store.ErrConflict)
		again, err := st.DeviceBySerial(ctxOf(t), "0a")
		must(t, "DeviceBySerial", err)
		if !again.RevokedAt.Equal(at) || again.RevocationReason != 1 {
			t.Errorf("second RevokeDevice changed the revocation to %v reason %d", again.RevokedAt, again.RevocationReason)
		}

		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.RevokeDevice(ctx, 999, at, 1) })
		wantIs(t, "RevokeDevice of a missing device", err, store.ErrNotFound)
	}},
	{"MissingIsNotFound", func(t *testing.T, st store.Store) {
		_, err := st.DeviceBySerial(ctxOf(t), "dead")
		wantIs(t, "DeviceBySerial", err, store.ErrNotFound)
	}},
}

func newDevice(t *testing.T, st store.Store, identityID int64, serial string) *store.Device {
	t.Helper()
	d := &store.Device{IdentityID: identityID, Label: "laptop", Serial: serial, Fingerprint: "fp-" + serial,
		CertDER: []byte("cert " + serial), CreatedAt: testTime}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateDevice(ctx, d) })
	return d
}

func serials(list []*store.Device) []string {
	out := make([]string, len(list))
	for i, d := range list {
		out[i] = d.Serial
	}
	return out
}

var enrollmentTests = []conformanceTest{
	{"CreateAndRead", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		e := newEnrollment(t, st, id.ID, "kid-1")
		got, err := st.Enrollment(ctxOf(t), "kid-1")
		must(t, "Enrollment", err)
		if got.KeyID != e.KeyID || got.IdentityID != id.ID || got.Label != "phone" || !bytes.Equal(got.MACKeyHash, e.MACKeyHash) ||
			!got.ExpiresAt.Equal(e.ExpiresAt) || !got.UsedAt.IsZero() {
			t.Errorf("read enrollment %+v, want %+v", *got, *e)
		}
	}},
	{"DuplicateKeyIDConflicts", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		newEnrollment(t, st, id.ID, "kid-1")
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateEnrollment(ctx, &store.Enrollment{KeyID: "kid-1", IdentityID: id.ID, ExpiresAt: testTime})
		})
		wantIs(t, "second CreateEnrollment", err, store.ErrConflict)
	}},
	{"UnknownIdentityIsNotFound", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateEnrollment(ctx, &store.Enrollment{KeyID: "kid-x", IdentityID: 999, ExpiresAt: testTime})
		})
		wantIs(t, "CreateEnrollment", err, store.ErrNotFound)
	}},
	{"SingleUse", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		newEnrollment(t, st, id.ID, "kid-1")
		used := testTime.Add(time.Minute)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseEnrollment(ctx, "kid-1", used) })
		got, err := st.Enrollment(ctxOf(t), "kid-1")
		must(t, "Enrollment", err)
		if !got.UsedAt.Equal(used) {
			t.Errorf("UsedAt = %v, want %v", got.UsedAt, used)
		}
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.UseEnrollment(ctx, "kid-1", used.Add(time.Minute))
		})
		wantIs(t, "second UseEnrollment", err, store.ErrConflict)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseEnrollment(ctx, "kid-none", used) })
		wantIs(t, "UseEnrollment of a missing enrollment", err, store.ErrNotFound)
	}},
	{"ConcurrentUseOnce", func(t *testing.T, st store.Store) {
		id := newIdentity(t, st, "alice.dhp.test")
		newEnrollment(t, st, id.ID, "kid-1")
		errs := concurrently(8, func(int) error {
			return txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseEnrollment(ctx, "kid-1", testTime) })
		})
		succeeded := 0
		for _, err := range errs {
			switch {
			case err == nil:
				succeeded++
			case !isConflict(err):
				t.Errorf("UseEnrollment failed with %v, want success or ErrConflict", err)
			}
		}
		if succeeded != 1 {
			t.Errorf("%d concurrent UseEnrollment calls succeeded, want exactly 1", succeeded)
		}
	}},
	{"MissingIsNotFound", func(t *testing.T, st store.Store) {
		_, err := st.Enrollment(ctxOf(t), "kid-none")
		wantIs(t, "Enrollment", err, store.ErrNotFound)
	}},
}

func newEnrollment(t *testing.T, st store.Store, identityID int64, keyID string) *store.Enrollment {
	t.Helper()
	e := &store.Enrollment{KeyID: keyID, IdentityID: identityID, Label: "phone", MACKeyHash: []byte("hash of " + keyID),
		ExpiresAt: testTime.Add(24 * time.Hour)}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateEnrollment(ctx, e) })
	return e
}

var auditTests = []conformanceTest{
	{"NewestFirst", func(t *testing.T, st store.Store) {
		for i := range 5 {
			inTx(t, st, func(ctx context.Context, tx store.Tx) error {
				return tx.AppendAudit(ctx, store.AuditEntry{At: testTime.Add(time.Duration(i) * time.Second),
					Actor: "alice", Action: "identity.create", Subject: fmt.Sprintf("h%d.dhp.test", i), Detail: "hosted"})
			})
		}
		list, err := st.Audit(ctxOf(t), 3)
		must(t, "Audit", err)
		if len(list) != 3 {
			t.Fatalf("Audit(3) returned %d entries, want 3", len(list))
		}
		for i, e := range list {
			wantSubject := fmt.Sprintf("h%d.dhp.test", 4-i)
			if e.Subject != wantSubject || e.Actor != "alice" || e.Action != "identity.create" || e.Detail != "hosted" ||
				!e.At.Equal(testTime.Add(time.Duration(4-i)*time.Second)) {
				t.Errorf("entry %d = %+v, want subject %s", i, e, wantSubject)
			}
			if i > 0 && e.ID >= list[i-1].ID {
				t.Errorf("entry %d has ID %d, not below the ID %d of the newer entry", i, e.ID, list[i-1].ID)
			}
		}
	}},
	{"LimitMustBePositive", func(t *testing.T, st store.Store) {
		if _, err := st.Audit(ctxOf(t), 0); err == nil {
			t.Error("Audit(0) succeeded, want an error")
		}
	}},
}
