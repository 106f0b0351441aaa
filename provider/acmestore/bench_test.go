package acmestore_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acme/acmetest"
	"github.com/dnshandle/dnshandle/provider/acmestore"
)

// BenchmarkIssuanceSQLite measures issuance by acmetest.Clients concurrent
// golang.org/x/crypto/acme clients against the server persisting its
// records and the use of each nonce to the SQLite store (WAL,
// synchronous=FULL, in a temporary directory), with
// Debian's pebble driven by the same clients as the baseline (see
// acmetest.BenchmarkIssuance).
func BenchmarkIssuanceSQLite(b *testing.B) {
	p := newSeededStore(b)
	backend, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		b.Fatal(err)
	}
	srv, hc := acmetest.Serve(b, acme.Config{Backend: backend})
	acmetest.BenchmarkIssuance(b, acmetest.Target{Server: srv, HTTPClient: hc, IdentityID: p.identity, Name: alice.String()})
}

// BenchmarkIssuanceSQLiteMemoryNonces is BenchmarkIssuanceSQLite with the
// server's nonces in memory, so that the two show what recording each
// nonce in the store costs an issuance.
func BenchmarkIssuanceSQLiteMemoryNonces(b *testing.B) {
	p := newSeededStore(b)
	backend, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		b.Fatal(err)
	}
	// Embedding only acme.Backend hides the NonceBackend methods.
	srv, hc := acmetest.Serve(b, acme.Config{Backend: struct{ acme.Backend }{backend}})
	acmetest.BenchmarkIssuance(b, acmetest.Target{Server: srv, HTTPClient: hc, IdentityID: p.identity, Name: alice.String()})
}

// BenchmarkNonceSQLite measures what shared nonces add to an ACME request:
// a POST-as-GET of the account over HTTPS on loopback to a server whose
// nonces are in the SQLite store (WAL, synchronous=FULL, in a temporary
// directory), against the same request to a server on the same store that
// keeps its nonces in memory, the baseline. Each request uses the nonce of
// the previous response of the same server, as clients do. The two kinds
// alternate in pairs, so that load on the machine affects both alike.
func BenchmarkNonceSQLite(b *testing.B) {
	benchmarkNonce(b, newSeededStore(b))
}

// benchmarkNonce runs BenchmarkNonceSQLite on the seeded store of p.
func benchmarkNonce(b *testing.B, p *provider) {
	clock := &testClock{now: time.Now()}
	stored, memory := 0, 1
	r := newReplicas(b, p, 0, clock, true)
	r.add(p, clock, true)
	r.add(p, clock, false)
	key := newAccountKey(b)
	en, err := r.servers[0].NewEnrollment(b.Context(), p.identity, "laptop")
	if err != nil {
		b.Fatal(err)
	}
	newAccount := r.url("/new-account")
	res := r.post(stored, newAccount, key, "", r.nonce(stored), newAccountPayload(b, en, newAccount, key))
	if res.status != http.StatusCreated {
		b.Fatalf("newAccount: status %d %s", res.status, res.body)
	}
	kid := res.header.Get("Location")

	nonces := []string{r.nonce(stored), r.nonce(memory)}
	request := func(replica int) {
		res := r.post(replica, kid, key, kid, nonces[replica], nil)
		if res.status != http.StatusOK {
			b.Fatalf("POST-as-GET of the account at replica %d: status %d %s", replica, res.status, res.body)
		}
		nonces[replica] = res.header.Get("Replay-Nonce")
	}

	var storedTime, memoryTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first, second := stored, memory
		if i%2 == 1 {
			first, second = memory, stored
		}
		t0 := time.Now()
		request(first)
		t1 := time.Now()
		request(second)
		t2 := time.Now()
		if first == stored {
			storedTime, memoryTime = storedTime+t1.Sub(t0), memoryTime+t2.Sub(t1)
		} else {
			memoryTime, storedTime = memoryTime+t1.Sub(t0), storedTime+t2.Sub(t1)
		}
	}
	b.ReportMetric(float64(storedTime.Nanoseconds())/float64(b.N), "store-ns/request")
	b.ReportMetric(float64(memoryTime.Nanoseconds())/float64(b.N), "memory-ns/request")
	b.ReportMetric(float64(storedTime)/float64(memoryTime), "store/memory")
}
