package oidclogin

import (
	"fmt"
	"strconv"

	"github.com/dnshandle/dnshandle/resolve"
)

// Step names the stage of a login that failed. The steps run in the order
// of their values.
type Step int

const (
	// StepInput reads the login form: the handle and the return path.
	StepInput Step = iota + 1
	// StepResolve reads the _atproto TXT record of the handle: did=,
	// oauth= and the DNSSEC status.
	StepResolve
	// StepDiscovery fetches and checks the provider's discovery document.
	StepDiscovery
	// StepRegistration obtains a client for the provider: a static client
	// from Config or one registered dynamically (RFC 7591).
	StepRegistration
	// StepPAR pushes the authorization request (RFC 9126).
	StepPAR
	// StepAuthorize reads the authorization response at the callback:
	// the pending login, state, iss and an error from the provider.
	StepAuthorize
	// StepToken exchanges the authorization code at the token endpoint.
	StepToken
	// StepIDToken verifies the ID token and its claims.
	StepIDToken
	// StepBinding resolves the handle again and requires that did= is the
	// ID token's subject and oauth= the issuer.
	StepBinding
	// StepLogout sends the browser to the provider's end_session_endpoint
	// after a logout, and reads the state when it comes back. It is not a
	// step of a login.
	StepLogout
)

var stepNames = map[Step]string{
	StepInput:        "input",
	StepResolve:      "resolve",
	StepDiscovery:    "discovery",
	StepRegistration: "registration",
	StepPAR:          "par",
	StepAuthorize:    "authorize",
	StepToken:        "token",
	StepIDToken:      "id_token",
	StepBinding:      "binding",
	StepLogout:       "logout",
}

// String returns the lowercase name of the step, for example "binding".
func (s Step) String() string {
	if name, ok := stepNames[s]; ok {
		return name
	}
	return "step(" + strconv.Itoa(int(s)) + ")"
}

// Error is the error of every failed login. Err holds the typed cause: one
// of the error types of this package, or an error of package handle,
// records or resolve, or of the ID token verifier, wrapped so that
// errors.As reaches it.
type Error struct {
	// Step is the stage that failed.
	Step Step
	// Handle is the handle being signed in, "" when it was not read yet.
	Handle string
	// Issuer is the provider's issuer from oauth=, "" before it was read.
	Issuer string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	return "oidclogin: " + e.Step.String() + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ConfigError reports a Config that cannot work as given, or a Resolver
// that does not behave as Config.Resolver requires.
type ConfigError struct {
	// Field is the Config field at fault.
	Field string
	// Reason describes what is wrong and what to set.
	Reason string
}

func (e *ConfigError) Error() string {
	return "invalid oidclogin configuration: " + e.Field + ": " + e.Reason
}

// ReturnPathError reports a return path that is not a local path of this
// site. Only local paths are followed after a login, so that the login
// cannot send a person to another site (an open redirect).
type ReturnPathError struct {
	// Path is the value as given.
	Path string
	// Reason describes which rule the value breaks.
	Reason string
}

func (e *ReturnPathError) Error() string {
	return fmt.Sprintf("return path %q is not accepted: %s; use a path on this site such as \"/account\"", e.Path, e.Reason)
}

// DNSSECError reports a TXT RRset at _atproto.<handle> whose DNSSEC status
// the DNSSECPolicy rejects.
type DNSSECError struct {
	// Name is the owner name, for example "_atproto.alice.example.".
	Name string
	// Status is the DNSSEC status of the RRset.
	Status resolve.Status
	// Reason is the resolver's explanation of the status.
	Reason string
}

func (e *DNSSECError) Error() string {
	msg := fmt.Sprintf("the TXT RRset at %s is %s", e.Name, e.Status)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Status == resolve.Bogus {
		return msg + ": its DNSSEC signatures do not validate, so the records cannot be trusted"
	}
	return msg + ": sign the zone with DNSSEC, or set Config.MinDNSSEC to AllowInsecure for development only"
}

// NoIssuerError reports a handle whose _atproto TXT records carry no
// oauth= value, so it names no OpenID provider.
type NoIssuerError struct {
	// Name is the TXT owner name, for example "_atproto.alice.example.".
	Name string
	// NXDomain is true when the name does not exist at all.
	NXDomain bool
}

func (e *NoIssuerError) Error() string {
	if e.NXDomain {
		return fmt.Sprintf("the name %s does not exist in DNS (NXDOMAIN): the handle is not published", e.Name)
	}
	return fmt.Sprintf("no oauth= value in the TXT records at %s: the handle names no OpenID provider; publish oauth=<issuer>, or sign in with a device certificate", e.Name)
}

// MissingDIDError reports a handle without a did= value, so no ID token
// subject can be bound to it.
type MissingDIDError struct {
	// Name is the TXT owner name.
	Name string
}

func (e *MissingDIDError) Error() string {
	return fmt.Sprintf("no did= value in the TXT records at %s: publish did=<DID> of the identity", e.Name)
}

// HTTPError reports a response from the provider with an unexpected status
// code and no OAuth error in its body.
type HTTPError struct {
	// URL is the endpoint requested.
	URL string
	// StatusCode is the HTTP status of the response.
	StatusCode int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s returned HTTP status %d", e.URL, e.StatusCode)
}

// MetadataError reports a document from the provider (discovery,
// registration, PAR or token response) that lacks a required member or
// holds an invalid one.
type MetadataError struct {
	// URL is the document's address.
	URL string
	// Field is the JSON member at fault, for example "token_endpoint".
	Field string
	// Reason describes what is wrong.
	Reason string
}

func (e *MetadataError) Error() string {
	return fmt.Sprintf("%s: member %q %s", e.URL, e.Field, e.Reason)
}

// IssuerMismatchError reports a discovery document whose issuer is not
// exactly the issuer named by oauth=. OpenID Connect Discovery 1.0,
// section 4.3 requires the two to be identical.
type IssuerMismatchError struct {
	// Expected is the issuer from oauth=.
	Expected string
	// Got is the "issuer" member of the discovery document.
	Got string
}

func (e *IssuerMismatchError) Error() string {
	return fmt.Sprintf("the discovery document names issuer %q, but the handle's oauth= value names %q: the two must be identical", e.Got, e.Expected)
}

// IssuerParameterError reports an authorization response whose iss
// parameter (RFC 9207) is missing although the provider advertises it, or
// names another issuer. Such a response may come from another provider
// than the one the login started at (a mix-up attack), so it is rejected.
type IssuerParameterError struct {
	// Expected is the issuer the login started at.
	Expected string
	// Got is the iss parameter, "" when it is missing.
	Got string
}

func (e *IssuerParameterError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("the authorization response has no iss parameter, but issuer %q advertises it (RFC 9207)", e.Expected)
	}
	return fmt.Sprintf("the authorization response comes from issuer %q, but the login started at %q (RFC 9207)", e.Got, e.Expected)
}

// OAuthError is an error response of the provider: at the authorization
// endpoint (RFC 6749, section 4.1.2.1), the token endpoint (section 5.2),
// the PAR endpoint (RFC 9126, section 2.3) or the registration endpoint
// (RFC 7591, section 3.2.2).
type OAuthError struct {
	// Endpoint is "authorization", "token", "par" or "registration".
	Endpoint string
	// Code is the error code, for example "access_denied".
	Code string
	// Description is the provider's error_description, "" when absent.
	Description string
	// URI is the provider's error_uri, "" when absent.
	URI string
	// StatusCode is the HTTP status, 0 at the authorization endpoint.
	StatusCode int
}

func (e *OAuthError) Error() string {
	msg := fmt.Sprintf("the %s endpoint returned error %q", e.Endpoint, e.Code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.URI != "" {
		msg += " (see " + e.URI + ")"
	}
	return msg
}

// Problems of a StateError.
const (
	// StateMissing means the browser sent no pending-login cookie.
	StateMissing = "missing"
	// StateInvalid means the pending-login cookie does not decrypt or
	// does not parse, for example after a change of Config.SessionKey.
	StateInvalid = "invalid"
	// StateExpired means the login took longer than PendingLifetime.
	StateExpired = "expired"
	// StateMismatch means the state parameter is missing or is not the
	// state of the pending login.
	StateMismatch = "mismatch"
)

// StateError reports an authorization response that does not belong to
// the login pending in this browser (RFC 6749, section 10.12).
type StateError struct {
	// Problem is StateMissing, StateInvalid, StateExpired or StateMismatch.
	Problem string
}

func (e *StateError) Error() string {
	switch e.Problem {
	case StateMissing:
		return "no login is pending in this browser: the login cookie is missing; start the login again from this site"
	case StateExpired:
		return "the pending login expired; start the login again"
	case StateMismatch:
		return "the state parameter does not match the login pending in this browser; start the login again"
	default:
		return "the pending-login cookie is invalid; start the login again"
	}
}

// LogoutStateError reports a return from the provider's
// end_session_endpoint that does not belong to a logout pending in this
// browser. The session at this site ended before the browser left, so the
// browser goes to "/" instead of the return path of the logout.
type LogoutStateError struct {
	// Problem is StateInvalid, StateExpired or StateMismatch.
	Problem string
}

func (e *LogoutStateError) Error() string {
	switch e.Problem {
	case StateExpired:
		return "the pending logout expired before the provider sent the browser back; the session at this site ended anyway"
	case StateMismatch:
		return "the state parameter from the provider's end_session_endpoint does not match the logout pending in this browser; the session at this site ended anyway"
	default:
		return "the pending-logout cookie is invalid; the session at this site ended anyway"
	}
}

// ClientError reports a client that can no longer be used at the callback,
// for example because the registration was lost after the login started.
type ClientError struct {
	// Issuer is the provider's issuer.
	Issuer string
	// Reason describes what changed.
	Reason string
}

func (e *ClientError) Error() string {
	return fmt.Sprintf("the client at %s cannot finish this login: %s; start the login again", e.Issuer, e.Reason)
}

// ClaimError reports an ID token claim that fails a check of this package
// (the signature, iss, aud and exp checks of the verifier return their own
// errors). A handle claim that names another handle is a
// *HandleClaimError instead.
type ClaimError struct {
	// Claim is the claim's name, for example "nonce" or "handle".
	Claim string
	// Reason describes what is wrong.
	Reason string
}

func (e *ClaimError) Error() string {
	return fmt.Sprintf("ID token claim %q: %s", e.Claim, e.Reason)
}

// HandleClaimError reports an ID token whose handle claim names another
// handle than the one typed at the start of the login, for example because
// the person chose another of their handles at the provider.
type HandleClaimError struct {
	// Login is the handle the login started with.
	Login string
	// Token is the value of the ID token's handle claim.
	Token string
}

func (e *HandleClaimError) Error() string {
	return fmt.Sprintf("the provider signed in the handle %q (the ID token's handle claim), but this sign-in started for %q", e.Token, e.Login)
}

// BindingError reports DNS records that, resolved again after the token
// exchange, no longer bind the handle to the identity the provider signed
// in: did= is not the ID token's subject (the handle may have moved to
// another identity), or oauth= names another issuer.
type BindingError struct {
	// Handle is the handle.
	Handle string
	// Attribute is "did" or "oauth".
	Attribute string
	// DNS is the attribute's value in DNS now ("" when absent), normalized
	// with records.ParseOAuthIssuer for oauth.
	DNS string
	// Token is the value from the login: the ID token's sub for "did",
	// the issuer for "oauth".
	Token string
}

func (e *BindingError) Error() string {
	if e.Attribute == "oauth" {
		return fmt.Sprintf("the oauth= value of %s now names %q, not the issuer %q that signed you in", e.Handle, e.DNS, e.Token)
	}
	return fmt.Sprintf("the did= value of %s is %q, not the subject %q of the ID token: the handle is bound to another identity", e.Handle, e.DNS, e.Token)
}
