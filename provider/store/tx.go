package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// txn implements Tx with the queries of this package on a transaction.
type txn struct {
	reader

	// journalLimit is the journal retention of UpdateZone, see
	// DefaultJournalLimit.
	journalLimit int
}

// CreateAccount implements Tx.
func (t *txn) CreateAccount(ctx context.Context, a *Account) error {
	a.CreatedAt = nowOr(a.CreatedAt)
	err := t.q.queryRow(ctx, `INSERT INTO accounts (name, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id`,
		a.Name, a.PasswordHash, a.CreatedAt).Scan(&a.ID)
	return writeError(err, "create account %q", a.Name)
}

// CreateIdentity implements Tx.
func (t *txn) CreateIdentity(ctx context.Context, id *Identity) error {
	id.CreatedAt = nowOr(id.CreatedAt)
	err := t.q.queryRow(ctx, `INSERT INTO identities (account_id, handle, did, hosted, verified, csc_cert, csc_key, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id`,
		id.AccountID, id.Handle, id.DID, id.Hosted, id.Verified, id.CSCCert, id.CSCKey, id.CreatedAt).Scan(&id.ID)
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("create identity %q: account %d: %w", id.Handle, id.AccountID, ErrNotFound)
	}
	return writeError(err, "create identity %q", id.Handle)
}

// SetIdentityVerified implements Tx.
func (t *txn) SetIdentityVerified(ctx context.Context, id int64, verified bool) error {
	n, err := t.q.exec(ctx, `UPDATE identities SET verified = $2 WHERE id = $1`, id, verified)
	return updateError(n, err, "identity %d", id)
}

// CreateDevice implements Tx.
func (t *txn) CreateDevice(ctx context.Context, d *Device) error {
	if d.Status == "" {
		d.Status = DeviceActive
	}
	if d.Status != DeviceActive && d.Status != DeviceRevoked {
		return fmt.Errorf("create device %q: status %q is invalid: use %q or %q", d.Serial, d.Status, DeviceActive, DeviceRevoked)
	}
	d.CreatedAt = nowOr(d.CreatedAt)
	d.LastSeen, d.RevokedAt = dbTime(d.LastSeen), dbTime(d.RevokedAt)
	err := t.q.queryRow(ctx, `INSERT INTO devices (identity_id, label, serial, fingerprint, status, cert_der, created_at, last_seen, revoked_at, revocation_reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id`,
		d.IdentityID, d.Label, d.Serial, d.Fingerprint, d.Status, d.CertDER, d.CreatedAt, d.LastSeen, d.RevokedAt, d.RevocationReason).Scan(&d.ID)
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("create device %q: identity %d: %w", d.Serial, d.IdentityID, ErrNotFound)
	}
	return writeError(err, "create device with serial %q", d.Serial)
}

// RevokeDevice implements Tx.
func (t *txn) RevokeDevice(ctx context.Context, id int64, at time.Time, reason int) error {
	n, err := t.q.exec(ctx, `UPDATE devices SET status = $2, revoked_at = $3, revocation_reason = $4 WHERE id = $1 AND status <> $2`,
		id, DeviceRevoked, nowOr(at), reason)
	if err != nil || n > 0 {
		return updateError(n, err, "device %d", id)
	}

	// No row changed: tell a missing device from one revoked before.
	var revokedAt time.Time
	err = t.q.queryRow(ctx, `SELECT revoked_at FROM devices WHERE id = $1`, id).Scan(nullTime{&revokedAt})
	if err != nil {
		return lookupError(err, "device %d", id)
	}
	return fmt.Errorf("revoke device %d: revoked already at %s: %w", id, revokedAt.Format(time.RFC3339), ErrConflict)
}

// TouchDevice implements Tx.
func (t *txn) TouchDevice(ctx context.Context, id int64, at time.Time) error {
	n, err := t.q.exec(ctx, `UPDATE devices SET last_seen = $2 WHERE id = $1`, id, nowOr(at))
	return updateError(n, err, "device %d", id)
}

// CreateEnrollment implements Tx.
func (t *txn) CreateEnrollment(ctx context.Context, e *Enrollment) error {
	e.ExpiresAt, e.UsedAt = dbTime(e.ExpiresAt), dbTime(e.UsedAt)
	if e.ExpiresAt.IsZero() {
		return fmt.Errorf("create enrollment %q: the expiry time is missing", e.KeyID)
	}
	n, err := t.q.exec(ctx, `INSERT INTO enrollments (key_id, identity_id, label, mac_key, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		e.KeyID, e.IdentityID, e.Label, e.MACKeyHash, e.ExpiresAt, e.UsedAt)
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("create enrollment %q: identity %d: %w", e.KeyID, e.IdentityID, ErrNotFound)
	}
	return insertError(n, err, "create enrollment %q", e.KeyID)
}

// UseEnrollment implements Tx.
func (t *txn) UseEnrollment(ctx context.Context, keyID string, at time.Time) error {
	// The condition on used_at makes the check and the write one statement,
	// so two transactions cannot both use the enrollment.
	n, err := t.q.exec(ctx, `UPDATE enrollments SET used_at = $2 WHERE key_id = $1 AND used_at IS NULL`, keyID, nowOr(at))
	if err != nil || n > 0 {
		return updateError(n, err, "enrollment %q", keyID)
	}

	var usedAt time.Time
	err = t.q.queryRow(ctx, `SELECT used_at FROM enrollments WHERE key_id = $1`, keyID).Scan(nullTime{&usedAt})
	if err != nil {
		return lookupError(err, "enrollment %q", keyID)
	}
	return fmt.Errorf("use enrollment %q: used already at %s: %w", keyID, usedAt.Format(time.RFC3339), ErrConflict)
}

// AppendAudit implements Tx.
func (t *txn) AppendAudit(ctx context.Context, e AuditEntry) error {
	_, err := t.q.exec(ctx, `INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)`,
		nowOr(e.At), e.Actor, e.Action, e.Subject, e.Detail)
	return writeError(err, "append audit entry %q", e.Action)
}

// writeError returns an error wrapping ErrConflict for an INSERT ... ON
// CONFLICT DO NOTHING RETURNING that returned no row (errNoRows) or that
// broke a unique constraint, and wraps any other error with the operation.
// It returns nil for a nil error.
//
// Inserts skip conflicting rows instead of failing because a failed
// statement aborts a PostgreSQL transaction, and the caller may act on a
// conflict within the same transaction.
func writeError(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, errNoRows) || errors.Is(err, errUnique) {
		return fmt.Errorf("%s: exists already: %w", what, ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// insertError is writeError for an INSERT ... ON CONFLICT DO NOTHING without
// RETURNING, which reports a conflict by changing no row.
func insertError(rowsAffected int64, err error, format string, args ...any) error {
	if err == nil && rowsAffected == 0 {
		err = errNoRows
	}
	return writeError(err, format, args...)
}

// updateError returns an error wrapping ErrNotFound when an UPDATE changed no
// row, and wraps a failed UPDATE's error.
func updateError(rowsAffected int64, err error, format string, args ...any) error {
	if err != nil {
		return fmt.Errorf("update %s: %w", fmt.Sprintf(format, args...), err)
	}
	if rowsAffected == 0 {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotFound)
	}
	return nil
}
