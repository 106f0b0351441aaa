-- State of the OpenID provider (package provider/oidc): dynamically
-- registered clients, authorization requests with their codes, pushed
-- authorization requests, access and refresh tokens, the DPoP proofs seen,
-- signing keys, server secrets and each account's choice of handle per
-- client. The record itself is JSON in data; the columns beside it are the
-- keys that queries, expiry and single use rely on. Secrets are kept only as
-- SHA-256 hashes (client secrets, codes, refresh tokens, request URIs) or
-- sealed (private keys, server secrets).

CREATE TABLE oidc_clients (
	id          TEXT    PRIMARY KEY,
	secret_hash BLOB,
	data        BLOB    NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

-- One row per authorization request. Once approved and exchanged for
-- tokens it is the grant that the tokens belong to: revoking it revokes
-- them all.
CREATE TABLE oidc_auth_requests (
	id              TEXT    PRIMARY KEY,
	client_id       TEXT    NOT NULL,
	identity_id     INTEGER REFERENCES identities (id),
	data            BLOB    NOT NULL,
	code_hash       TEXT    UNIQUE,
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	approved_at     INTEGER,
	code_expires_at INTEGER,
	code_used_at    INTEGER,
	revoked_at      INTEGER
) STRICT;

CREATE INDEX oidc_auth_requests_expiry ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_pushed_requests (
	id         TEXT    PRIMARY KEY,
	client_id  TEXT    NOT NULL,
	data       BLOB    NOT NULL,
	dpop_jkt   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
) STRICT;

CREATE INDEX oidc_pushed_requests_expiry ON oidc_pushed_requests (expires_at);

-- id is the jti of an access token or the hash of a refresh token.
CREATE TABLE oidc_tokens (
	id          TEXT    PRIMARY KEY,
	kind        TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
	grant_id    TEXT    NOT NULL REFERENCES oidc_auth_requests (id),
	client_id   TEXT    NOT NULL,
	identity_id INTEGER NOT NULL REFERENCES identities (id),
	jkt         TEXT    NOT NULL,
	data        BLOB    NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER,
	revoked_at  INTEGER
) STRICT;

CREATE INDEX oidc_tokens_grant ON oidc_tokens (grant_id);
CREATE INDEX oidc_tokens_expiry ON oidc_tokens (expires_at);

-- One row per DPoP proof accepted, until its expiry: a second proof with
-- the same id is a replay.
CREATE TABLE oidc_dpop_proofs (
	id         TEXT    PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX oidc_dpop_proofs_expiry ON oidc_dpop_proofs (expires_at);

-- seq orders the keys, newest last.
CREATE TABLE oidc_signing_keys (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	algorithm   TEXT    NOT NULL,
	public_key  BLOB    NOT NULL,
	private_key BLOB    NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE oidc_secrets (
	name       TEXT    PRIMARY KEY,
	value      BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE oidc_consents (
	account_id  INTEGER NOT NULL REFERENCES accounts (id),
	client_id   TEXT    NOT NULL,
	identity_id INTEGER NOT NULL REFERENCES identities (id),
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (account_id, client_id)
) STRICT;
