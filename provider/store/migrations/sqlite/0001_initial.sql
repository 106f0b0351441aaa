-- Initial schema of the dnshandle provider store (SQLite 3.37 or later, for
-- STRICT tables). Times are INTEGER Unix microseconds in UTC; NULL is the
-- zero time.

CREATE TABLE accounts (
	id            INTEGER PRIMARY KEY,
	name          TEXT    NOT NULL UNIQUE,
	password_hash TEXT    NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE identities (
	id         INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts (id),
	handle     TEXT    NOT NULL UNIQUE,
	did        TEXT    NOT NULL,
	hosted     INTEGER NOT NULL,
	verified   INTEGER NOT NULL,
	csc_cert   BLOB,
	csc_key    BLOB,
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX identities_account ON identities (account_id);

CREATE TABLE devices (
	id                INTEGER PRIMARY KEY,
	identity_id       INTEGER NOT NULL REFERENCES identities (id),
	label             TEXT    NOT NULL,
	serial            TEXT    NOT NULL UNIQUE,
	fingerprint       TEXT    NOT NULL,
	status            TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
	cert_der          BLOB,
	created_at        INTEGER NOT NULL,
	last_seen         INTEGER,
	revoked_at        INTEGER,
	revocation_reason INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX devices_identity ON devices (identity_id);

CREATE TABLE enrollments (
	key_id      TEXT    PRIMARY KEY,
	identity_id INTEGER NOT NULL REFERENCES identities (id),
	label       TEXT    NOT NULL,
	mac_key     BLOB,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER
) STRICT;

CREATE INDEX enrollments_identity ON enrollments (identity_id);

-- AUTOINCREMENT keeps IDs growing, so "newest first" is "greatest ID first".
CREATE TABLE audit_log (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	at      INTEGER NOT NULL,
	actor   TEXT    NOT NULL,
	action  TEXT    NOT NULL,
	subject TEXT    NOT NULL,
	detail  TEXT    NOT NULL
) STRICT;

-- journal_seq numbers the zone's journal steps; journal_weight is the
-- retained journal's weight (records plus one per step).
CREATE TABLE zones (
	name           TEXT    PRIMARY KEY,
	serial         INTEGER NOT NULL CHECK (serial BETWEEN 0 AND 4294967295),
	journal_seq    INTEGER NOT NULL,
	journal_weight INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- owner_key is the owner name's labels from the root down, lowercased, each
-- ended by a zero byte: its byte order is the canonical DNS name order and a
-- subtree is one key range. The primary key clusters the table by zone and
-- owner, so a name lookup, a subtree test and a zone walk are index ranges.
CREATE TABLE records (
	zone      TEXT    NOT NULL REFERENCES zones (name),
	owner_key BLOB    NOT NULL,
	name      TEXT    NOT NULL,
	type      INTEGER NOT NULL,
	covered   INTEGER NOT NULL,
	ttl       INTEGER NOT NULL,
	data      TEXT    NOT NULL,
	hash      TEXT    NOT NULL,
	PRIMARY KEY (zone, owner_key, type, covered, data)
) STRICT, WITHOUT ROWID;

-- NSEC3 records (type 50) by hash, for the covering-record lookup.
CREATE INDEX records_nsec3 ON records (zone, hash) WHERE type = 50;

CREATE TABLE zone_journal (
	zone        TEXT    NOT NULL REFERENCES zones (name),
	seq         INTEGER NOT NULL,
	from_serial INTEGER NOT NULL,
	to_serial   INTEGER NOT NULL,
	weight      INTEGER NOT NULL,
	deleted     TEXT    NOT NULL,
	added       TEXT    NOT NULL,
	PRIMARY KEY (zone, seq)
) STRICT;

CREATE INDEX zone_journal_from ON zone_journal (zone, from_serial);

CREATE TABLE zone_keys (
	id          INTEGER PRIMARY KEY,
	zone        TEXT    NOT NULL REFERENCES zones (name),
	flags       INTEGER NOT NULL,
	algorithm   INTEGER NOT NULL,
	dnskey      TEXT    NOT NULL,
	private_key BLOB    NOT NULL,
	created_at  INTEGER NOT NULL,
	UNIQUE (zone, dnskey)
) STRICT;
