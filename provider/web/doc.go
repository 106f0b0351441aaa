// Package web serves the DNS Handle Provider's pages for people. They
// cover sign-up, sign-in with a password or a device certificate, and
// sign-out. They list the account's identities and handles, show the
// records an own-domain handle must publish, and manage the devices of each
// identity: enrollment codes, revocation, and a PKCS #12 file for a
// browser.
//
// # Sessions
//
// A signed-in browser carries the cookie "__Host-dnshandle_session" (Secure,
// HttpOnly, SameSite=Lax, Path=/). Its value is a session sealed with
// AES-256-GCM under a key derived from Config.SessionKey, so the browser can
// neither read nor change it. A session ends after Config.SessionLifetime,
// after Config.IdleTimeout without a request, when the account's password
// hash changes, or when the person signs out. Sign-out, and a new sign-in
// that replaces a session, list the session ID in the store until the
// session would have expired anyway, so that every process on the same
// store rejects the cookie, after a restart too. LoadSessionKey keeps the
// session key in the store, sealed with the key-encryption key, so that
// the processes share the sessions.
//
// Every POST form carries a synchronizer token in the field "csrf": the
// token of the session, or before sign-in the token of a short-lived
// pre-session cookie. CheckCSRF compares it in constant time and also
// rejects cross-origin browser requests with http.CrossOriginProtection.
// The OpenID provider (package provider/oidc) uses Account, SignedInAt,
// SignInURL, ReauthenticateURL, CSRFToken and CheckCSRF for its own login
// and consent pages.
//
// # Provider operations
//
// The package does not import package provider, which mounts it. It calls
// the provider through the Provider interface and reads accounts,
// identities and devices through a store.Store.
//
// # Certificate sign-in
//
// When the HTTPS listener requests client certificates (TLSClientAuth),
// POST /signin/certificate verifies the presented chain with Config.Verifier
// (DANE TLSA at the handle, did= binding, TLS 1.3) and signs in the account
// that owns the identity of the verified handle, provided the leaf is an
// active device of that identity in the store.
//
// The pages need no JavaScript and load nothing from other origins.
package web
