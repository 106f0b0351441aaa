package store

import (
	"context"
	"errors"
	"fmt"
)

// reader implements Reader with the queries of this package on a querier.
type reader struct {
	q querier
}

const accountColumns = `id, name, password_hash, created_at`

func scanAccount(r row) (*Account, error) {
	a := &Account{}
	err := r.Scan(&a.ID, &a.Name, &a.PasswordHash, nullTime{&a.CreatedAt})
	return a, err
}

// AccountByName implements Reader.
func (r *reader) AccountByName(ctx context.Context, name string) (*Account, error) {
	a, err := scanAccount(r.q.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE name = $1`, name))
	return found(a, err, "account %q", name)
}

// Accounts implements Reader.
func (r *reader) Accounts(ctx context.Context) ([]*Account, error) {
	list, err := collect(ctx, r.q, scanAccount, `SELECT `+accountColumns+` FROM accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return list, nil
}

// AccountByID implements Reader.
func (r *reader) AccountByID(ctx context.Context, id int64) (*Account, error) {
	a, err := scanAccount(r.q.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	return found(a, err, "account %d", id)
}

const identityColumns = `id, account_id, handle, did, hosted, verified, csc_cert, csc_key, created_at`

func scanIdentity(r row) (*Identity, error) {
	id := &Identity{}
	err := r.Scan(&id.ID, &id.AccountID, &id.Handle, &id.DID, &id.Hosted, &id.Verified,
		&id.CSCCert, &id.CSCKey, nullTime{&id.CreatedAt})
	return id, err
}

// IdentityByHandle implements Reader.
func (r *reader) IdentityByHandle(ctx context.Context, handle string) (*Identity, error) {
	id, err := scanIdentity(r.q.queryRow(ctx, `SELECT `+identityColumns+` FROM identities WHERE handle = $1`, handle))
	return found(id, err, "identity %q", handle)
}

// IdentityByID implements Reader.
func (r *reader) IdentityByID(ctx context.Context, id int64) (*Identity, error) {
	ident, err := scanIdentity(r.q.queryRow(ctx, `SELECT `+identityColumns+` FROM identities WHERE id = $1`, id))
	return found(ident, err, "identity %d", id)
}

// Identities implements Reader.
func (r *reader) Identities(ctx context.Context, accountID int64) ([]*Identity, error) {
	query := `SELECT ` + identityColumns + ` FROM identities WHERE account_id = $1 ORDER BY id`
	args := []any{accountID}
	if accountID == 0 {
		query = `SELECT ` + identityColumns + ` FROM identities ORDER BY id`
		args = nil
	}
	list, err := collect(ctx, r.q, scanIdentity, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list identities of account %d: %w", accountID, err)
	}
	return list, nil
}

const deviceColumns = `id, identity_id, label, serial, fingerprint, status, cert_der, created_at, last_seen, revoked_at, revocation_reason`

func scanDevice(r row) (*Device, error) {
	d := &Device{}
	err := r.Scan(&d.ID, &d.IdentityID, &d.Label, &d.Serial, &d.Fingerprint, &d.Status, &d.CertDER,
		nullTime{&d.CreatedAt}, nullTime{&d.LastSeen}, nullTime{&d.RevokedAt}, &d.RevocationReason)
	return d, err
}

// Devices implements Reader.
func (r *reader) Devices(ctx context.Context, identityID int64) ([]*Device, error) {
	query := `SELECT ` + deviceColumns + ` FROM devices WHERE identity_id = $1 ORDER BY id`
	args := []any{identityID}
	if identityID == 0 {
		query = `SELECT ` + deviceColumns + ` FROM devices ORDER BY id`
		args = nil
	}
	list, err := collect(ctx, r.q, scanDevice, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list devices of identity %d: %w", identityID, err)
	}
	return list, nil
}

// DeviceBySerial implements Reader.
func (r *reader) DeviceBySerial(ctx context.Context, serial string) (*Device, error) {
	d, err := scanDevice(r.q.queryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE serial = $1`, serial))
	return found(d, err, "device with serial %q", serial)
}

// Enrollment implements Reader.
func (r *reader) Enrollment(ctx context.Context, keyID string) (*Enrollment, error) {
	e := &Enrollment{}
	err := r.q.queryRow(ctx, `SELECT key_id, identity_id, label, mac_key, expires_at, used_at FROM enrollments WHERE key_id = $1`, keyID).
		Scan(&e.KeyID, &e.IdentityID, &e.Label, &e.MACKeyHash, nullTime{&e.ExpiresAt}, nullTime{&e.UsedAt})
	return found(e, err, "enrollment %q", keyID)
}

// Audit implements Reader.
func (r *reader) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read audit log: limit %d is not positive", limit)
	}
	scan := func(r row) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, nullTime{&e.At}, &e.Actor, &e.Action, &e.Subject, &e.Detail)
		return e, err
	}
	list, err := collect(ctx, r.q, scan, `SELECT id, at, actor, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return list, nil
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, q querier, scan func(row) (T, error), query string, args ...any) ([]T, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()

	list := []T{}
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rs.Err()
}

// found returns v, or nil and lookupError(err, ...) when err is not nil.
func found[T any](v *T, err error, format string, args ...any) (*T, error) {
	if err != nil {
		return nil, lookupError(err, format, args...)
	}
	return v, nil
}

// lookupError turns errNoRows into an error that wraps ErrNotFound and names
// the object, and wraps any other error with the object. It returns nil for
// a nil error.
func lookupError(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, errNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("read %s: %w", what, err)
}
