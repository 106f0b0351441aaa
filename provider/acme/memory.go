package acme

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// MemoryBackend is a Backend that keeps everything in process memory, for
// tests, benchmarks and single-process demos. Its state is lost when the
// process ends. It is safe for concurrent use: one mutex guards all maps,
// so every method is one transaction.
type MemoryBackend struct {
	mu           sync.Mutex
	issuers      map[string]*Issuer
	credentials  map[string]*EABCredential
	accounts     map[string]*Account
	thumbprints  map[string]string // thumbprint -> account ID
	orders       map[string]*Order
	accountOrder map[string][]string // account ID -> order IDs, oldest first
	certificates map[string]*Certificate
}

// NewMemoryBackend returns an empty MemoryBackend.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{
		issuers:      make(map[string]*Issuer),
		credentials:  make(map[string]*EABCredential),
		accounts:     make(map[string]*Account),
		thumbprints:  make(map[string]string),
		orders:       make(map[string]*Order),
		accountOrder: make(map[string][]string),
		certificates: make(map[string]*Certificate),
	}
}

// AddIssuer stores or replaces the issuer of iss.IdentityID. The provider's
// identity store does this in a SQL backend. The CSC is shared, not copied.
func (m *MemoryBackend) AddIssuer(iss *Issuer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *iss
	m.issuers[iss.IdentityID] = &c
}

// Issuer implements Backend.
func (m *MemoryBackend) Issuer(ctx context.Context, identityID string) (*Issuer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	iss, ok := m.issuers[identityID]
	if !ok {
		return nil, fmt.Errorf("identity %q: %w", identityID, ErrNotFound)
	}
	c := *iss
	return &c, nil
}

// CreateEABCredential implements Backend.
func (m *MemoryBackend) CreateEABCredential(ctx context.Context, c *EABCredential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.credentials[c.KeyID]; ok {
		return fmt.Errorf("EAB key ID %q: %w", c.KeyID, ErrDuplicate)
	}
	m.credentials[c.KeyID] = copyCredential(c)
	return nil
}

// EABCredential implements Backend.
func (m *MemoryBackend) EABCredential(ctx context.Context, keyID string) (*EABCredential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.credentials[keyID]
	if !ok {
		return nil, fmt.Errorf("EAB key ID %q: %w", keyID, ErrNotFound)
	}
	return copyCredential(c), nil
}

// CreateAccount implements Backend.
func (m *MemoryBackend) CreateAccount(ctx context.Context, a *Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[a.ID]; ok {
		return fmt.Errorf("account %q: %w", a.ID, ErrDuplicate)
	}
	if _, ok := m.thumbprints[a.Thumbprint]; ok {
		return ErrKeyInUse
	}
	cred, ok := m.credentials[a.EABKeyID]
	if !ok {
		return fmt.Errorf("EAB key ID %q: %w", a.EABKeyID, ErrNotFound)
	}
	if cred.AccountID != "" {
		return ErrEABUsed
	}

	cred.AccountID = a.ID
	m.accounts[a.ID] = copyAccount(a)
	m.thumbprints[a.Thumbprint] = a.ID
	return nil
}

// Account implements Backend.
func (m *MemoryBackend) Account(ctx context.Context, id string) (*Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok {
		return nil, fmt.Errorf("account %q: %w", id, ErrNotFound)
	}
	return copyAccount(a), nil
}

// AccountByThumbprint implements Backend.
func (m *MemoryBackend) AccountByThumbprint(ctx context.Context, thumbprint string) (*Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.thumbprints[thumbprint]
	if !ok {
		return nil, fmt.Errorf("account key %q: %w", thumbprint, ErrNotFound)
	}
	return copyAccount(m.accounts[id]), nil
}

// UpdateAccount implements Backend.
func (m *MemoryBackend) UpdateAccount(ctx context.Context, a *Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.accounts[a.ID]
	if !ok {
		return fmt.Errorf("account %q: %w", a.ID, ErrNotFound)
	}
	if owner, ok := m.thumbprints[a.Thumbprint]; ok && owner != a.ID {
		return ErrKeyInUse
	}
	delete(m.thumbprints, old.Thumbprint)
	m.thumbprints[a.Thumbprint] = a.ID
	m.accounts[a.ID] = copyAccount(a)
	return nil
}

// CreateOrder implements Backend.
func (m *MemoryBackend) CreateOrder(ctx context.Context, o *Order) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.orders[o.ID]; ok {
		return fmt.Errorf("order %q: %w", o.ID, ErrDuplicate)
	}
	if o.Replaces != "" {
		for _, other := range m.orders {
			if other.Replaces == o.Replaces && other.Status != OrderInvalid && other.Expires.After(o.Created) {
				return ErrAlreadyReplaced
			}
		}
	}
	m.orders[o.ID] = copyOrder(o)
	m.accountOrder[o.AccountID] = append(m.accountOrder[o.AccountID], o.ID)
	return nil
}

// Order implements Backend.
func (m *MemoryBackend) Order(ctx context.Context, id string) (*Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return nil, fmt.Errorf("order %q: %w", id, ErrNotFound)
	}
	return copyOrder(o), nil
}

// UpdateOrder implements Backend.
func (m *MemoryBackend) UpdateOrder(ctx context.Context, o *Order, prev OrderStatus) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.orders[o.ID]
	if !ok {
		return fmt.Errorf("order %q: %w", o.ID, ErrNotFound)
	}
	if old.Status != prev {
		return fmt.Errorf("order %q is %s, expected %s: %w", o.ID, old.Status, prev, ErrStatusChanged)
	}
	m.orders[o.ID] = copyOrder(o)
	return nil
}

// AccountOrders implements Backend.
func (m *MemoryBackend) AccountOrders(ctx context.Context, accountID, after string, limit int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.accountOrder[accountID]
	start := 0
	if after != "" {
		i := slices.Index(ids, after)
		if i < 0 {
			return nil, fmt.Errorf("order %q of account %q: %w", after, accountID, ErrNotFound)
		}
		start = i + 1
	}
	end := min(start+limit, len(ids))
	return slices.Clone(ids[start:end]), nil
}

// CreateCertificate implements Backend.
func (m *MemoryBackend) CreateCertificate(ctx context.Context, c *Certificate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.certificates[c.Serial]; ok {
		return fmt.Errorf("certificate %s: %w", c.Serial, ErrDuplicate)
	}
	m.certificates[c.Serial] = copyCertificate(c)
	return nil
}

// Certificate implements Backend.
func (m *MemoryBackend) Certificate(ctx context.Context, serial string) (*Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.certificates[serial]
	if !ok {
		return nil, fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
	}
	return copyCertificate(c), nil
}

// IdentityCertificates implements Backend.
func (m *MemoryBackend) IdentityCertificates(ctx context.Context, identityID string) ([]*Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Certificate
	for _, c := range m.certificates {
		if c.IdentityID == identityID {
			out = append(out, copyCertificate(c))
		}
	}
	return out, nil
}

// RevokeCertificate implements Backend.
func (m *MemoryBackend) RevokeCertificate(ctx context.Context, serial string, reason pki.RevocationReason, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.certificates[serial]
	if !ok {
		return fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
	}
	if c.Revoked {
		return ErrAlreadyRevoked
	}
	c.Revoked = true
	c.RevokedAt = at
	c.Reason = reason
	return nil
}

func copyCredential(c *EABCredential) *EABCredential {
	out := *c
	out.Key = slices.Clone(c.Key)
	return &out
}

func copyAccount(a *Account) *Account {
	out := *a
	out.Key = slices.Clone(a.Key)
	out.Contact = slices.Clone(a.Contact)
	return &out
}

func copyOrder(o *Order) *Order {
	out := *o
	return &out
}

func copyCertificate(c *Certificate) *Certificate {
	out := *c
	out.Chain = make([][]byte, len(c.Chain))
	for i, der := range c.Chain {
		out.Chain[i] = slices.Clone(der)
	}
	return &out
}
