//go:build interop && unix

package acmestore_test

import (
	"crypto/rand"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/store/storetest"
)

// newPostgresProviders opens n stores on one new database of srv, as n
// provider processes do, seeded through the first as newSeededStore seeds
// SQLite. The providers share the sealer and the identity.
func newPostgresProviders(tb testing.TB, srv *storetest.PostgresServer, n int) []*provider {
	tb.Helper()
	kek := make([]byte, store.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		tb.Fatal(err)
	}
	sealer, err := store.NewSealer(kek)
	if err != nil {
		tb.Fatal(err)
	}
	url := srv.CreateDatabase(tb)
	var list []*provider
	for range n {
		st, err := store.OpenPostgres(tb.Context(), url)
		if err != nil {
			tb.Fatalf("OpenPostgres: %v", err)
		}
		tb.Cleanup(func() { _ = st.Close() })
		list = append(list, &provider{st: st, sealer: sealer})
	}
	seed(tb, list[0])
	for _, p := range list[1:] {
		p.csc, p.identity = list[0].csc, list[0].identity
	}
	return list
}

// TestInteropPostgresNoncesAndPrune runs two ACME servers, each with its own
// connection pool to one PostgreSQL database. A nonce of one is accepted
// once by the other, and one nonce sent to both at once passes once. Then
// both prune at the same time, without failing or deleting a row twice.
func TestInteropPostgresNoncesAndPrune(t *testing.T) {
	srv := storetest.StartPostgres(t)
	ps := newPostgresProviders(t, srv, 2)
	clock := &testClock{now: time.Now()}
	r := newReplicas(t, ps[0], 1, clock, true)
	r.add(ps[1], clock, true)

	key := newAccountKey(t)
	en, err := r.servers[0].NewEnrollment(t.Context(), ps[0].identity, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	newAccount := r.url("/new-account")
	first := r.nonce(0)
	res := r.post(1, newAccount, key, "", first, newAccountPayload(t, en, newAccount, key))
	if res.status != http.StatusCreated {
		t.Fatalf("newAccount at replica 1 with a nonce of replica 0: status %d %s, want 201", res.status, res.body)
	}
	kid := res.header.Get("Location")
	for replica := range 2 {
		if again := r.post(replica, kid, key, kid, first, nil); again.problemType() != badNonce {
			t.Errorf("replica %d accepted the used nonce again: status %d %s", replica, again.status, again.body)
		}
	}

	const requests = 8
	nonce := r.nonce(1)
	statuses := make([]int, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			got := r.post(i%2, kid, key, kid, nonce, nil)
			if got.status != http.StatusOK && got.problemType() != badNonce {
				t.Errorf("request %d: status %d %s, want 200 or badNonce", i, got.status, got.body)
			}
			statuses[i] = got.status
		})
	}
	wg.Wait()
	passed := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			passed++
		}
	}
	if passed != 1 {
		t.Errorf("%d of %d concurrent requests with one nonce passed, want 1 (statuses %v)", passed, requests, statuses)
	}

	// Every nonce used so far and the credential expire; both replicas
	// prune at once.
	clock.Advance(acme.DefaultNonceLifetime + 2*time.Minute)
	counts := make([]acme.PruneCounts, 2)
	for i := range 2 {
		wg.Go(func() {
			var err error
			if counts[i], err = r.servers[i].Prune(t.Context()); err != nil {
				t.Errorf("Prune of replica %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	total := acme.PruneCounts{
		Orders:      counts[0].Orders + counts[1].Orders,
		Credentials: counts[0].Credentials + counts[1].Credentials,
		Nonces:      counts[0].Nonces + counts[1].Nonces,
	}
	// newAccount, the replays, which are not recorded, and one of the
	// concurrent requests used a nonce.
	if want := (acme.PruneCounts{Credentials: 1, Nonces: 2}); total != want {
		t.Errorf("Prune of both replicas = %+v and %+v, together %+v, want %+v", counts[0], counts[1], total, want)
	}
}

// BenchmarkInteropNoncePostgres is BenchmarkNonceSQLite on a PostgreSQL
// database that storetest.StartPostgres runs on loopback, with fsync off.
func BenchmarkInteropNoncePostgres(b *testing.B) {
	srv := storetest.StartPostgres(b)
	benchmarkNonce(b, newPostgresProviders(b, srv, 1)[0])
}
