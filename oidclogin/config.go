package oidclogin

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/verify"
)

// Paths served by Login.Handler, relative to Config.BaseURL.
const (
	// LoginPath serves the login form (GET) and starts a login (POST).
	LoginPath = "/.dnshandle/login"
	// CallbackPath receives the authorization response. The redirect URI
	// registered at providers is Config.BaseURL + CallbackPath.
	CallbackPath = "/.dnshandle/callback"
	// LogoutPath ends the session (POST), and receives the browser back
	// from the provider's end_session_endpoint (GET). The
	// post_logout_redirect_uri registered at providers is Config.BaseURL +
	// LogoutPath.
	LogoutPath = "/.dnshandle/logout"
)

// Defaults applied by New to zero Config fields, and fixed limits.
const (
	// DefaultSessionLifetime is the lifetime of a session cookie.
	DefaultSessionLifetime = 8 * time.Hour
	// PendingLifetime is how long a started login may take, from the
	// redirect to the provider until the callback. A logout at the
	// provider has as long to come back to LogoutPath.
	PendingLifetime = 10 * time.Minute
	// DefaultHTTPTimeout bounds each request to a provider when
	// Config.HTTPClient is nil.
	DefaultHTTPTimeout = 10 * time.Second
	// discoveryTTL is how long a discovery document is reused before it
	// is fetched again.
	discoveryTTL = 5 * time.Minute
)

// MethodOIDC is the verify.Identity.Method of a login through this package.
const MethodOIDC = "oidc"

// Scopes requested at the provider.
const requestedScopes = "openid profile"

// DNSSECPolicy is the weakest DNSSEC status of the TXT RRset at
// _atproto.<handle> that a login accepts. Bogus RRsets are always rejected.
type DNSSECPolicy int

const (
	// RequireSecure is the default: only DNSSEC-validated records.
	RequireSecure DNSSECPolicy = iota
	// AllowInsecure also accepts insecure and indeterminate RRsets and
	// records their status in the Identity. Use it for development only.
	AllowInsecure
)

// String returns "require-secure" or "allow-insecure".
func (p DNSSECPolicy) String() string {
	if p == AllowInsecure {
		return "allow-insecure"
	}
	return "require-secure"
}

// Client is an OAuth client registered at one provider by hand.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client_secret, sent with HTTP Basic authentication
	// (or in the request body when the provider supports only
	// client_secret_post). Empty means a public client that sends only its
	// client_id.
	Secret string
	// PostLogoutRedirect marks a client whose registration at the provider
	// lists Config.BaseURL + LogoutPath among its post_logout_redirect_uris
	// (OpenID Connect RP-Initiated Logout 1.0). A logout then requests
	// the provider to send the browser back to this site. Without it the
	// logout ends on the provider's page.
	PostLogoutRedirect bool
}

// Config configures a Login. Fields marked required must be set; the zero
// value of every other field means the documented default.
type Config struct {
	// BaseURL is the external URL of this relying party, such as
	// "https://app.example" (required). The redirect URI is BaseURL +
	// CallbackPath. Cookies get the Secure attribute and the "__Host-"
	// name prefix when BaseURL uses https.
	BaseURL string
	// Resolver resolves handles (required): the TXT record at
	// _atproto.<handle> when a login starts, and again after the token
	// exchange. Use a *resolve.Resolver whose Config has Cache.Disabled
	// set, because the second lookup must see the records as published
	// now. A cached did= would let the former owner of a transferred
	// handle log in until its TTL ends. A second lookup whose Result has
	// FromCache set fails the login with a *ConfigError. Configure the
	// resolver with resolve.AcceptInsecure and let MinDNSSEC decide. A
	// resolver with a ResolveATProto method, as *resolve.Resolver has, is
	// asked for the TXT RRset alone, so TLSA records play no part.
	Resolver verify.HandleResolver
	// HTTPClient sends the requests to providers: discovery, JWKS,
	// registration, PAR and token. Pass one whose TLS configuration trusts
	// the providers' certificates. Nil means a client with the system
	// roots and DefaultHTTPTimeout. The issuer comes from DNS, which the
	// owner of any handle controls, so a person can make this client
	// request any https URL. Give it a dialer that rejects addresses the
	// server must not reach, such as internal networks.
	HTTPClient *http.Client
	// StaticClients maps an issuer, in the form records.ParseOAuthIssuer
	// returns, to a client registered there by hand. Other issuers get a
	// client by dynamic registration (RFC 7591).
	StaticClients map[string]Client
	// ClientName is the client_name sent at dynamic registration. Empty
	// means the host of BaseURL.
	ClientName string
	// SessionKey is the 32-byte secret (required) that encrypts and
	// authenticates the session and pending-login cookies with AES-256-GCM.
	// Keep it secret and the same across replicas; changing it ends every
	// session.
	SessionKey []byte
	// SessionLifetime is how long a session cookie stays valid. Zero means
	// DefaultSessionLifetime. A session is not checked against DNS again
	// during its lifetime.
	SessionLifetime time.Duration
	// MinDNSSEC is the weakest accepted DNSSEC status of the handle's TXT
	// records. The zero value is RequireSecure.
	MinDNSSEC DNSSECPolicy
	// RegistrationFile, when set, is a JSON file that keeps dynamically
	// registered clients across restarts. It holds client secrets, so it
	// is written with mode 0600, and New rejects a file that other users
	// can read. Empty keeps registrations in memory only.
	RegistrationFile string
	// Now returns the current time for cookie expiry, ID token expiry and
	// DPoP proofs. Nil means time.Now.
	Now func() time.Time
	// OnError, when set, is called with each failed login before the
	// error page is written, so that the server can log it. It is also
	// called when a logout could not reach the provider's
	// end_session_endpoint and ended at this site only, or came back
	// from it with a wrong state (Step StepLogout). The error is a *Error
	// and carries no tokens or keys.
	OnError func(r *http.Request, err error)
}

// Login runs "Sign in with your DNS handle" over OpenID Connect for one
// relying party. Create it with New. Its methods are safe for concurrent
// use.
type Login struct {
	base          *url.URL
	callbackURL   string
	logoutURL     string
	resolver      verify.HandleResolver
	httpClient    *http.Client
	staticClients map[string]Client
	clientName    string
	lifetime      time.Duration
	minDNSSEC     DNSSECPolicy
	now           func() time.Time
	onError       func(*http.Request, error)
	cookies       cookieCodec

	mu        sync.Mutex
	providers map[string]*provider
	registry  *registry

	ended endedSessions
}

// New checks cfg and returns a Login. It reads Config.RegistrationFile
// when that file exists. Errors are *ConfigError.
func New(cfg Config) (*Login, error) {
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Resolver == nil {
		return nil, &ConfigError{Field: "Resolver", Reason: "is required: set a *resolve.Resolver with Cache.Disabled"}
	}
	if cfg.SessionLifetime < 0 {
		return nil, &ConfigError{Field: "SessionLifetime", Reason: "must not be negative"}
	}
	if cfg.MinDNSSEC != RequireSecure && cfg.MinDNSSEC != AllowInsecure {
		return nil, &ConfigError{Field: "MinDNSSEC", Reason: "must be RequireSecure or AllowInsecure"}
	}
	static, err := normalizeStaticClients(cfg.StaticClients)
	if err != nil {
		return nil, err
	}

	l := &Login{
		base:          base,
		callbackURL:   base.String() + CallbackPath,
		logoutURL:     base.String() + LogoutPath,
		resolver:      cfg.Resolver,
		httpClient:    cfg.HTTPClient,
		staticClients: static,
		clientName:    cfg.ClientName,
		lifetime:      cfg.SessionLifetime,
		minDNSSEC:     cfg.MinDNSSEC,
		now:           cfg.Now,
		onError:       cfg.OnError,
		providers:     map[string]*provider{},
	}
	if l.httpClient == nil {
		l.httpClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if l.clientName == "" {
		l.clientName = base.Host
	}
	if l.lifetime == 0 {
		l.lifetime = DefaultSessionLifetime
	}
	if l.now == nil {
		l.now = time.Now
	}

	if l.cookies, err = newCookieCodec(cfg.SessionKey, base.Scheme == "https"); err != nil {
		return nil, err
	}
	if l.registry, err = loadRegistry(cfg.RegistrationFile); err != nil {
		return nil, err
	}
	return l, nil
}

// parseBaseURL accepts an absolute http or https URL without query,
// fragment or user information, and removes a trailing slash.
func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, &ConfigError{Field: "BaseURL", Reason: "is required: set the external URL of this site, such as https://app.example"}
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, &ConfigError{Field: "BaseURL", Reason: "is not a URL: " + err.Error()}
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, &ConfigError{Field: "BaseURL", Reason: "must use https (or http for development)"}
	case u.Host == "":
		return nil, &ConfigError{Field: "BaseURL", Reason: "has no host"}
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, &ConfigError{Field: "BaseURL", Reason: "must not carry user information, a query or a fragment"}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// normalizeStaticClients keys the clients by the normal form of their
// issuer, so that "idp.example" and "https://idp.example/" find one entry.
func normalizeStaticClients(in map[string]Client) (map[string]Client, error) {
	out := make(map[string]Client, len(in))
	for issuer, c := range in {
		normal, err := records.ParseOAuthIssuer(issuer)
		if err != nil {
			return nil, &ConfigError{Field: "StaticClients", Reason: err.Error()}
		}
		if c.ID == "" {
			return nil, &ConfigError{Field: "StaticClients", Reason: "the client for " + normal + " has no ID"}
		}
		out[normal] = c
	}
	return out, nil
}
