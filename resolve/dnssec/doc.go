// Package dnssec validates DNS responses locally, as a validating stub
// resolver does, following RFC 4033, RFC 4034 and RFC 4035 with NSEC3
// denial of existence from RFC 5155.
//
// A Validator starts at a configured trust anchor and builds the chain of
// trust down to the zone that signed an answer. For each zone cut it
// fetches the DNSKEY RRset, authenticated by the parent's DS RRset or by the
// anchor, and the DS RRset of the next zone, authenticated by the parent's
// DNSKEYs. Zone cuts are found from the signer names of RRSIGs and from DS
// queries for each name between the anchor and the signer. A proven
// absence of DS at a delegation makes everything below it insecure.
//
// Choices this package makes where the standards leave room:
//
//   - Signatures are checked against Validator.Now with a tolerance of
//     ClockSkew on both ends of the validity window, and no more.
//   - NSEC3 records with more than MaxNSEC3Iterations iterations make the
//     answer Insecure, after their RRSIGs have verified (RFC 9276, section
//     3.2). The names are not hashed at all in that case.
//   - An NXDOMAIN or DS denial proven by an opt-out NSEC3 is Insecure,
//     because an unsigned delegation may exist at the name (opt-out is
//     defined in RFC 5155, section 6).
//   - A response whose answer ends at a CNAME is judged on the CNAME chain
//     it contains; the caller queries the target and validates that
//     response separately.
//   - DNAME is not supported: a CNAME synthesized from a DNAME carries no
//     RRSIG and makes the answer Bogus in a signed zone.
//   - A DS RRset with at least one SHA-256 or SHA-384 digest makes its
//     SHA-1 digests unused (RFC 4509, section 3).
package dnssec
