// Package acme is the provider's ACME server (RFC 8555) for device
// certificates of DNS handles.
//
// A person who signed in at the provider gets an enrollment credential
// (Server.NewEnrollment): an External Account Binding key ID and HMAC key
// (RFC 8555, section 7.3.4) for one identity and one device label, valid
// for an hour and usable once. The device creates an ACME account with it,
// which binds the account to the identity. An order for exactly the
// identifier {"type":"dns","value":"<handle>"} of that identity is ready at
// once: its authorization is valid with no challenge, because the binding
// already proved the account's right to the handle. Finalize checks the CSR
// with pki.CheckCSR and signs the device certificate with the identity's
// CSC (pki.IssueDevice) in the same request. The certificate resource
// returns the chain [device certificate, CSC].
//
// Resources under Config.BaseURL:
//
//	GET  /directory                  directory, meta.externalAccountRequired true
//	HEAD /new-nonce, GET /new-nonce  fresh nonce (200 / 204)
//	POST /new-account                create or find an account (jwk)
//	POST /account/<id>               read, update or deactivate the account
//	POST /account/<id>/orders        orders list, paged with Link rel="next"
//	POST /key-change                 account key rollover
//	POST /new-order                  order, with RFC 9773 "replaces"
//	POST /order/<id>                 order (POST-as-GET)
//	POST /order/<id>/finalize        finalize with a CSR
//	POST /authz/<id>                 authorization (POST-as-GET) or deactivation
//	POST /cert/<serial>              certificate chain, application/pem-certificate-chain
//	POST /revoke-cert                revocation, by an account of the identity or the certificate key
//	GET  /renewal-info/<certID>      RFC 9773 renewal information
//	GET  /crl/<identity>             CRL of the identity's CSC, application/pkix-crl
//
// Requests follow RFC 8555, section 6. The server accepts only the
// flattened JWS serialization, signed with ES256, ES384, EdDSA or RS256.
// The "url" header must equal the request URL, and each nonce is good for
// one request. newAccount (and revokeCert by the certificate key) carries a
// "jwk", every other request a "kid". Every ACME response carries a fresh Replay-Nonce, errors
// included. Errors are problem documents with the urn:ietf:params:acme:error:
// types; the HTTP status of each type is in one table (problem.go), and the
// internal cause of a failure goes to Config.Logger, never to the client.
//
// State lives in a Backend. NewMemoryBackend keeps it in memory for tests
// and benchmarks; the provider's SQL store implements the same interface.
// A Backend that is also a NonceBackend shares nonces among the server
// processes on it, and a Pruner deletes expired records when Server.Prune
// is called. Otherwise the Server keeps its nonces in memory. Rate-limit
// buckets are always kept in the Server's memory, so each process counts
// its own requests.
//
// Real clients work unchanged: golang.org/x/crypto/acme, lego (4.9) and
// certbot (2.1) with their EAB options. They find the authorization valid
// and skip their challenge solvers, but lego still requires one solver to be
// configured (for example --http) and certbot an authenticator (for
// example --manual with a no-op hook).
package acme
