package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ACMEAccount is the row of one ACME account. The store keeps the keys
// that its rules and queries use as columns and the rest of the record as
// the caller's opaque Data (package acmestore writes JSON).
type ACMEAccount struct {
	// ID is the account ID, unique.
	ID string

	// IdentityID is the identity the account is bound to.
	IdentityID int64

	// Thumbprint is the RFC 7638 thumbprint of the account key, unique.
	Thumbprint string

	// EABKeyID is the enrollment (Enrollment.KeyID) that created the
	// account, unique: one enrollment makes at most one account.
	EABKeyID string

	// Data is the rest of the record, kept as it is.
	Data []byte
}

// ACMEOrder is the row of one ACME order.
type ACMEOrder struct {
	// ID is the order ID, unique.
	ID string

	// AccountID is the account that created the order.
	AccountID string

	// Status is the order status, which UpdateACMEOrder compares.
	Status string

	// Replaces is the RFC 9773 identifier of the certificate the order
	// replaces, "" for none.
	Replaces string

	// Expires is required. It is stored with microsecond precision and
	// returned in UTC.
	Expires time.Time

	// Data is the rest of the record, kept as it is.
	Data []byte
}

// ACMECertificate is what the ACME server keeps of an issued device
// certificate beyond its device row (Device with the same Serial), which
// holds the certificate and its revocation.
type ACMECertificate struct {
	// Serial is the serial of the device row, lowercase hex.
	Serial string

	// AccountID and OrderID name the account and order that got it.
	AccountID, OrderID string

	// Chain is the certificate chain as the caller encodes it.
	Chain []byte
}

// ACMEReader is the read side of the ACME rows, part of Reader. Lookups of
// one row return an error wrapping ErrNotFound when there is none.
type ACMEReader interface {
	// ACMEAccount returns the account with the ID.
	ACMEAccount(ctx context.Context, id string) (*ACMEAccount, error)

	// ACMEAccountByThumbprint returns the account whose key has the
	// thumbprint.
	ACMEAccountByThumbprint(ctx context.Context, thumbprint string) (*ACMEAccount, error)

	// ACMEAccountByEABKey returns the account created with the enrollment
	// keyID.
	ACMEAccountByEABKey(ctx context.Context, keyID string) (*ACMEAccount, error)

	// ACMEOrder returns the order with the ID.
	ACMEOrder(ctx context.Context, id string) (*ACMEOrder, error)

	// ACMEOrderIDs returns up to limit order IDs of the account, oldest
	// first, starting after the order after ("" for the first page). It
	// returns an error wrapping ErrNotFound when after is not an order of
	// the account, and an error when limit is not positive.
	ACMEOrderIDs(ctx context.Context, accountID, after string, limit int) ([]string, error)

	// ACMEOrdersReplacing returns every order whose Replaces is replaces,
	// which must not be empty.
	ACMEOrdersReplacing(ctx context.Context, replaces string) ([]*ACMEOrder, error)

	// ACMECertificate returns the certificate row with the serial.
	ACMECertificate(ctx context.Context, serial string) (*ACMECertificate, error)
}

// ACMEWriter is the write side of the ACME rows, part of Tx.
type ACMEWriter interface {
	// CreateACMEAccount stores a. It returns an error wrapping ErrConflict
	// when its ID, Thumbprint or EABKeyID is taken, and one wrapping
	// ErrNotFound when its identity or enrollment does not exist.
	CreateACMEAccount(ctx context.Context, a *ACMEAccount) error

	// UpdateACMEAccount replaces the thumbprint and data of the account
	// a.ID. It returns an error wrapping ErrNotFound when the account does
	// not exist and one wrapping ErrConflict when another account has the
	// thumbprint.
	UpdateACMEAccount(ctx context.Context, a *ACMEAccount) error

	// CreateACMEOrder stores o. It returns an error wrapping ErrConflict
	// when its ID is taken and one wrapping ErrNotFound when its account
	// does not exist.
	CreateACMEOrder(ctx context.Context, o *ACMEOrder) error

	// UpdateACMEOrder replaces the order o.ID when its stored status is
	// prevStatus, in one statement. It returns an error wrapping
	// ErrConflict when the stored status differs and one wrapping
	// ErrNotFound when the order does not exist.
	UpdateACMEOrder(ctx context.Context, o *ACMEOrder, prevStatus string) error

	// CreateACMECertificate stores c. It returns an error wrapping
	// ErrConflict when the serial is taken and one wrapping ErrNotFound
	// when no device has the serial.
	CreateACMECertificate(ctx context.Context, c *ACMECertificate) error
}

const acmeAccountColumns = `id, identity_id, thumbprint, eab_key_id, data`

func scanACMEAccount(r row) (*ACMEAccount, error) {
	a := &ACMEAccount{}
	err := r.Scan(&a.ID, &a.IdentityID, &a.Thumbprint, &a.EABKeyID, &a.Data)
	return a, err
}

// ACMEAccount implements ACMEReader.
func (r *reader) ACMEAccount(ctx context.Context, id string) (*ACMEAccount, error) {
	a, err := scanACMEAccount(r.q.queryRow(ctx, `SELECT `+acmeAccountColumns+` FROM acme_accounts WHERE id = $1`, id))
	return found(a, err, "ACME account %q", id)
}

// ACMEAccountByThumbprint implements ACMEReader.
func (r *reader) ACMEAccountByThumbprint(ctx context.Context, thumbprint string) (*ACMEAccount, error) {
	a, err := scanACMEAccount(r.q.queryRow(ctx, `SELECT `+acmeAccountColumns+` FROM acme_accounts WHERE thumbprint = $1`, thumbprint))
	return found(a, err, "ACME account with key thumbprint %q", thumbprint)
}

// ACMEAccountByEABKey implements ACMEReader.
func (r *reader) ACMEAccountByEABKey(ctx context.Context, keyID string) (*ACMEAccount, error) {
	a, err := scanACMEAccount(r.q.queryRow(ctx, `SELECT `+acmeAccountColumns+` FROM acme_accounts WHERE eab_key_id = $1`, keyID))
	return found(a, err, "ACME account of enrollment %q", keyID)
}

const acmeOrderColumns = `id, account_id, status, replaces, expires_at, data`

func scanACMEOrder(r row) (*ACMEOrder, error) {
	o := &ACMEOrder{}
	err := r.Scan(&o.ID, &o.AccountID, &o.Status, &o.Replaces, nullTime{&o.Expires}, &o.Data)
	return o, err
}

// ACMEOrder implements ACMEReader.
func (r *reader) ACMEOrder(ctx context.Context, id string) (*ACMEOrder, error) {
	o, err := scanACMEOrder(r.q.queryRow(ctx, `SELECT `+acmeOrderColumns+` FROM acme_orders WHERE id = $1`, id))
	return found(o, err, "ACME order %q", id)
}

// ACMEOrderIDs implements ACMEReader.
func (r *reader) ACMEOrderIDs(ctx context.Context, accountID, after string, limit int) ([]string, error) {
	// SQLite reads a negative LIMIT as no limit and PostgreSQL rejects it,
	// so the check is here, the same for both.
	if limit <= 0 {
		return nil, fmt.Errorf("list ACME orders of account %q: limit %d is not positive", accountID, limit)
	}
	var start int64
	if after != "" {
		err := r.q.queryRow(ctx, `SELECT seq FROM acme_orders WHERE id = $1 AND account_id = $2`, after, accountID).Scan(&start)
		if err != nil {
			return nil, lookupError(err, "ACME order %q of account %q", after, accountID)
		}
	}
	scan := func(r row) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	}
	ids, err := collect(ctx, r.q, scan, `SELECT id FROM acme_orders WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		accountID, start, limit)
	if err != nil {
		return nil, fmt.Errorf("list ACME orders of account %q: %w", accountID, err)
	}
	return ids, nil
}

// ACMEOrdersReplacing implements ACMEReader.
func (r *reader) ACMEOrdersReplacing(ctx context.Context, replaces string) ([]*ACMEOrder, error) {
	if replaces == "" {
		return nil, errors.New("list ACME orders replacing a certificate: the certificate identifier is empty")
	}
	list, err := collect(ctx, r.q, scanACMEOrder, `SELECT `+acmeOrderColumns+` FROM acme_orders WHERE replaces = $1 ORDER BY seq`, replaces)
	if err != nil {
		return nil, fmt.Errorf("list ACME orders replacing %q: %w", replaces, err)
	}
	return list, nil
}

// ACMECertificate implements ACMEReader.
func (r *reader) ACMECertificate(ctx context.Context, serial string) (*ACMECertificate, error) {
	c := &ACMECertificate{}
	err := r.q.queryRow(ctx, `SELECT serial, account_id, order_id, chain FROM acme_certificates WHERE serial = $1`, serial).
		Scan(&c.Serial, &c.AccountID, &c.OrderID, &c.Chain)
	return found(c, err, "ACME certificate %q", serial)
}

// CreateACMEAccount implements ACMEWriter.
func (t *txn) CreateACMEAccount(ctx context.Context, a *ACMEAccount) error {
	n, err := t.q.exec(ctx, `INSERT INTO acme_accounts (id, identity_id, thumbprint, eab_key_id, data)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		a.ID, a.IdentityID, a.Thumbprint, a.EABKeyID, a.Data)
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("create ACME account %q: identity %d or enrollment %q: %w", a.ID, a.IdentityID, a.EABKeyID, ErrNotFound)
	}
	return insertError(n, err, "create ACME account %q", a.ID)
}

// UpdateACMEAccount implements ACMEWriter.
func (t *txn) UpdateACMEAccount(ctx context.Context, a *ACMEAccount) error {
	n, err := t.q.exec(ctx, `UPDATE acme_accounts SET thumbprint = $2, data = $3 WHERE id = $1`, a.ID, a.Thumbprint, a.Data)
	if errors.Is(err, errUnique) {
		return fmt.Errorf("update ACME account %q: key thumbprint %q is taken: %w", a.ID, a.Thumbprint, ErrConflict)
	}
	return updateError(n, err, "ACME account %q", a.ID)
}

// CreateACMEOrder implements ACMEWriter.
func (t *txn) CreateACMEOrder(ctx context.Context, o *ACMEOrder) error {
	o.Expires = dbTime(o.Expires)
	if o.Expires.IsZero() {
		return fmt.Errorf("create ACME order %q: the expiry time is missing", o.ID)
	}
	n, err := t.q.exec(ctx, `INSERT INTO acme_orders (id, account_id, status, replaces, expires_at, data)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		o.ID, o.AccountID, o.Status, o.Replaces, o.Expires, o.Data)
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("create ACME order %q: account %q: %w", o.ID, o.AccountID, ErrNotFound)
	}
	return insertError(n, err, "create ACME order %q", o.ID)
}

// UpdateACMEOrder implements ACMEWriter.
func (t *txn) UpdateACMEOrder(ctx context.Context, o *ACMEOrder, prevStatus string) error {
	o.Expires = dbTime(o.Expires)
	if o.Expires.IsZero() {
		return fmt.Errorf("update ACME order %q: the expiry time is missing", o.ID)
	}
	// The condition on status makes the check and the write one statement.
	n, err := t.q.exec(ctx, `UPDATE acme_orders SET status = $3, replaces = $4, expires_at = $5, data = $6 WHERE id = $1 AND status = $2`,
		o.ID, prevStatus, o.Status, o.Replaces, o.Expires, o.Data)
	if err != nil || n > 0 {
		return updateError(n, err, "ACME order %q", o.ID)
	}

	var status string
	err = t.q.queryRow(ctx, `SELECT status FROM acme_orders WHERE id = $1`, o.ID).Scan(&status)
	if err != nil {
		return lookupError(err, "ACME order %q", o.ID)
	}
	return fmt.Errorf("update ACME order %q: status is %q, not %q: %w", o.ID, status, prevStatus, ErrConflict)
}

// CreateACMECertificate implements ACMEWriter.
func (t *txn) CreateACMECertificate(ctx context.Context, c *ACMECertificate) error {
	n, err := t.q.exec(ctx, `INSERT INTO acme_certificates (serial, account_id, order_id, chain) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		c.Serial, c.AccountID, c.OrderID, c.Chain)
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("create ACME certificate %q: device: %w", c.Serial, ErrNotFound)
	}
	return insertError(n, err, "create ACME certificate %q", c.Serial)
}
