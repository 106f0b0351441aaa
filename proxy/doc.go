// Package proxy is a relying-party front for any web application: a TLS
// 1.3 reverse proxy that logs people in with their DNS handle and passes
// their verified identity to the application in request headers.
//
// The proxy requests a client certificate in every handshake, listing the
// profile marker DN in certificate_authorities (verify.ServerConfig), and
// verifies a presented chain against the handle's DNS records with a
// verify.Verifier. A request reaches the upstream application only with an
// identity, from one of two sources, in this order:
//
//  1. a device certificate that passed verification (method "tls");
//  2. a session of the OIDC sign-in handler, Config.Login, read with
//     Config.SessionIdentity (method "oidc").
//
// The proxy then sets these headers on the upstream request, after
// removing every header whose name begins with "DNS-Handle" (in any letter
// case, and with "_" for "-") that the client sent:
//
//	DNS-Handle         the handle, for example alice.dhp.test (no "@")
//	DNS-Handle-DID     the permanent identifier, for example did:key:z...
//	DNS-Handle-Device  hex SHA-256 of the device key (certificate logins only)
//	DNS-Handle-Method  "tls" or "oidc"
//
// The application must be reachable only through the proxy, or a client
// could send these headers to it directly.
//
// A request without an identity gets 401 Unauthorized with the challenge
// "WWW-Authenticate: DNSHandle realm=..., login=..." (verify.RequireIdentity).
// A browser (Accept: text/html) gets the same status with a page that
// offers "Sign in with your DNS handle" through Config.Login. When the
// client presented a certificate that failed verification and has no
// session either, the response is 403 Forbidden naming the check that
// failed, or 503 Service Unavailable when the handle's DNS records could
// not be resolved in time or its provider's CRL could not be fetched.
// The detailed error goes to the log only. A failed handshake
// would show the browser nothing but an alert, so unlike
// verify.ServerConfig the proxy completes the handshake and verifies at the
// first request instead.
//
// The paths under PathPrefix ("/.dnshandle/") belong to the proxy and are
// never forwarded.
package proxy
