// Package verify is the relying party's check of a TLS client that logs in
// with a DNS handle.
//
// A device presents a certificate chain [leaf, CSC] whose leaf names the
// handle as its single dNSName and the identity's DID as its single URI SAN.
// Verifier.VerifyChain checks that chain against the handle's DNS records in
// this order and stops at the first failure:
//
//  1. tls: a chain is present (and, for a connection, TLS 1.3 was used).
//  2. handle and policy: the handle is the leaf's single dNSName, parsed
//     with handle.Parse and written exactly in its normal form (lowercase
//     A-labels), and it passes the Policy's allow and deny suffixes. Both
//     checks run before any DNS query, so a client cannot make the server
//     look up names of its choosing. Because the handle is read from the
//     leaf, the leaf names exactly the handle whose TLSA records match.
//  3. dns: TLSA at <handle> and TXT at _atproto.<handle> are resolved
//     through the HandleResolver under a hard timeout, and the DNSSEC status
//     of each RRset is held to the Policy.
//  4. tlsa and path: the TLSA records are matched with records.MatchTLSA.
//     A DANE-EE (3) record accredits the leaf key itself. A DANE-TA (2)
//     record accredits a certificate after the leaf, and the path from the
//     leaf to it is then verified with pki.VerifyPath.
//  5. did: the leaf's URI SAN equals the TXT did= value, and a did:key must
//     be the key of an accredited trust anchor (or of the leaf for DANE-EE).
//  6. revocation: when a CRLSource is configured, the leaf must not be on
//     the CRL of the CSC that accredited it. A CRLFetcher fetches that CRL
//     from the leaf's CRL distribution point and keeps it until it is due
//     for refresh.
//  7. The result is an Identity: handle, DID, device fingerprint, DNSSEC
//     status and method "tls".
//
// Every failure is a *Error whose Step names the check and whose Err is a
// typed error with the facts (errors.As). Over TLS the peer receives only
// an alert, and the server reads the reason from the handshake error.
//
// ServerConfig wraps a tls.Config for a server that accepts these logins,
// Middleware and RequireIdentity bring the Identity to HTTP handlers, and
// ClientConfig and Client choose a device certificate on the client side.
package verify
