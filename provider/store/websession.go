package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WebSessionReader is the read side of the state that the web pages of
// every provider process share, part of Reader: the list of signed-out
// sessions and the sealed secrets of the pages.
type WebSessionReader interface {
	// WebSessionRevoked reports whether RevokeWebSession listed the
	// session with the ID. It reports true until DeleteExpiredWebSessions
	// removes the entry, and does not compare the entry's expiry with the
	// clock.
	WebSessionRevoked(ctx context.Context, id string) (bool, error)

	// WebSecret returns the sealed secret with the name. It returns an
	// error wrapping ErrNotFound when there is none.
	WebSecret(ctx context.Context, name string) ([]byte, error)
}

// WebSessionWriter is the write side of WebSessionReader, part of Tx.
type WebSessionWriter interface {
	// RevokeWebSession lists the session with the ID as signed out until
	// expiresAt, the time after which the session is invalid anyway. A
	// session listed already keeps the later of the two expiry times, and
	// the call returns nil. A zero expiresAt is an error.
	RevokeWebSession(ctx context.Context, id string, expiresAt time.Time) error

	// DeleteExpiredWebSessions removes the entries of signed-out sessions
	// whose expiry lies before the given time, and returns how many it
	// removed.
	DeleteExpiredWebSessions(ctx context.Context, before time.Time) (int64, error)

	// CreateWebSecret stores a sealed secret under name. It returns an
	// error wrapping ErrConflict when the name is taken, so that of several
	// processes that create the same secret one wins and the others read
	// it.
	CreateWebSecret(ctx context.Context, name string, sealed []byte) error
}

// WebSessionRevoked implements WebSessionReader.
func (r *reader) WebSessionRevoked(ctx context.Context, id string) (bool, error) {
	var one int64
	err := r.q.queryRow(ctx, `SELECT 1 FROM web_session_revocations WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, errNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the revocation of web session %q: %w", id, err)
	}
	return true, nil
}

// WebSecret implements WebSessionReader.
func (r *reader) WebSecret(ctx context.Context, name string) ([]byte, error) {
	var value []byte
	err := r.q.queryRow(ctx, `SELECT value FROM web_secrets WHERE name = $1`, name).Scan(&value)
	if err != nil {
		return nil, lookupError(err, "web secret %q", name)
	}
	return value, nil
}

// RevokeWebSession implements WebSessionWriter.
func (t *txn) RevokeWebSession(ctx context.Context, id string, expiresAt time.Time) error {
	expiresAt = dbTime(expiresAt)
	if expiresAt.IsZero() {
		return fmt.Errorf("revoke web session %q: the expiry time is missing", id)
	}
	_, err := t.q.exec(ctx, `INSERT INTO web_session_revocations (id, expires_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
		WHERE web_session_revocations.expires_at < excluded.expires_at`, id, expiresAt)
	if err != nil {
		return fmt.Errorf("revoke web session %q: %w", id, err)
	}
	return nil
}

// DeleteExpiredWebSessions implements WebSessionWriter.
func (t *txn) DeleteExpiredWebSessions(ctx context.Context, before time.Time) (int64, error) {
	before = dbTime(before)
	if before.IsZero() {
		return 0, errors.New("delete expired web session revocations: the time is missing")
	}
	n, err := t.q.exec(ctx, `DELETE FROM web_session_revocations WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("delete expired web session revocations: %w", err)
	}
	return n, nil
}

// CreateWebSecret implements WebSessionWriter.
func (t *txn) CreateWebSecret(ctx context.Context, name string, sealed []byte) error {
	n, err := t.q.exec(ctx, `INSERT INTO web_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		name, sealed, nowOr(time.Time{}))
	return insertError(n, err, "create web secret %q", name)
}
