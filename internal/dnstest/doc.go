// Package dnstest runs a real DNS server on loopback for tests and builds
// DNSSEC-signed zones in memory to load into it.
//
// A test builds zones with NewZone, delegates children with Zone.Delegate,
// signs them bottom-up with Zone.Sign (so each parent can carry its child's
// DS) and starts a Server with Start. The server listens on one 127.0.0.1
// port chosen by the operating system for both UDP and TCP. It answers like
// a recursive resolver that already holds every loaded zone: each query is
// answered from the most specific zone containing the name, with RRSIGs and
// NSEC or NSEC3 proofs when the query sets the DO bit. It never follows
// CNAMEs and it never sets the AD bit.
//
// Failure cases come from three hooks: Server.SetHandler replaces or wraps
// the answer (SERVFAIL, dropped queries, altered messages), the Zone editing
// methods change records after signing so that signatures stop verifying,
// and SignOptions sets the signature validity window.
package dnstest
