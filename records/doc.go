// Package records reads and writes the DNS records of a DNS handle.
//
// A handle publishes TLSA records at the handle itself (a "2 1 1" record
// for its Certificate Signing Certificate, optionally "3 1 1" records for
// single devices) and TXT records at _atproto.<handle> that carry did= and
// oauth= attributes. This package parses and prints those records, matches
// TLSA records against a presented certificate chain (RFC 6698, RFC 7671)
// and writes the zone-file text a handle owner publishes.
//
// The package does no I/O and keeps no state: every function is safe for
// concurrent use. It does not validate DNSSEC, build certificate paths or
// check DID syntax, because package resolve and the verifier do that.
package records
