package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// concurrentWriters is the number of goroutines of the concurrency tests.
const concurrentWriters = 8

var transactionTests = []conformanceTest{
	{"RollbackLeavesNothing", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 100)
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			a := &store.Account{Name: "ghost"}
			if err := tx.CreateAccount(ctx, a); err != nil {
				return err
			}
			if err := tx.CreateIdentity(ctx, &store.Identity{AccountID: a.ID, Handle: "ghost.dhp.test", DID: "did:key:zghost"}); err != nil {
				return err
			}
			if _, err := tx.UpdateZone(ctx, "dhp.test.", nil, []store.RR{tlsa("ghost.dhp.test.", 1)}); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, store.AuditEntry{Actor: "ghost", Action: "identity.create", Subject: "ghost.dhp.test"}); err != nil {
				return err
			}
			return errRollback
		})
		wantIs(t, "InTx", err, errRollback)
		checkNothingLeft(t, st)
	}},
	{"PanicRollsBack", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 100)
		func() {
			defer func() {
				if r := recover(); r != "test panic" {
					t.Errorf("recovered %v, want the panic of fn", r)
				}
			}()
			_ = st.InTx(ctxOf(t), func(tx store.Tx) error {
				ctx := ctxOf(t)
				a := &store.Account{Name: "ghost"}
				if err := tx.CreateAccount(ctx, a); err != nil {
					return err
				}
				if err := tx.CreateIdentity(ctx, &store.Identity{AccountID: a.ID, Handle: "ghost.dhp.test", DID: "did:key:zghost"}); err != nil {
					return err
				}
				if _, err := tx.UpdateZone(ctx, "dhp.test.", nil, []store.RR{tlsa("ghost.dhp.test.", 1)}); err != nil {
					return err
				}
				if err := tx.AppendAudit(ctx, store.AuditEntry{Actor: "ghost", Action: "identity.create"}); err != nil {
					return err
				}
				panic("test panic")
			})
		}()
		checkNothingLeft(t, st)
	}},
	{"ExpectedErrorsKeepTxUsable", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		id := newIdentity(t, st, "alice.dhp.test")
		newEnrollment(t, st, id.ID, "kid-1")
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.UseEnrollment(ctx, "kid-1", testTime) })

		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			wantIs(t, "CreateAccount of a taken name", tx.CreateAccount(ctx, &store.Account{Name: "owner-of-alice.dhp.test"}), store.ErrConflict)
			wantIs(t, "CreateZone of an existing zone", tx.CreateZone(ctx, "dhp.test.", 9), store.ErrConflict)
			wantIs(t, "UseEnrollment of a used enrollment", tx.UseEnrollment(ctx, "kid-1", testTime), store.ErrConflict)
			wantIs(t, "TouchDevice of a missing device", tx.TouchDevice(ctx, 999, testTime), store.ErrNotFound)
			wantIs(t, "RevokeDevice of a missing device", tx.RevokeDevice(ctx, 999, testTime, 0), store.ErrNotFound)
			_, err := tx.IdentityByHandle(ctx, "nobody.dhp.test")
			wantIs(t, "IdentityByHandle of a missing identity", err, store.ErrNotFound)
			return tx.CreateAccount(ctx, &store.Account{Name: "after-errors"})
		})
		_, err := st.AccountByName(ctxOf(t), "after-errors")
		must(t, "AccountByName of the account created after the errors", err)
	}},
	{"SeesOwnWritesOnly", func(t *testing.T, st store.Store) {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateAccount(ctx, &store.Account{Name: "inside"}); err != nil {
				return err
			}
			if _, err := tx.AccountByName(ctx, "inside"); err != nil {
				t.Errorf("the transaction does not see its own account: %v", err)
			}
			_, err := st.AccountByName(ctx, "inside")
			wantIs(t, "read of an uncommitted account outside the transaction", err, store.ErrNotFound)
			return nil
		})
		_, err := st.AccountByName(ctxOf(t), "inside")
		must(t, "AccountByName after commit", err)
	}},
	{"ConcurrentWritersGetDistinctSerials", func(t *testing.T, st store.Store) {
		var start uint32 = 4294967290 // the serial wraps to 0 during the test
		newZone(t, st, "dhp.test.", start)
		serials := make([]uint32, concurrentWriters)
		errs := concurrently(concurrentWriters, func(i int) error {
			return txErr(t, st, func(ctx context.Context, tx store.Tx) error {
				// Read, then write, as the signer does.
				if _, err := tx.LookupName(ctx, "dhp.test.", "dhp.test."); err != nil {
					return err
				}
				s, err := tx.UpdateZone(ctx, "dhp.test.", nil, []store.RR{tlsa(fmt.Sprintf("w%d.dhp.test.", i), 1)})
				serials[i] = s
				return err
			})
		})
		for i, err := range errs {
			must(t, fmt.Sprintf("writer %d", i), err)
		}

		seen := map[uint32]int{}
		for i, s := range serials {
			if j, dup := seen[s]; dup {
				t.Errorf("writers %d and %d both got serial %d", j, i, s)
			}
			seen[s] = i
		}
		current, err := st.ZoneSerial(ctxOf(t), "dhp.test.")
		must(t, "ZoneSerial", err)
		if want := start + concurrentWriters; current != want {
			t.Errorf("serial after %d writers = %d, want %d", concurrentWriters, current, want)
		}
		diffs, err := st.Diffs(ctxOf(t), "dhp.test.", start)
		must(t, "Diffs", err)
		if len(diffs) != concurrentWriters {
			t.Fatalf("journal has %d steps, want %d", len(diffs), concurrentWriters)
		}
		for i, d := range diffs {
			if want := start + uint32(i); d.FromSerial != want || d.ToSerial != d.FromSerial+1 || len(d.Added) != 1 {
				t.Errorf("step %d goes from %d to %d adding %d records, want from %d, one step, 1 record",
					i, d.FromSerial, d.ToSerial, len(d.Added), want)
			}
		}
	}},
}

// checkNothingLeft checks that a rolled-back transaction of the tests above
// left no account, identity, record, serial bump, journal step or audit
// entry.
func checkNothingLeft(t *testing.T, st store.Store) {
	t.Helper()
	ctx := ctxOf(t)
	_, err := st.AccountByName(ctx, "ghost")
	wantIs(t, "AccountByName after rollback", err, store.ErrNotFound)
	_, err = st.IdentityByHandle(ctx, "ghost.dhp.test")
	wantIs(t, "IdentityByHandle after rollback", err, store.ErrNotFound)

	serial, err := st.ZoneSerial(ctx, "dhp.test.")
	must(t, "ZoneSerial", err)
	if serial != 100 {
		t.Errorf("serial after rollback = %d, want 100", serial)
	}
	rrs, err := st.LookupName(ctx, "dhp.test.", "ghost.dhp.test.")
	must(t, "LookupName", err)
	if len(rrs) != 0 {
		t.Errorf("records after rollback: %v", rrs)
	}
	diffs, err := st.Diffs(ctx, "dhp.test.", 100)
	must(t, "Diffs", err)
	if len(diffs) != 0 {
		t.Errorf("journal after rollback has %d steps, want none", len(diffs))
	}
	_, err = st.Diffs(ctx, "dhp.test.", 101)
	wantIs(t, "Diffs from the rolled-back serial", err, store.ErrJournalGap)
	audit, err := st.Audit(ctx, 10)
	must(t, "Audit", err)
	if len(audit) != 0 {
		t.Errorf("audit log after rollback: %+v", audit)
	}
}

// concurrently runs fn(0) to fn(n-1) in n goroutines that start together and
// returns their errors.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

// newZone creates a zone with the given serial.
func newZone(t *testing.T, st store.Store, zone string, serial uint32) {
	t.Helper()
	inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateZone(ctx, zone, serial) })
}

// update applies one UpdateZone in its own transaction and returns the new
// serial.
func update(t *testing.T, st store.Store, zone string, deleted, added []store.RR) uint32 {
	t.Helper()
	var serial uint32
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		serial, err = tx.UpdateZone(ctx, zone, deleted, added)
		return err
	})
	return serial
}

// tlsa returns a DANE-TA TLSA record at name whose digest is made from n.
func tlsa(name string, n int) store.RR {
	return store.RR{Name: name, Type: dns.TypeTLSA, TTL: 300, Data: fmt.Sprintf("2 1 1 %064x", n)}
}

// rrsig returns an RRSIG record at name covering the given type.
func rrsig(name string, covered uint16) store.RR {
	return store.RR{Name: name, Type: dns.TypeRRSIG, Covered: covered, TTL: 300,
		Data: dns.TypeToString[covered] + " 13 3 300 20260401000000 20260301000000 12345 dhp.test. c2lnbmF0dXJl"}
}

// nsec3 returns an NSEC3 record of zone for the hash label hash.
func nsec3(zone, hash, next string) store.RR {
	return store.RR{Name: hash + "." + zone, Type: dns.TypeNSEC3, TTL: 300, Data: "1 0 0 - " + next + " TLSA RRSIG"}
}
