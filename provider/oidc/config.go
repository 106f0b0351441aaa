package oidc

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// Defaults of Config fields left zero.
const (
	// DefaultAuthRequestLifetime is the time a person has to sign in and
	// approve an authorization request.
	DefaultAuthRequestLifetime = 10 * time.Minute

	// DefaultCodeLifetime is the validity of an authorization code.
	DefaultCodeLifetime = time.Minute

	// DefaultAccessTokenLifetime is the validity of an access token.
	DefaultAccessTokenLifetime = 10 * time.Minute

	// DefaultIDTokenLifetime is the validity of an ID token.
	DefaultIDTokenLifetime = 10 * time.Minute

	// DefaultRefreshTokenLifetime is the validity of each refresh token.
	// Every use returns a new one with a new lifetime.
	DefaultRefreshTokenLifetime = 30 * 24 * time.Hour

	// DefaultPushedRequestLifetime is the validity of a request_uri from
	// the PAR endpoint.
	DefaultPushedRequestLifetime = 60 * time.Second

	// DefaultDPoPNonceLifetime is how long a DPoP-Nonce value stays
	// acceptable after it was issued.
	DefaultDPoPNonceLifetime = 5 * time.Minute

	// DefaultDPoPProofMaxAge bounds the age of a DPoP proof, measured from
	// its iat claim.
	DefaultDPoPProofMaxAge = 5 * time.Minute

	// DefaultCleanupInterval is the time between two deletions of expired
	// rows.
	DefaultCleanupInterval = 10 * time.Minute

	// DefaultMaxBodySize bounds the size in bytes of a request body at the
	// PAR, token, revocation, registration, login and end-session
	// endpoints.
	DefaultMaxBodySize = 64 << 10
)

// Sessions is the provider's web session, which package provider/web
// implements. The login step reads the signed-in account and the time of
// its sign-in from it, and sends people who are not signed in, or whose
// sign-in is too old for the request, to its sign-in page. The
// end-session endpoint ends it with SignOut.
//
// Implementations must be safe for concurrent use.
type Sessions interface {
	// Account returns the account signed in on the request, and false when
	// the request has no signed-in session.
	Account(r *http.Request) (*store.Account, bool)

	// SignedInAt returns when the person signed in to the request's
	// session, and false when the request has no signed-in session. ID
	// tokens carry it as auth_time, and prompt=login and max_age are
	// checked against it.
	SignedInAt(r *http.Request) (time.Time, bool)

	// SignInURL returns the URL of the sign-in page that sends the person
	// back to next, a path on this host, after signing in.
	SignInURL(next string) string

	// ReauthenticateURL returns the URL of a sign-in page that asks the
	// person to sign in again even with a signed-in session, and then sends
	// them back to next. The new sign-in must give a new SignedInAt time.
	ReauthenticateURL(next string) string

	// CSRFToken returns the value of the hidden form field "csrf" for a
	// form that the signed-in person will post.
	CSRFToken(r *http.Request) string

	// CheckCSRF returns nil when the posted form carries a good "csrf"
	// field for the session of the request.
	CheckCSRF(r *http.Request) error

	// SignOut ends the session of the request, so that its cookie is not
	// accepted again, and deletes the cookie through w. It returns nil when the
	// request has no session, and an error when the session could not be
	// ended.
	SignOut(w http.ResponseWriter, r *http.Request) error
}

// Config configures a Provider. Issuer, Store, Sealer and Sessions are
// required; every other zero field means the default named on it.
type Config struct {
	// Issuer is the issuer identifier: the origin of the HTTPS listener,
	// such as "https://dhp.example" or "https://127.0.0.1:8443", with no
	// path, query or fragment. It must be https, or http on a loopback
	// host for tests. Discovery, the "iss" claim of every token and the
	// "iss" parameter of authorization responses carry it unchanged, and
	// DPoP proofs must name URLs under it (htu).
	Issuer string

	// Store keeps clients, authorization requests, tokens, keys and
	// consents. Several providers may share one store (PostgreSQL).
	Store store.Store

	// Sealer seals the private signing keys and the server secrets.
	Sealer *store.Sealer

	// Sessions provides the signed-in account and protects the consent form.
	Sessions Sessions

	// StaticClients are the clients from the configuration. Their IDs must
	// be unique. A dynamically registered client never shadows one.
	StaticClients []ClientConfig

	// AllowRegistration enables dynamic client registration (RFC 7591) at
	// /oauth/register for anyone who can reach it, limited by
	// RateLimits.Register. Off by default.
	AllowRegistration bool

	// Logger receives server failures (level Error, with the cause),
	// security events such as a reused code or refresh token (Warn) and
	// failed cleanups (Warn). Nil discards them. Client errors are not
	// logged here.
	Logger *slog.Logger

	// Now returns the current time for expiry and proof checks. Nil means
	// time.Now. Tokens carry iat and exp from time.Now of the
	// github.com/zitadel/oidc library, whatever Now returns.
	Now func() time.Time

	// ClientIP returns the address that per-IP rate limits count, for a
	// provider behind a proxy. Nil means the host of Request.RemoteAddr.
	ClientIP func(r *http.Request) string

	// RateLimits limits the token, PAR and registration endpoints.
	RateLimits RateLimits

	// AuthRequestLifetime, CodeLifetime, AccessTokenLifetime,
	// IDTokenLifetime, RefreshTokenLifetime, PushedRequestLifetime,
	// DPoPNonceLifetime and DPoPProofMaxAge default to the constants of
	// the same names with the prefix Default.
	AuthRequestLifetime   time.Duration
	CodeLifetime          time.Duration
	AccessTokenLifetime   time.Duration
	IDTokenLifetime       time.Duration
	RefreshTokenLifetime  time.Duration
	PushedRequestLifetime time.Duration
	DPoPNonceLifetime     time.Duration
	DPoPProofMaxAge       time.Duration

	// CleanupInterval is the time between deletions of expired rows by
	// the goroutine that New starts. Zero means DefaultCleanupInterval and
	// a negative value turns the goroutine off, leaving Cleanup to the
	// caller.
	CleanupInterval time.Duration

	// MaxBodySize bounds request bodies in bytes. Zero means
	// DefaultMaxBodySize.
	MaxBodySize int64
}

// ClientConfig is a client from the configuration.
type ClientConfig struct {
	// ID is the client_id: 1 to 128 characters of letters, digits and
	// "-._~".
	ID string

	// Secret is the client secret of a confidential client, at least 16
	// characters. It must be empty for a public client. The provider keeps
	// only its SHA-256.
	Secret string

	// RedirectURIs are the exact redirect URIs the client may use: https
	// URLs, or http URLs on a loopback host (127.0.0.0/8, ::1,
	// "localhost"), with no fragment and no user information.
	RedirectURIs []string

	// PostLogoutRedirectURIs are the exact URIs to which the end-session
	// endpoint may send the browser back after a logout (OpenID Connect
	// RP-Initiated Logout 1.0, section 3.1), under the rules of
	// RedirectURIs. Empty means that a logout of this client ends on the
	// provider's page.
	PostLogoutRedirectURIs []string

	// Public marks a client without a secret, such as an app on a device.
	// It authenticates with its client_id only and relies on PKCE; its
	// refresh tokens are bound to its DPoP key when it sends DPoP proofs.
	Public bool

	// Name is shown on the consent page. Empty means the ID.
	Name string
}

// Limit is a token bucket: a client may make Burst requests at once, and
// one more each Every after that.
type Limit struct {
	// Burst is the bucket size.
	Burst int

	// Every is the time to earn one request back.
	Every time.Duration
}

// Default limits of RateLimits. They leave room for a busy relying party
// and slow down a client that loops.
var (
	DefaultTokenPerIPLimit     = Limit{Burst: 60, Every: time.Second}
	DefaultTokenPerClientLimit = Limit{Burst: 120, Every: 250 * time.Millisecond}
	DefaultRegisterLimit       = Limit{Burst: 10, Every: 6 * time.Minute}
)

// RateLimits configures the request limits. A Limit with a zero Burst or
// Every means its default. Requests over a limit get 429 with a
// Retry-After header.
type RateLimits struct {
	// TokenPerIP limits requests to /oauth/token and /oauth/par per client
	// IP address. Zero means DefaultTokenPerIPLimit.
	TokenPerIP Limit

	// TokenPerClient limits requests to /oauth/token and /oauth/par per
	// client_id. Zero means DefaultTokenPerClientLimit. The client_id is
	// counted before the client authenticates, so anyone can use up the
	// bucket of a client; the default is high for that reason.
	TokenPerClient Limit

	// Register limits requests to /oauth/register per client IP address.
	// Zero means DefaultRegisterLimit.
	Register Limit

	// Disabled turns every limit off, for benchmarks and trusted networks.
	Disabled bool
}

// ConfigError reports a Config that New cannot use.
type ConfigError struct {
	// Field names the field, such as "Issuer" or "StaticClients[0].Secret".
	Field string

	// Value is the rejected value, empty for secrets and missing values.
	Value string

	// Reason describes what is wrong and what to do.
	Reason string
}

// Error returns a message with the field, the value and the reason.
func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("oidc: invalid Config.%s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("oidc: invalid Config.%s %q: %s", e.Field, e.Value, e.Reason)
}

// withDefaults checks c and returns a copy with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Store == nil:
		return c, &ConfigError{Field: "Store", Reason: "a store is required"}
	case c.Sealer == nil:
		return c, &ConfigError{Field: "Sealer", Reason: "a sealer is required to seal the signing keys"}
	case c.Sessions == nil:
		return c, &ConfigError{Field: "Sessions", Reason: "the web sessions are required for the login step"}
	}
	if err := checkIssuer(c.Issuer); err != nil {
		return c, err
	}

	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteIP
	}

	setDuration(&c.AuthRequestLifetime, DefaultAuthRequestLifetime)
	setDuration(&c.CodeLifetime, DefaultCodeLifetime)
	setDuration(&c.AccessTokenLifetime, DefaultAccessTokenLifetime)
	setDuration(&c.IDTokenLifetime, DefaultIDTokenLifetime)
	setDuration(&c.RefreshTokenLifetime, DefaultRefreshTokenLifetime)
	setDuration(&c.PushedRequestLifetime, DefaultPushedRequestLifetime)
	setDuration(&c.DPoPNonceLifetime, DefaultDPoPNonceLifetime)
	setDuration(&c.DPoPProofMaxAge, DefaultDPoPProofMaxAge)

	if c.CleanupInterval == 0 {
		c.CleanupInterval = DefaultCleanupInterval
	}
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = DefaultMaxBodySize
	}
	return c, nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// checkIssuer applies the rules of Config.Issuer.
func checkIssuer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return &ConfigError{Field: "Issuer", Value: raw, Reason: "must be an absolute URL such as https://dhp.example"}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return &ConfigError{Field: "Issuer", Value: raw, Reason: "must have no user information, query or fragment"}
	}
	if u.Path != "" && u.Path != "/" {
		return &ConfigError{Field: "Issuer", Value: raw, Reason: "must be an origin without a path, because the endpoints live under /oauth/ and /.well-known/ of the host"}
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return &ConfigError{Field: "Issuer", Value: raw, Reason: "must use https (http is allowed only on a loopback host, for tests)"}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
