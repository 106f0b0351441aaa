package store

import (
	"context"
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
