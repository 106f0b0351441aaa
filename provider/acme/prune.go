package acme

import (
	"context"
	"slices"
	"time"
)

// Pruner is a Backend that deletes records after they expire. Server.Prune
// calls it.
type Pruner interface {
	// Prune deletes what expired before now: orders (each with its
	// authorization, whatever its status), EAB credentials never used, and
	// the records of used nonces. A used EAB credential may stay for its
	// account, but without its HMAC key, and EABCredential then returns
	// ErrNotFound for it. Accounts and certificates, revoked or not, are
	// kept. Prune returns what it removed, also with an error for the part
	// done before the error. Several concurrent calls, also from several
	// processes on one database, must be safe.
	Prune(ctx context.Context, now time.Time) (PruneCounts, error)
}

// PruneCounts are the numbers of records that one Prune removed.
type PruneCounts struct {
	// Orders is the number of expired orders deleted, each with its
	// authorization.
	Orders int64
	// Credentials is the number of expired EAB credentials deleted, or
	// erased of their HMAC key when an account was created with them.
	Credentials int64
	// Nonces is the number of records of used nonces deleted.
	Nonces int64
}

// Prune deletes the records of the Backend that expired at the Server's
// current time, when the Backend is a Pruner (see Pruner.Prune for what
// goes and what stays). Otherwise it does nothing and returns zero counts.
// The provider calls it periodically. Calls from several Servers on one
// backend at once are safe.
func (s *Server) Prune(ctx context.Context) (PruneCounts, error) {
	p, ok := s.backend.(Pruner)
	if !ok {
		return PruneCounts{}, nil
	}
	return p.Prune(ctx, s.cfg.Now())
}

var _ Pruner = (*MemoryBackend)(nil)

// Prune implements Pruner. It keeps nothing of an expired credential, used
// or not.
func (m *MemoryBackend) Prune(ctx context.Context, now time.Time) (PruneCounts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n PruneCounts
	for id, o := range m.orders {
		if o.Expires.Before(now) {
			delete(m.orders, id)
			m.accountOrder[o.AccountID] = slices.DeleteFunc(m.accountOrder[o.AccountID], func(other string) bool { return other == id })
			n.Orders++
		}
	}
	for keyID, c := range m.credentials {
		if c.Expires.Before(now) {
			delete(m.credentials, keyID)
			n.Credentials++
		}
	}
	return n, nil
}
