-- State of the web sessions (package provider/web) that every provider
-- process on the database shares: the IDs of signed-out sessions, kept
-- until the sessions would have expired anyway, and the key that seals the
-- session cookies, sealed with the key-encryption key. Also the sign-in
-- time of the person who approved an OpenID authorization request, which
-- ID tokens carry as auth_time.

CREATE TABLE web_session_revocations (
	id         TEXT    PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX web_session_revocations_expiry ON web_session_revocations (expires_at);

CREATE TABLE web_secrets (
	name       TEXT    PRIMARY KEY,
	value      BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

ALTER TABLE oidc_auth_requests ADD COLUMN auth_time INTEGER;
