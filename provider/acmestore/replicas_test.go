package acmestore_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acmestore"
)

// replicaHeader names the replica that the load balancer of replicas sends
// a request to, by its index.
const replicaHeader = "X-Test-Replica"

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// replicas are several ACME servers on the store of one provider, with one
// base URL, behind a load balancer on a loopback TLS listener. Each request
// goes to the replica that its replicaHeader names.
type replicas struct {
	t       testing.TB
	servers []*acme.Server
	ts      *httptest.Server
}

// newReplicas starts n servers on p's store with the clock. shared false
// hides the NonceBackend of the store backend, so that each server keeps
// its nonces in memory, as a Backend without shared nonces does.
func newReplicas(t testing.TB, p *provider, n int, clock *testClock, shared bool) *replicas {
	t.Helper()
	r := &replicas{t: t}
	r.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		i, err := strconv.Atoi(req.Header.Get(replicaHeader))
		if err != nil || i < 0 || i >= len(r.servers) {
			http.Error(w, "no such replica", http.StatusBadGateway)
			return
		}
		r.servers[i].Handler().ServeHTTP(w, req)
	}))
	r.ts.StartTLS()
	t.Cleanup(r.ts.Close)
	for range n {
		r.add(p, clock, shared)
	}
	return r
}

// add starts one more server on p's store, as a process that starts later
// does, and returns its index.
func (r *replicas) add(p *provider, clock *testClock, shared bool) int {
	r.t.Helper()
	store, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		r.t.Fatal(err)
	}
	var backend acme.Backend = store
	if !shared {
		backend = struct{ acme.Backend }{store}
	}
	srv, err := acme.NewServer(acme.Config{BaseURL: r.ts.URL + "/acme", Backend: backend, Now: clock.Now})
	if err != nil {
		r.t.Fatal(err)
	}
	r.servers = append(r.servers, srv)
	return len(r.servers) - 1
}

func (r *replicas) url(path string) string { return r.ts.URL + "/acme" + path }

// nonce fetches a nonce from the replica with HEAD newNonce.
func (r *replicas) nonce(replica int) string {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodHead, r.url("/new-nonce"), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	res := r.do(replica, req)
	n := res.header.Get("Replay-Nonce")
	if n == "" {
		r.t.Fatalf("newNonce of replica %d: status %d and no Replay-Nonce", replica, res.status)
	}
	return n
}

// response is a response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// problemType returns the type of a problem document, or "" for another
// body.
func (r response) problemType() string {
	var p struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		return ""
	}
	return p.Type
}

const badNonce = acme.ErrorNamespace + string(acme.ProblemBadNonce)

// post sends payload (nil for POST-as-GET) to the replica, signed by key
// with the nonce, with the account URL kid or, when kid is "", the JWK.
func (r *replicas) post(replica int, url string, key *ecdsa.PrivateKey, kid, nonce string, payload []byte) response {
	r.t.Helper()
	if payload == nil {
		payload = []byte{}
	}
	body := signJWS(r.t, key, kid, url, nonce, payload)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/jose+json")
	return r.do(replica, req)
}

func (r *replicas) do(replica int, req *http.Request) response {
	r.t.Helper()
	req.Header.Set(replicaHeader, strconv.Itoa(replica))
	res, err := r.ts.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// newAccountPayload returns the newAccount payload that binds key with the
// enrollment.
func newAccountPayload(t testing.TB, en *acme.Enrollment, url string, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	jwk, err := (&jose.JSONWebKey{Key: key.Public()}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	so := (&jose.SignerOptions{}).WithHeader("kid", en.KeyID).WithHeader("url", url)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: en.Key}, so)
	if err != nil {
		t.Fatal(err)
	}
	eab, err := signer.Sign(jwk)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(map[string]any{
		"termsOfServiceAgreed":   true,
		"externalAccountBinding": json.RawMessage(eab.FullSerialize()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// signJWS returns the flattened JWS of an ACME request.
func signJWS(t testing.TB, key *ecdsa.PrivateKey, kid, url, nonce string, payload []byte) []byte {
	t.Helper()
	so := &jose.SignerOptions{EmbedJWK: kid == ""}
	so.WithHeader("url", url).WithHeader("nonce", nonce)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, so)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(sig.FullSerialize())
}

func newAccountKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestNoncesSharedByReplicas checks that a nonce issued by one server on
// the store is accepted once by any server on it, and, as the control, that
// servers with nonces in memory reject each other's nonces.
func TestNoncesSharedByReplicas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		shared bool
	}{
		{"StoreNonces", true},
		{"MemoryNonces", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newSeededStore(t)
			clock := &testClock{now: time.Now()}
			r := newReplicas(t, p, 2, clock, tc.shared)
			key := newAccountKey(t)
			en, err := r.servers[0].NewEnrollment(t.Context(), p.identity, "laptop")
			if err != nil {
				t.Fatal(err)
			}
			newAccount := r.url("/new-account")

			first := r.nonce(0)
			res := r.post(1, newAccount, key, "", first, newAccountPayload(t, en, newAccount, key))
			if !tc.shared {
				if res.problemType() != badNonce {
					t.Fatalf("replica 1 with a nonce of replica 0 in memory: status %d %s, want badNonce", res.status, res.body)
				}
				// The nonce of that response works at the replica that issued it.
				res = r.post(1, newAccount, key, "", res.header.Get("Replay-Nonce"), newAccountPayload(t, en, newAccount, key))
				if res.status != http.StatusCreated {
					t.Fatalf("newAccount with the replica's own nonce: status %d %s", res.status, res.body)
				}
				return
			}
			if res.status != http.StatusCreated {
				t.Fatalf("newAccount at replica 1 with a nonce of replica 0: status %d %s, want 201", res.status, res.body)
			}
			kid := res.header.Get("Location")

			for replica := range 2 {
				again := r.post(replica, kid, key, kid, first, nil)
				if again.problemType() != badNonce {
					t.Errorf("replica %d accepted the used nonce again: status %d %s", replica, again.status, again.body)
				}
			}
			if got := r.post(0, kid, key, kid, res.header.Get("Replay-Nonce"), nil); got.status != http.StatusOK {
				t.Errorf("replica 0 with the nonce of replica 1's response: status %d %s, want 200", got.status, got.body)
			}

			// A server started later has not loaded the key yet, and
			// accepts a nonce issued before it started.
			issued := r.nonce(1)
			late := r.add(p, clock, true)
			if got := r.post(late, kid, key, kid, issued, nil); got.status != http.StatusOK {
				t.Errorf("server started later with an earlier nonce: status %d %s, want 200", got.status, got.body)
			}
		})
	}
}

func TestSharedNonceExpires(t *testing.T) {
	t.Parallel()
	p := newSeededStore(t)
	clock := &testClock{now: time.Now()}
	r := newReplicas(t, p, 2, clock, true)
	key := newAccountKey(t)
	stale := r.nonce(0)
	clock.Advance(acme.DefaultNonceLifetime)

	en, err := r.servers[0].NewEnrollment(t.Context(), p.identity, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	newAccount := r.url("/new-account")
	res := r.post(1, newAccount, key, "", stale, newAccountPayload(t, en, newAccount, key))
	if res.problemType() != badNonce {
		t.Fatalf("nonce as old as its lifetime: status %d %s, want badNonce", res.status, res.body)
	}
	res = r.post(1, newAccount, key, "", res.header.Get("Replay-Nonce"), newAccountPayload(t, en, newAccount, key))
	if res.status != http.StatusCreated {
		t.Fatalf("newAccount with the fresh nonce: status %d %s", res.status, res.body)
	}
}

// TestSharedNonceUsedOnceConcurrently sends one nonce to both replicas at
// once, several times over: exactly one request may pass.
func TestSharedNonceUsedOnceConcurrently(t *testing.T) {
	t.Parallel()
	p := newSeededStore(t)
	clock := &testClock{now: time.Now()}
	r := newReplicas(t, p, 2, clock, true)
	key := newAccountKey(t)
	en, err := r.servers[0].NewEnrollment(t.Context(), p.identity, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	newAccount := r.url("/new-account")
	res := r.post(0, newAccount, key, "", r.nonce(0), newAccountPayload(t, en, newAccount, key))
	if res.status != http.StatusCreated {
		t.Fatalf("newAccount: status %d %s", res.status, res.body)
	}
	kid := res.header.Get("Location")

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
}
