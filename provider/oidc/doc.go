// Package oidc is the OpenID provider of the DNS Handle Provider. A person
// signs in at the provider's web pages and chooses which handle of the
// account a relying party receives. The relying party gets an ID token
// whose sub is the handle's DID and whose handle and preferred_username
// claims are the handle.
//
// The library github.com/zitadel/oidc/v3 (package op) parses requests,
// authenticates clients, and issues and verifies tokens. This package
// implements its Storage on package store, SQLite or PostgreSQL, and adds
// what it lacks:
//
//   - PKCE with S256 for every client; plain and a missing challenge are
//     rejected with invalid_request (RFC 7636, section 4.4.1).
//   - Pushed authorization requests (RFC 9126) at /oauth/par. A request_uri
//     works once, for PushedRequestLifetime (60 s by default), and its
//     parameters replace those of the authorization request.
//   - DPoP (RFC 9449) at /oauth/par, /oauth/token and /oauth/userinfo.
//     Proofs are ES256, EdDSA, RS256 or PS256. Every proof must carry a
//     server nonce, and each proof is accepted once. A dpop_jkt parameter
//     or a proof at PAR binds the code to the key. A proof at the token
//     endpoint binds the access token (token_type DPoP, cnf.jkt) and, for a
//     public client, the refresh token.
//   - The iss parameter in every authorization response (RFC 9207).
//   - Dynamic client registration (RFC 7591) at /oauth/register, when
//     enabled, with post_logout_redirect_uris under the rules of
//     redirect_uris.
//   - RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0) at
//     /oauth/end_session, by GET or POST. An id_token_hint must be an ID
//     token that this provider signed; an expired one is accepted. The
//     browser goes back to a post_logout_redirect_uri only with a valid
//     hint, and only when the URI equals one that the client registered.
//     Otherwise it stays on the provider's page. A valid hint for an
//     identity of the signed-in account ends the web session at once
//     (Sessions.SignOut). Any other request of a signed-in person first
//     shows a confirmation form, protected by the session's CSRF token. A
//     valid hint also revokes the grant that its sid claim names, with
//     every access and refresh token issued from it.
//   - The login step at /oauth/login: sign-in through Sessions, a consent
//     form protected by the session's CSRF token, and the handle chosen per
//     account and client remembered for the next request. prompt=login and
//     max_age ask for a new sign-in, and auth_time is the sign-in time
//     (OpenID Connect Core 1.0, section 3.1.2.1).
//   - Single-use codes: a second use of a code revokes the tokens issued
//     for it (RFC 6749, section 4.1.2). Rotating refresh tokens: a second
//     use of a refresh token revokes its grant.
//   - Token bucket limits per client IP address and per client_id at the
//     token and PAR endpoints, and per IP address at registration.
//
// # Tokens and keys
//
// ID tokens and access tokens are JWTs signed with ES256. Access tokens are
// also stored, so the userinfo endpoint sees their revocation. Codes,
// refresh tokens and request URIs are random and stored only as SHA-256
// hashes, client secrets likewise. The signing keys are stored with the
// private key sealed by the store's Sealer. The JWK set at /oauth/jwks holds
// the current and the previous key, and RotateSigningKey makes a new
// current key.
//
// # Mounting
//
// Handler serves every endpoint under the issuer, which is an origin
// without a path, so that the provider shares a listener with the ACME
// server (/acme/) and the web pages. Patterns lists the paths to route to
// it.
package oidc
