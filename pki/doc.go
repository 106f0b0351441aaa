// Package pki issues and checks the certificates of the DNS handle profile.
// It makes the per-identity Certificate Signing Certificate (CSC), the
// device client certificates the CSC signs, and the CRL it publishes. It
// also runs the path check of a relying party, from a device certificate to
// the CSC that a DANE-TA TLSA record at the handle accredits.
//
// A CSC is a trust anchor that is not self-signed. Its issuer is the
// profile marker DN "CN=DNS Handle Client Authentication" and its own key
// signs it. Servers list the marker in certificate_authorities so that TLS
// clients offer the chain [device certificate, CSC]. Trust never comes from
// the marker but from the TLSA record, which the caller matches.
//
// The functions of this package keep no state and are safe for concurrent
// use. They never log; every failure is a typed error (see errors.go).
package pki
