package acme

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// nonceSource issues anti-replay nonces (RFC 8555, section 6.5) and accepts
// each one once, until it expires. The Server uses sharedNonces when its
// Backend is a NonceBackend, and nonceStore otherwise.
type nonceSource interface {
	// issue returns a fresh nonce. An error means that no nonce could be
	// made, for example because the backend failed.
	issue(ctx context.Context) (string, error)
	// use consumes n and reports whether it was issued, unused and not
	// expired. An error means that the check could not be made.
	use(ctx context.Context, n string) (bool, error)
}

// nonceStore is the nonceSource of one process: it keeps the nonces it
// issued in memory, at most max of them, and drops the oldest beyond that,
// so a client flooding newNonce costs a bounded amount of memory. A dropped
// nonce gets badNonce, and the client retries with the fresh nonce of that
// response.
//
// Its nonces are lost when the process ends and unknown to other processes.
// Replicas behind a load balancer therefore use a NonceBackend.
type nonceStore struct {
	mu       sync.Mutex
	issued   map[string]time.Time // nonce -> expiry
	order    []string             // issue order, for eviction
	head     int                  // index of the oldest live entry of order
	max      int
	lifetime time.Duration
	now      func() time.Time
}

func newNonceStore(max int, lifetime time.Duration, now func() time.Time) *nonceStore {
	return &nonceStore{issued: make(map[string]time.Time), max: max, lifetime: lifetime, now: now}
}

// issue implements nonceSource: the nonce is 128 random bits in base64url.
func (s *nonceStore) issue(context.Context) (string, error) {
	var b [16]byte
	// crypto/rand.Read never returns an error since Go 1.24.
	_, _ = rand.Read(b[:])
	n := base64.RawURLEncoding.EncodeToString(b[:])

	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.issued) >= s.max && s.head < len(s.order) {
		delete(s.issued, s.order[s.head])
		s.head++
	}
	// Used nonces leave the map but stay in order; drop them now and then
	// so that order stays within a constant factor of max.
	if len(s.order)-s.head > 2*s.max {
		live := make([]string, 0, len(s.issued)+1)
		for _, old := range s.order[s.head:] {
			if _, ok := s.issued[old]; ok {
				live = append(live, old)
			}
		}
		s.order, s.head = live, 0
	}
	s.issued[n] = s.now().Add(s.lifetime)
	s.order = append(s.order, n)
	return n, nil
}

// use implements nonceSource.
func (s *nonceStore) use(_ context.Context, n string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	expires, ok := s.issued[n]
	if !ok {
		return false, nil
	}
	delete(s.issued, n)
	return s.now().Before(expires), nil
}
