package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OIDCClient implements OIDCReader.
func (r *reader) OIDCClient(ctx context.Context, id string) (*OIDCClient, error) {
	c := &OIDCClient{}
	err := r.q.queryRow(ctx, `SELECT id, secret_hash, data, created_at FROM oidc_clients WHERE id = $1`, id).
		Scan(&c.ID, &c.SecretHash, &c.Data, nullTime{&c.CreatedAt})
	return found(c, err, "OIDC client %q", id)
}

const oidcAuthRequestColumns = `id, client_id, COALESCE(identity_id, 0), data, COALESCE(code_hash, ''),
	created_at, expires_at, approved_at, code_expires_at, code_used_at, revoked_at, auth_time`

func scanOIDCAuthRequest(r row) (*OIDCAuthRequest, error) {
	a := &OIDCAuthRequest{}
	err := r.Scan(&a.ID, &a.ClientID, &a.IdentityID, &a.Data, &a.CodeHash,
		nullTime{&a.CreatedAt}, nullTime{&a.ExpiresAt}, nullTime{&a.ApprovedAt},
		nullTime{&a.CodeExpiresAt}, nullTime{&a.CodeUsedAt}, nullTime{&a.RevokedAt}, nullTime{&a.AuthTime})
	return a, err
}

// OIDCAuthRequest implements OIDCReader.
func (r *reader) OIDCAuthRequest(ctx context.Context, id string) (*OIDCAuthRequest, error) {
	a, err := scanOIDCAuthRequest(r.q.queryRow(ctx, `SELECT `+oidcAuthRequestColumns+` FROM oidc_auth_requests WHERE id = $1`, id))
	return found(a, err, "OIDC authorization request %q", id)
}

// OIDCAuthRequestByCode implements OIDCReader.
func (r *reader) OIDCAuthRequestByCode(ctx context.Context, codeHash string) (*OIDCAuthRequest, error) {
	if codeHash == "" {
		return nil, fmt.Errorf("OIDC authorization request with an empty code hash: %w", ErrNotFound)
	}
	a, err := scanOIDCAuthRequest(r.q.queryRow(ctx, `SELECT `+oidcAuthRequestColumns+` FROM oidc_auth_requests WHERE code_hash = $1`, codeHash))
	return found(a, err, "OIDC authorization request with code hash %q", codeHash)
}

// OIDCToken implements OIDCReader. The token's RevokedAt is the earlier of
// its own revocation and its grant's.
func (r *reader) OIDCToken(ctx context.Context, id string) (*OIDCToken, error) {
	t := &OIDCToken{}
	var own, grant time.Time
	err := r.q.queryRow(ctx, `SELECT t.id, t.kind, t.grant_id, t.client_id, t.identity_id, t.jkt, t.data,
			t.created_at, t.expires_at, t.used_at, t.revoked_at, g.revoked_at
		FROM oidc_tokens t JOIN oidc_auth_requests g ON g.id = t.grant_id WHERE t.id = $1`, id).
		Scan(&t.ID, &t.Kind, &t.GrantID, &t.ClientID, &t.IdentityID, &t.JKT, &t.Data,
			nullTime{&t.CreatedAt}, nullTime{&t.ExpiresAt}, nullTime{&t.UsedAt}, nullTime{&own}, nullTime{&grant})
	t.RevokedAt = earliest(own, grant)
	return found(t, err, "OIDC token %q", id)
}

// earliest returns the earlier of two times, ignoring zero times.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// OIDCSigningKeys implements OIDCReader.
func (r *reader) OIDCSigningKeys(ctx context.Context, limit int) ([]*OIDCSigningKey, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list OIDC signing keys: limit %d is not positive", limit)
	}
	scan := func(r row) (*OIDCSigningKey, error) {
		k := &OIDCSigningKey{}
		err := r.Scan(&k.ID, &k.Algorithm, &k.PublicKey, &k.PrivateKey, nullTime{&k.CreatedAt})
		return k, err
	}
	list, err := collect(ctx, r.q, scan, `SELECT id, algorithm, public_key, private_key, created_at
		FROM oidc_signing_keys ORDER BY seq DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list OIDC signing keys: %w", err)
	}
	return list, nil
}

// OIDCSecret implements OIDCReader.
func (r *reader) OIDCSecret(ctx context.Context, name string) ([]byte, error) {
	var value []byte
	err := r.q.queryRow(ctx, `SELECT value FROM oidc_secrets WHERE name = $1`, name).Scan(&value)
	if err != nil {
		return nil, lookupError(err, "OIDC secret %q", name)
	}
	return value, nil
}

// OIDCConsent implements OIDCReader.
func (r *reader) OIDCConsent(ctx context.Context, accountID int64, clientID string) (*OIDCConsent, error) {
	c := &OIDCConsent{}
	err := r.q.queryRow(ctx, `SELECT account_id, client_id, identity_id, updated_at FROM oidc_consents
		WHERE account_id = $1 AND client_id = $2`, accountID, clientID).
		Scan(&c.AccountID, &c.ClientID, &c.IdentityID, nullTime{&c.UpdatedAt})
	return found(c, err, "OIDC consent of account %d for client %q", accountID, clientID)
}

// CreateOIDCClient implements OIDCWriter.
func (t *txn) CreateOIDCClient(ctx context.Context, c *OIDCClient) error {
	c.CreatedAt = nowOr(c.CreatedAt)
	n, err := t.q.exec(ctx, `INSERT INTO oidc_clients (id, secret_hash, data, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		c.ID, c.SecretHash, c.Data, c.CreatedAt)
	return insertError(n, err, "create OIDC client %q", c.ID)
}

// CreateOIDCAuthRequest implements OIDCWriter.
func (t *txn) CreateOIDCAuthRequest(ctx context.Context, a *OIDCAuthRequest) error {
	a.CreatedAt, a.ExpiresAt = nowOr(a.CreatedAt), dbTime(a.ExpiresAt)
	if a.ExpiresAt.IsZero() {
		return fmt.Errorf("create OIDC authorization request %q: the expiry time is missing", a.ID)
	}
	n, err := t.q.exec(ctx, `INSERT INTO oidc_auth_requests (id, client_id, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		a.ID, a.ClientID, a.Data, a.CreatedAt, a.ExpiresAt)
	return insertError(n, err, "create OIDC authorization request %q", a.ID)
}

// ApproveOIDCAuthRequest implements OIDCWriter.
func (t *txn) ApproveOIDCAuthRequest(ctx context.Context, id string, identityID int64, at, authTime time.Time) error {
	n, err := t.q.exec(ctx, `UPDATE oidc_auth_requests SET identity_id = $2, approved_at = $3, auth_time = $4
		WHERE id = $1 AND approved_at IS NULL AND revoked_at IS NULL`, id, identityID, nowOr(at), dbTime(authTime))
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("approve OIDC authorization request %q: identity %d: %w", id, identityID, ErrNotFound)
	}
	if err != nil || n > 0 {
		return updateError(n, err, "OIDC authorization request %q", id)
	}
	return t.authRequestStateConflict(ctx, id, "approve")
}

// SetOIDCCode implements OIDCWriter.
func (t *txn) SetOIDCCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error {
	if codeHash == "" {
		return fmt.Errorf("set code of OIDC authorization request %q: the code hash is empty", id)
	}
	n, err := t.q.exec(ctx, `UPDATE oidc_auth_requests SET code_hash = $2, code_expires_at = $3
		WHERE id = $1 AND approved_at IS NOT NULL AND code_hash IS NULL AND revoked_at IS NULL`, id, codeHash, dbTime(expiresAt))
	if errors.Is(err, errUnique) {
		return fmt.Errorf("set code of OIDC authorization request %q: another request has the code: %w", id, ErrConflict)
	}
	if err != nil || n > 0 {
		return updateError(n, err, "OIDC authorization request %q", id)
	}
	return t.authRequestStateConflict(ctx, id, "set the code of")
}

// authRequestStateConflict returns the error of a conditional update of
// the authorization request id that changed no row: ErrNotFound when the
// request does not exist, ErrConflict with its state otherwise.
func (t *txn) authRequestStateConflict(ctx context.Context, id, action string) error {
	a, err := t.OIDCAuthRequest(ctx, id)
	if err != nil {
		return err
	}
	state := "approved already"
	switch {
	case !a.RevokedAt.IsZero():
		state = "revoked at " + a.RevokedAt.Format(time.RFC3339)
	case a.ApprovedAt.IsZero():
		state = "not approved"
	case a.CodeHash != "":
		state = "issued a code already"
	}
	return fmt.Errorf("%s OIDC authorization request %q: it is %s: %w", action, id, state, ErrConflict)
}

// UseOIDCCode implements OIDCWriter.
func (t *txn) UseOIDCCode(ctx context.Context, codeHash string, at time.Time) error {
	n, err := t.q.exec(ctx, `UPDATE oidc_auth_requests SET code_used_at = $2 WHERE code_hash = $1 AND code_used_at IS NULL`, codeHash, nowOr(at))
	if err != nil || n > 0 {
		return updateError(n, err, "OIDC authorization code with hash %q", codeHash)
	}
	a, err := t.OIDCAuthRequestByCode(ctx, codeHash)
	if err != nil {
		return err
	}
	return fmt.Errorf("use OIDC authorization code of request %q: used already at %s: %w", a.ID, a.CodeUsedAt.Format(time.RFC3339), ErrConflict)
}

// RevokeOIDCGrant implements OIDCWriter.
func (t *txn) RevokeOIDCGrant(ctx context.Context, grantID string, at time.Time) error {
	at = nowOr(at)
	n, err := t.q.exec(ctx, `UPDATE oidc_auth_requests SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, grantID, at)
	if err != nil || n == 0 {
		return updateError(n, err, "OIDC grant %q", grantID)
	}
	if _, err := t.q.exec(ctx, `UPDATE oidc_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL`, grantID, at); err != nil {
		return fmt.Errorf("revoke tokens of OIDC grant %q: %w", grantID, err)
	}
	return nil
}

// CreateOIDCPushedRequest implements OIDCWriter.
func (t *txn) CreateOIDCPushedRequest(ctx context.Context, p *OIDCPushedRequest) error {
	p.CreatedAt, p.ExpiresAt = nowOr(p.CreatedAt), dbTime(p.ExpiresAt)
	if p.ExpiresAt.IsZero() {
		return fmt.Errorf("create OIDC pushed request %q: the expiry time is missing", p.ID)
	}
	n, err := t.q.exec(ctx, `INSERT INTO oidc_pushed_requests (id, client_id, data, dpop_jkt, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		p.ID, p.ClientID, p.Data, p.DPoPJKT, p.CreatedAt, p.ExpiresAt)
	return insertError(n, err, "create OIDC pushed request %q", p.ID)
}

// UseOIDCPushedRequest implements OIDCWriter.
func (t *txn) UseOIDCPushedRequest(ctx context.Context, id string, at time.Time) (*OIDCPushedRequest, error) {
	p := &OIDCPushedRequest{}
	err := t.q.queryRow(ctx, `UPDATE oidc_pushed_requests SET used_at = $2 WHERE id = $1 AND used_at IS NULL
		RETURNING id, client_id, data, dpop_jkt, created_at, expires_at, used_at`, id, nowOr(at)).
		Scan(&p.ID, &p.ClientID, &p.Data, &p.DPoPJKT, nullTime{&p.CreatedAt}, nullTime{&p.ExpiresAt}, nullTime{&p.UsedAt})
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, errNoRows) {
		return nil, fmt.Errorf("use OIDC pushed request %q: %w", id, err)
	}

	var usedAt time.Time
	err = t.q.queryRow(ctx, `SELECT used_at FROM oidc_pushed_requests WHERE id = $1`, id).Scan(nullTime{&usedAt})
	if err != nil {
		return nil, lookupError(err, "OIDC pushed request %q", id)
	}
	return nil, fmt.Errorf("use OIDC pushed request %q: used already at %s: %w", id, usedAt.Format(time.RFC3339), ErrConflict)
}

// CreateOIDCToken implements OIDCWriter.
func (t *txn) CreateOIDCToken(ctx context.Context, tok *OIDCToken) error {
	if tok.Kind != OIDCAccessToken && tok.Kind != OIDCRefreshToken {
		return fmt.Errorf("create OIDC token %q: kind %q is invalid: use %q or %q", tok.ID, tok.Kind, OIDCAccessToken, OIDCRefreshToken)
	}
	tok.CreatedAt, tok.ExpiresAt, tok.UsedAt = nowOr(tok.CreatedAt), dbTime(tok.ExpiresAt), dbTime(tok.UsedAt)
	if tok.ExpiresAt.IsZero() {
		return fmt.Errorf("create OIDC token %q: the expiry time is missing", tok.ID)
	}
	n, err := t.q.exec(ctx, `INSERT INTO oidc_tokens (id, kind, grant_id, client_id, identity_id, jkt, data, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		tok.ID, tok.Kind, tok.GrantID, tok.ClientID, tok.IdentityID, tok.JKT, tok.Data, tok.CreatedAt, tok.ExpiresAt, tok.UsedAt)
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("create OIDC token %q: grant %q or identity %d: %w", tok.ID, tok.GrantID, tok.IdentityID, ErrNotFound)
	}
	return insertError(n, err, "create OIDC token %q", tok.ID)
}

// UseOIDCToken implements OIDCWriter.
func (t *txn) UseOIDCToken(ctx context.Context, id string, at time.Time) error {
	n, err := t.q.exec(ctx, `UPDATE oidc_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL`, id, nowOr(at))
	if err != nil || n > 0 {
		return updateError(n, err, "OIDC token %q", id)
	}
	var usedAt time.Time
	err = t.q.queryRow(ctx, `SELECT used_at FROM oidc_tokens WHERE id = $1`, id).Scan(nullTime{&usedAt})
	if err != nil {
		return lookupError(err, "OIDC token %q", id)
	}
	return fmt.Errorf("use OIDC token %q: used already at %s: %w", id, usedAt.Format(time.RFC3339), ErrConflict)
}

// RevokeOIDCToken implements OIDCWriter.
func (t *txn) RevokeOIDCToken(ctx context.Context, id string, at time.Time) error {
	n, err := t.q.exec(ctx, `UPDATE oidc_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, nowOr(at))
	return updateError(n, err, "OIDC token %q", id)
}

// RecordDPoPProof implements OIDCWriter.
func (t *txn) RecordDPoPProof(ctx context.Context, id string, expiresAt time.Time) error {
	if expiresAt.IsZero() {
		return fmt.Errorf("record DPoP proof %q: the expiry time is missing", id)
	}
	n, err := t.q.exec(ctx, `INSERT INTO oidc_dpop_proofs (id, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, dbTime(expiresAt))
	if err == nil && n == 0 {
		return fmt.Errorf("record DPoP proof %q: seen already: %w", id, ErrConflict)
	}
	return writeError(err, "record DPoP proof %q", id)
}

// CreateOIDCSigningKey implements OIDCWriter.
func (t *txn) CreateOIDCSigningKey(ctx context.Context, k *OIDCSigningKey) error {
	k.CreatedAt = nowOr(k.CreatedAt)
	n, err := t.q.exec(ctx, `INSERT INTO oidc_signing_keys (id, algorithm, public_key, private_key, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		k.ID, k.Algorithm, k.PublicKey, k.PrivateKey, k.CreatedAt)
	return insertError(n, err, "create OIDC signing key %q", k.ID)
}

// CreateOIDCSecret implements OIDCWriter.
func (t *txn) CreateOIDCSecret(ctx context.Context, name string, sealed []byte) error {
	n, err := t.q.exec(ctx, `INSERT INTO oidc_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		name, sealed, nowOr(time.Time{}))
	return insertError(n, err, "create OIDC secret %q", name)
}

// PutOIDCConsent implements OIDCWriter.
func (t *txn) PutOIDCConsent(ctx context.Context, c OIDCConsent) error {
	_, err := t.q.exec(ctx, `INSERT INTO oidc_consents (account_id, client_id, identity_id, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, client_id) DO UPDATE SET identity_id = excluded.identity_id, updated_at = excluded.updated_at`,
		c.AccountID, c.ClientID, c.IdentityID, nowOr(c.UpdatedAt))
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("store OIDC consent of account %d for client %q: account or identity %d: %w", c.AccountID, c.ClientID, c.IdentityID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store OIDC consent of account %d for client %q: %w", c.AccountID, c.ClientID, err)
	}
	return nil
}

// DeleteExpiredOIDC implements OIDCWriter.
func (t *txn) DeleteExpiredOIDC(ctx context.Context, before time.Time) (int64, error) {
	before = dbTime(before)
	if before.IsZero() {
		return 0, errors.New("delete expired OIDC rows: the time is missing")
	}
	statements := []string{
		`DELETE FROM oidc_pushed_requests WHERE expires_at < $1`,
		`DELETE FROM oidc_dpop_proofs WHERE expires_at < $1`,
		`DELETE FROM oidc_tokens WHERE expires_at < $1`,
		`DELETE FROM oidc_auth_requests WHERE expires_at < $1
			AND NOT EXISTS (SELECT 1 FROM oidc_tokens t WHERE t.grant_id = oidc_auth_requests.id)`,
	}
	var total int64
	for _, s := range statements {
		n, err := t.q.exec(ctx, s, before)
		if err != nil {
			return total, fmt.Errorf("delete expired OIDC rows: %w", err)
		}
		total += n
	}
	return total, nil
}
