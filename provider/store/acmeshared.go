package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ACMESharedReader is the read side of the ACME state that every provider
// process on the database shares, part of Reader.
type ACMESharedReader interface {
	// ACMESecret returns the sealed secret with the name, such as the key
	// of the ACME server's nonces. It returns an error wrapping ErrNotFound
	// when there is none.
	ACMESecret(ctx context.Context, name string) ([]byte, error)
}

// ACMESharedWriter is the write side of ACMESharedReader, and the deletion
// of expired ACME rows, part of Tx. The ErrConflict of CreateACMESecret and
// UseACMENonce leaves the transaction usable.
type ACMESharedWriter interface {
	// CreateACMESecret stores a sealed secret under name. It returns an
	// error wrapping ErrConflict when the name is taken, so that of several
	// processes that create the same secret one wins and the others read
	// it.
	CreateACMESecret(ctx context.Context, name string, sealed []byte) error

	// UseACMENonce records that the nonce was used, until expiresAt. It
	// returns an error wrapping ErrConflict when the nonce is recorded
	// already: the request is a replay. A zero expiresAt is an error.
	UseACMENonce(ctx context.Context, nonce string, expiresAt time.Time) error

	// DeleteExpiredACME deletes up to limit rows of each kind that expired
	// before the given time: ACME orders (their authorizations are part of
	// them), enrollments that were never used, and records of used nonces.
	// An expired enrollment that was used stays, because its ACME account
	// references it, but loses its sealed key (Enrollment.MACKeyHash
	// becomes nil). Accounts, devices, ACME certificate chains and the
	// audit log are never deleted. A count below limit means that no more
	// rows of that kind had expired. limit must be positive.
	DeleteExpiredACME(ctx context.Context, before time.Time, limit int) (ACMEPruned, error)
}

// ACMEPruned counts the rows that one DeleteExpiredACME call changed.
type ACMEPruned struct {
	// Orders is the number of expired ACME orders deleted.
	Orders int64

	// Enrollments is the number of expired enrollments deleted, none of
	// which had been used.
	Enrollments int64

	// EnrollmentKeys is the number of used, expired enrollments whose
	// sealed key was erased.
	EnrollmentKeys int64

	// Nonces is the number of records of used nonces deleted.
	Nonces int64
}

// Add returns the sum of p and q.
func (p ACMEPruned) Add(q ACMEPruned) ACMEPruned {
	return ACMEPruned{
		Orders:         p.Orders + q.Orders,
		Enrollments:    p.Enrollments + q.Enrollments,
		EnrollmentKeys: p.EnrollmentKeys + q.EnrollmentKeys,
		Nonces:         p.Nonces + q.Nonces,
	}
}

// ACMESecret implements ACMESharedReader.
func (r *reader) ACMESecret(ctx context.Context, name string) ([]byte, error) {
	var value []byte
	err := r.q.queryRow(ctx, `SELECT value FROM acme_secrets WHERE name = $1`, name).Scan(&value)
	if err != nil {
		return nil, lookupError(err, "ACME secret %q", name)
	}
	return value, nil
}

// CreateACMESecret implements ACMESharedWriter.
func (t *txn) CreateACMESecret(ctx context.Context, name string, sealed []byte) error {
	n, err := t.q.exec(ctx, `INSERT INTO acme_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		name, sealed, nowOr(time.Time{}))
	return insertError(n, err, "create ACME secret %q", name)
}

// UseACMENonce implements ACMESharedWriter.
func (t *txn) UseACMENonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if expiresAt.IsZero() {
		return fmt.Errorf("record the use of ACME nonce %q: the expiry time is missing", nonce)
	}
	n, err := t.q.exec(ctx, `INSERT INTO acme_used_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		nonce, dbTime(expiresAt))
	if err == nil && n == 0 {
		return fmt.Errorf("record the use of ACME nonce %q: used already: %w", nonce, ErrConflict)
	}
	return writeError(err, "record the use of ACME nonce %q", nonce)
}

// DeleteExpiredACME implements ACMESharedWriter. Each statement picks at
// most limit rows by an index on the expiry time, so a large backlog is
// worked off in several short transactions instead of one long one.
func (t *txn) DeleteExpiredACME(ctx context.Context, before time.Time, limit int) (ACMEPruned, error) {
	before = dbTime(before)
	switch {
	case before.IsZero():
		return ACMEPruned{}, errors.New("delete expired ACME rows: the time is missing")
	case limit <= 0:
		// SQLite reads a negative LIMIT as no limit and PostgreSQL rejects
		// it, so the check is here, the same for both.
		return ACMEPruned{}, fmt.Errorf("delete expired ACME rows: limit %d is not positive", limit)
	}

	var p ACMEPruned
	steps := []struct {
		count *int64
		sql   string
	}{
		{&p.Orders, `DELETE FROM acme_orders WHERE seq IN
			(SELECT seq FROM acme_orders WHERE expires_at < $1 LIMIT $2)`},
		{&p.Enrollments, `DELETE FROM enrollments WHERE key_id IN
			(SELECT key_id FROM enrollments WHERE used_at IS NULL AND expires_at < $1 LIMIT $2)`},
		{&p.EnrollmentKeys, `UPDATE enrollments SET mac_key = NULL WHERE key_id IN
			(SELECT key_id FROM enrollments WHERE mac_key IS NOT NULL AND used_at IS NOT NULL AND expires_at < $1 LIMIT $2)`},
		{&p.Nonces, `DELETE FROM acme_used_nonces WHERE nonce IN
			(SELECT nonce FROM acme_used_nonces WHERE expires_at < $1 LIMIT $2)`},
	}
	for _, s := range steps {
		n, err := t.q.exec(ctx, s.sql, before, limit)
		if err != nil {
			return p, fmt.Errorf("delete expired ACME rows: %w", err)
		}
		*s.count = n
	}
	return p, nil
}
