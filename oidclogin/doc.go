// Package oidclogin is "Sign in with your DNS handle" for relying parties
// that use OAuth 2.0 and OpenID Connect instead of TLS client
// certificates. A login ends in the same verify.Identity as the TLS path
// of package verify (Method "oidc", Device ""), so one person gets the same
// DID by either path.
//
// A person types a handle into the form at LoginPath. The login then runs
// these steps and stops at the first failure:
//
//  1. input: the handle is parsed with handle.ParseInput ("@" optional) and
//     the return path must be a local path of this site.
//  2. resolve: the TXT RRset at _atproto.<handle> is resolved with its
//     DNSSEC status, held to Config.MinDNSSEC. It must carry a valid did=
//     and an oauth= issuer (records.ParseOAuthIssuer).
//  3. discovery: <issuer>/.well-known/openid-configuration is fetched, and
//     its issuer must be identical to the oauth= issuer.
//  4. registration: the client is the static client of Config for that
//     issuer, or one registered at the registration_endpoint (RFC 7591)
//     and kept per issuer in memory and optionally in a file.
//  5. par: state, nonce and a PKCE S256 verifier are generated, plus a
//     DPoP key (RFC 9449) when the provider advertises ES256 for DPoP. The
//     request, with login_hint set to the handle, is pushed to the PAR
//     endpoint (RFC 9126) when there is one, and the browser is
//     redirected to the authorization endpoint. The pending login travels
//     in a short-lived cookie sealed with AES-256-GCM. A browser has one
//     pending login at a time: starting another replaces it, and the
//     callback of the first then fails the state check.
//  6. authorize: at CallbackPath the state must match the pending login
//     (constant-time comparison), and iss (RFC 9207) must name the issuer.
//     It is required when the provider advertises it. Error responses end
//     the login with the provider's message.
//  7. token: the code is exchanged with the PKCE verifier and, with DPoP,
//     a proof of the same key (the use_dpop_nonce retry included).
//  8. id_token: the ID token is verified with github.com/coreos/go-oidc
//     (signature with an algorithm from discovery, iss, aud, exp), then
//     nonce, azp, sub (a DID) and the handle claim, which must be the
//     typed handle when present.
//  9. binding: the handle is resolved again, without a cache, and did= must
//     equal sub and oauth= the issuer. A handle that moved to another
//     identity or provider since the login started is rejected.
//
// The session cookie then carries the handle, the DID and the weakest
// DNSSEC status seen, and the client and the ID token for the logout.
// Login.Identity reads it and Login.Middleware puts it into the request
// context with verify.NewContext. The session is not checked against DNS
// again during its lifetime.
//
// # Logout
//
// A POST to LogoutPath ends the session at this site. When the provider
// advertises an end_session_endpoint (OpenID Connect RP-Initiated Logout
// 1.0) and the session kept its ID token, the browser then goes there
// with id_token_hint and client_id, so that the person is signed out at
// the provider too. When the client registered BaseURL + LogoutPath as a
// post_logout_redirect_uri (dynamic registration requests it, and
// Client.PostLogoutRedirect declares it for a static client), the request
// also carries that URI and a random state, kept with the return path in
// a short-lived sealed cookie. The provider sends the browser back to a
// GET at LogoutPath, which continues to the return path only when the
// state matches that cookie, and to "/" otherwise. An ID token too large
// for the cookie is not kept, and then the logout ends at this site only.
//
// Every failure is a *Error whose Step names the stage and whose Err is a
// typed cause (errors.As). The person gets a page that states what was
// wrong and what to do. The package never logs; Config.OnError receives each
// failure. Errors and pages carry no tokens or keys.
package oidclogin
