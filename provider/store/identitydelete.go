package store

import (
	"context"
	"errors"
	"fmt"
)

// deleteIdentityStatements delete the rows that name an identity, children
// before the rows they reference, so that no foreign key fails on either
// database. $1 is the identity's ID.
var deleteIdentityStatements = []string{
	`DELETE FROM oidc_tokens WHERE identity_id = $1
		OR grant_id IN (SELECT id FROM oidc_auth_requests WHERE identity_id = $1)`,
	`DELETE FROM oidc_consents WHERE identity_id = $1`,
	`DELETE FROM oidc_auth_requests WHERE identity_id = $1`,
	`DELETE FROM acme_certificates WHERE serial IN (SELECT serial FROM devices WHERE identity_id = $1)`,
	`DELETE FROM acme_orders WHERE account_id IN (SELECT id FROM acme_accounts WHERE identity_id = $1)`,
	`DELETE FROM acme_accounts WHERE identity_id = $1`,
	`DELETE FROM enrollments WHERE identity_id = $1`,
	`DELETE FROM devices WHERE identity_id = $1`,
}

// DeleteIdentity implements Tx.
func (t *txn) DeleteIdentity(ctx context.Context, id int64) error {
	if _, err := t.IdentityByID(ctx, id); err != nil {
		return err
	}
	for _, stmt := range deleteIdentityStatements {
		if _, err := t.q.exec(ctx, stmt, id); err != nil {
			return fmt.Errorf("delete identity %d: %w", id, err)
		}
	}
	if _, err := t.q.exec(ctx, `DELETE FROM identities WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete identity %d: %w", id, err)
	}
	return nil
}

// DeleteAccount implements Tx.
func (t *txn) DeleteAccount(ctx context.Context, id int64) error {
	if _, err := t.AccountByID(ctx, id); err != nil {
		return err
	}
	var one int64
	err := t.q.queryRow(ctx, `SELECT 1 FROM identities WHERE account_id = $1 LIMIT 1`, id).Scan(&one)
	if err == nil {
		return fmt.Errorf("delete account %d: it still has identities: %w", id, ErrConflict)
	}
	if !errors.Is(err, errNoRows) {
		return fmt.Errorf("delete account %d: %w", id, err)
	}
	for _, stmt := range []string{
		`DELETE FROM oidc_consents WHERE account_id = $1`,
		`DELETE FROM accounts WHERE id = $1`,
	} {
		if _, err := t.q.exec(ctx, stmt, id); err != nil {
			return fmt.Errorf("delete account %d: %w", id, err)
		}
	}
	return nil
}
