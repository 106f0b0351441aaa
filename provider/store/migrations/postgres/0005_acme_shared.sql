-- State that every ACME server process on the database shares (package
-- acme through provider/acmestore): the sealed key of the Replay-Nonce
-- values, and the nonces used so far, kept until they expire, so that a
-- nonce issued by one process is accepted once by any of them. Also the
-- indexes that the periodic deletion of expired ACME rows reads.

CREATE TABLE acme_secrets (
	name       TEXT        COLLATE "C" PRIMARY KEY,
	value      BYTEA       NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);

-- One row per nonce accepted, until the nonce expires: a second use is a
-- replay.
CREATE TABLE acme_used_nonces (
	nonce      TEXT        COLLATE "C" PRIMARY KEY,
	expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX acme_used_nonces_expiry ON acme_used_nonces (expires_at);

CREATE INDEX acme_orders_expiry ON acme_orders (expires_at);

-- Enrollments never used are deleted once expired. A used one stays, because
-- its account references it, but loses its sealed key once expired.
CREATE INDEX enrollments_unused_expiry ON enrollments (expires_at) WHERE used_at IS NULL;
CREATE INDEX enrollments_keyed_expiry ON enrollments (expires_at) WHERE mac_key IS NOT NULL;
