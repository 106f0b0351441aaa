// Package resolve looks up the DNS records of a handle: the TLSA RRset at
// <handle> and the TXT RRset at _atproto.<handle>, with their DNSSEC status.
//
// A Resolver is a stub resolver on github.com/miekg/dns. It sends each query
// with EDNS0 (DO set, UDP payload size 1232) to the configured upstreams in
// order and repeats truncated UDP answers over TCP. It discards responses
// whose ID or question does not match, and follows CNAME chains up to
// MaxCNAMEs links. Each RRset lookup has one deadline: the caller's context or
// Config.Timeout, whichever ends first.
//
// The DNSSEC status of an RRset comes from local validation with
// resolve/dnssec when trust anchors are configured, and otherwise from the
// AD bit of an upstream trusted to validate (by default loopback addresses
// and DNS-over-TLS upstreams). The Policy decides whether statuses other
// than secure fail the lookup.
//
// Answers are cached by (name, type) within TTL bounds, with negative
// caching from the SOA record (RFC 2308), one query in flight per RRset,
// a size bound, and optional serve-stale (RFC 8767). WriteSnapshot records
// the responses for a set of handles, and a Resolver built on the snapshot
// answers offline and still validates the signatures at its clock.
//
// DIDOverHTTPS implements the AT Protocol's HTTPS method for a handle's
// DID. Diagnose, Render and NewView turn a Resolve outcome into advice, text
// and JSON.
package resolve
