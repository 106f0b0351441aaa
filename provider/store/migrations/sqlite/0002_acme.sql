-- State of the ACME server (package acme) that the enrollments and devices
-- tables do not hold: accounts, orders with their authorization, and the
-- chain of each issued device certificate. The record itself is JSON in
-- data; the columns beside it are the keys that queries and unique rules use.

CREATE TABLE acme_accounts (
	id          TEXT    PRIMARY KEY,
	identity_id INTEGER NOT NULL REFERENCES identities (id),
	thumbprint  TEXT    NOT NULL UNIQUE,
	eab_key_id  TEXT    NOT NULL UNIQUE REFERENCES enrollments (key_id),
	data        BLOB    NOT NULL
) STRICT;

-- seq orders the orders of an account, oldest first.
CREATE TABLE acme_orders (
	seq        INTEGER PRIMARY KEY,
	id         TEXT    NOT NULL UNIQUE,
	account_id TEXT    NOT NULL REFERENCES acme_accounts (id),
	status     TEXT    NOT NULL,
	replaces   TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	data       BLOB    NOT NULL
) STRICT;

CREATE INDEX acme_orders_account ON acme_orders (account_id, seq);
CREATE INDEX acme_orders_replaces ON acme_orders (replaces) WHERE replaces <> '';

-- The device row (devices.serial) keeps the revocation state.
CREATE TABLE acme_certificates (
	serial     TEXT PRIMARY KEY REFERENCES devices (serial),
	account_id TEXT NOT NULL,
	order_id   TEXT NOT NULL,
	chain      BLOB NOT NULL
) STRICT;
