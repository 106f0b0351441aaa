// Package store keeps the state of a DNS Handle Provider. That is the
// accounts, the identities with their CSCs, the device certificates, the
// ACME enrollment credentials and the audit log. It is also the provider
// zones that the authoritative DNS server reads its answers from, with their
// DNSSEC keys and an IXFR journal.
//
// # Databases
//
// Store is implemented twice with the same semantics, which the
// conformance suite in package storetest checks for both:
//
//   - SQLite (OpenSQLite), the default: one file in the data directory,
//     through the pure-Go driver modernc.org/sqlite, in WAL mode with a
//     single writer connection and parallel readers.
//   - PostgreSQL (OpenPostgres), for several provider processes on one
//     database, through a github.com/jackc/pgx/v5 pool.
//
// Open picks one from the configured database URL.
//
// # Schema
//
// Each database has its own migration files, embedded in the program and
// applied in order at open, each in its own transaction and recorded in the
// table schema_migrations. Open rejects a database whose version is newer
// than the newest migration of the program with a *SchemaVersionError. The tables are:
//
//   - accounts, identities, devices, enrollments and audit_log, one row per
//     object of the same name;
//   - zones: the serial of each zone and the state of its journal;
//   - records: one row per RR, keyed by zone, owner key, type, covered type
//     and RDATA. The owner key is the owner name's labels from the root
//     down. Its byte order is the canonical DNS order (RFC 4034, section
//     6.1), and the names below a name form one key range. So a name lookup,
//     an empty non-terminal test and a zone walk each read one index range.
//     A partial index on the NSEC3 hash serves the search for the covering
//     NSEC3 record;
//   - zone_journal: one row per serial step with the deleted and added
//     records in JSON, pruned by weight (see DefaultJournalLimit);
//   - zone_keys: the DNSSEC keys of each zone, private keys sealed;
//   - acme_accounts, acme_orders and acme_certificates: the ACME server's
//     accounts, orders and certificate chains (see ACMEReader and
//     ACMEWriter);
//   - acme_secrets and acme_used_nonces: the sealed key of the ACME nonces
//     and the nonces used, which every process on the database shares (see
//     ACMESharedReader and ACMESharedWriter);
//   - oidc_*: the OpenID provider's registered clients, authorization
//     requests (the grants that tokens belong to), pushed requests,
//     tokens, DPoP proof identifiers, signing keys, server secrets and
//     consents (see OIDCReader and OIDCWriter);
//   - web_session_revocations and web_secrets: the signed-out sessions of
//     the web pages and their sealed cookie key, shared by every process
//     on the database (see WebSessionReader and WebSessionWriter).
//
// Of the data, opening a store reads only the schema version, so it takes
// the same time for any number of identities. After a crash, SQLite first
// recovers its write-ahead log, which takes time in proportion to the log.
//
// # Secrets
//
// The store keeps private keys only sealed by a Sealer (AES-256-GCM under a
// key-encryption key from LoadKEK that stays outside the database), and
// passwords only as argon2id hashes from HashPassword.
package store
