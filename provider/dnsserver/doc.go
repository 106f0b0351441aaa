// Package dnsserver is the authoritative DNS of a DNS Handle Provider: a
// Signer that keeps the provider zones DNSSEC-signed in the store, and a
// Server that answers queries and zone transfers from it.
//
// The Signer signs ahead of time, never per query. CreateZone makes an
// ECDSA P-256 (algorithm 13) KSK and ZSK, seals their private keys with a
// store.Sealer and writes the signed apex. ReplaceRRsets turns a change of
// RRsets into every row that changes with it: records, RRSIGs, the NSEC3
// records around the names that appear, disappear or change types, and
// the SOA. It stores them with one store.Tx.UpdateZone, so one identity
// change is one serial step and one IXFR diff. Resign renews signatures
// before they expire. Because the zone in the store is complete and
// signed, standard secondaries (Knot, NSD, BIND) can carry the query load
// over AXFR and IXFR.
//
// The Server reads each zone through a cache of owner names, each with
// its records in wire form and the packed responses built from them.
// When the zone serial changes, the Server reads the journal steps since
// the serial it knew and drops the names they touched (the whole cache
// when the journal no longer reaches back). Negative responses carry the
// SOA, so they are used at the serial they were built at only. On UDP, a
// request whose response is cached is answered from the datagram bytes
// without building a dns.Msg.
//
// Choices this package makes where the standards leave room:
//
//   - NSEC3 with SHA-1, no extra iterations, an empty salt and no opt-out
//     (RFC 9276, section 3.1). Every empty non-terminal gets its own NSEC3
//     record (RFC 5155, section 7.1).
//   - RRSIG inception is one hour before signing; expiration is signing
//     time plus Signer.Validity (14 days by default). SOA EXPIRE is at most
//     a third of the validity, so secondaries that lose the primary stop
//     serving before the signatures they hold expire.
//   - The zones hold no delegations (NS below the apex, DS) and no
//     wildcards or DNAME: the Signer rejects them, so the Server never
//     answers with a referral or a synthesized record.
//   - ANY queries get every RRset at the name (RFC 8482 allows this).
//   - Responses that do not fit a UDP client's buffer are sent empty with
//     TC set; the client retries over TCP.
//   - AXFR and IXFR need TCP and a TSIG (HMAC-SHA256) key from
//     Config.TSIG; IXFR falls back to a full transfer when the journal
//     does not reach the client's serial.
//   - An incoming NOTIFY for a served zone only makes the Server read the
//     zone serial again, which lets replicas on one database tell each
//     other about changes.
//
// The Signer never logs. The Server logs with log/slog, using the keys
// zone, remote_addr and err, and counts queries, transfers and NOTIFY
// messages with Prometheus when Config.Metrics is set.
package dnsserver
