// Package storetest checks that an implementation of store.Store behaves as
// the store package documents, and fills stores with generated identities
// for benchmarks and start-up measurements.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// RunConformance runs the conformance suite against the stores open returns:
// named subtests for the behaviors of every Store, Reader and Tx method.
//
// open returns a new, empty store for one test and registers its cleanup
// with t.Cleanup. The subtests run in parallel, so each store must share no
// data with the others. The stores must implement store.JournalLimiter,
// which the journal retention tests use.
func RunConformance(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []conformanceTest
	}{
		{"Accounts", accountTests},
		{"Identities", identityTests},
		{"Devices", deviceTests},
		{"Enrollments", enrollmentTests},
		{"IdentityDelete", identityDeleteTests},
		{"ACME", acmeTests},
		{"ACMEShared", acmeSharedTests},
		{"Audit", auditTests},
		{"Transactions", transactionTests},
		{"Zones", zoneTests},
		{"UpdateZone", updateZoneTests},
		{"Lookups", lookupTests},
		{"WalkZone", walkTests},
		{"Journal", journalTests},
		{"ZoneKeys", zoneKeyTests},
		{"OIDCClients", oidcClientTests},
		{"OIDCAuthRequests", oidcAuthRequestTests},
		{"OIDCPushedRequests", oidcPushedRequestTests},
		{"OIDCTokens", oidcTokenTests},
		{"OIDCMisc", oidcMiscTests},
		{"WebSessions", webSessionTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, open(t))
				})
			}
		})
	}
}

// conformanceTest is one subtest of the suite.
type conformanceTest struct {
	name string
	run  func(t *testing.T, st store.Store)
}

// errRollback is returned from InTx functions that must roll back.
var errRollback = errors.New("test rollback")

// testTime is a fixed time with microseconds, which every store keeps.
var testTime = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func ctxOf(t *testing.T) context.Context { return t.Context() }

// inTx runs fn in a transaction and fails the test when InTx fails.
func inTx(t *testing.T, st store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := ctxOf(t)
	if err := st.InTx(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// txErr runs fn in a transaction and returns the error of InTx.
func txErr(t *testing.T, st store.Store, fn func(ctx context.Context, tx store.Tx) error) error {
	t.Helper()
	ctx := ctxOf(t)
	return st.InTx(ctx, func(tx store.Tx) error { return fn(ctx, tx) })
}

// wantIs fails the test unless err wraps target.
func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

// must fails the test when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// newAccount creates an account with the given name.
func newAccount(t *testing.T, st store.Store, name string) *store.Account {
	t.Helper()
	a := &store.Account{Name: name, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", CreatedAt: testTime}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateAccount(ctx, a) })
	return a
}

// newIdentity creates an account and an identity with the given handle.
func newIdentity(t *testing.T, st store.Store, handle string) *store.Identity {
	t.Helper()
	a := newAccount(t, st, "owner-of-"+handle)
	id := &store.Identity{
		AccountID: a.ID, Handle: handle, DID: "did:key:z" + handle, Hosted: true,
		CSCCert: []byte("csc " + handle), CSCKey: []byte("sealed " + handle), CreatedAt: testTime,
	}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateIdentity(ctx, id) })
	return id
}
