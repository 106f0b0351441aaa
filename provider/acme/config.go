package acme

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of Config fields left zero.
const (
	DefaultOrderLifetime         = 24 * time.Hour
	DefaultAuthorizationLifetime = 24 * time.Hour
	// DefaultEnrollmentLifetime is how long an EAB credential can create an
	// account after it is minted.
	DefaultEnrollmentLifetime = time.Hour
	// DefaultCRLLifetime is the time from thisUpdate to nextUpdate of a
	// CRL. A CRL is signed again when half of it has passed or a
	// certificate was revoked.
	DefaultCRLLifetime = 24 * time.Hour
	// DefaultRenewalRetryAfter is the Retry-After of renewal information,
	// the interval RFC 9773, section 4.3 suggests clients poll at.
	DefaultRenewalRetryAfter = 6 * time.Hour
	DefaultNonceLifetime     = time.Hour
	DefaultMaxNonces         = 100000
	// DefaultFinalizeTimeout is how long an order may stay processing. A
	// finalize signs and stores the certificate in milliseconds, so an
	// order processing for a minute was left by a process that stopped.
	DefaultFinalizeTimeout = time.Minute
	// DefaultMaxBodySize bounds a request body in bytes. The largest
	// request is a finalize with an RSA 8192 CSR, well under it.
	DefaultMaxBodySize = 64 << 10
	// DefaultEABKeySize is the size of a minted EAB HMAC key in bytes.
	DefaultEABKeySize = 32
)

// Config configures a Server. BaseURL and Backend are required; every other
// zero field means the default named on it.
type Config struct {
	// BaseURL is the external URL under which the Handler is mounted,
	// for example "https://dhp.example/acme". The directory is at
	// <BaseURL>/directory. It must be https, or http on a loopback host for
	// tests. The JWS "url" of each request must equal <scheme>://<host> of
	// BaseURL followed by the request path, so mount the Handler without
	// stripping the path prefix.
	BaseURL string
	// Backend stores the state. When it is also a NonceBackend, the Server
	// keeps its nonces there instead of in memory, and when it is a
	// Pruner, Server.Prune deletes its expired records.
	Backend Backend
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Logger receives one record per failed request: level Error for
	// internal failures, with the cause, and Debug for client errors.
	// Nil discards them.
	Logger *slog.Logger

	// OrderLifetime is the time from newOrder to the order's expiry.
	// Zero means DefaultOrderLifetime.
	OrderLifetime time.Duration
	// AuthorizationLifetime is the time from newOrder to the expiry of
	// its pre-validated authorization. An order whose authorization expired
	// before finalize becomes invalid. Zero means
	// DefaultAuthorizationLifetime.
	AuthorizationLifetime time.Duration
	// EnrollmentLifetime is the validity of a minted EAB credential. Zero
	// means DefaultEnrollmentLifetime.
	EnrollmentLifetime time.Duration
	// DeviceLifetime is the lifetime of issued device certificates. Zero
	// means pki.DefaultDeviceLifetime.
	DeviceLifetime time.Duration
	// CRLLifetime is the validity of each CRL. Zero means
	// DefaultCRLLifetime.
	CRLLifetime time.Duration
	// RenewalRetryAfter is the Retry-After of renewal information. Zero
	// means DefaultRenewalRetryAfter.
	RenewalRetryAfter time.Duration
	// NonceLifetime is how long an unused nonce stays acceptable. Zero
	// means DefaultNonceLifetime.
	NonceLifetime time.Duration
	// MaxNonces bounds the outstanding nonces that the Server keeps in
	// memory. Beyond it the oldest are dropped. It does not apply to a
	// NonceBackend, which keeps no issued nonces. Zero means
	// DefaultMaxNonces.
	MaxNonces int
	// FinalizeTimeout is how long an order may stay processing before the
	// Server takes its finalize as interrupted, for example by a crash
	// between the start of finalize and the stored certificate. The next
	// read of such an order makes it invalid with a serverInternal error,
	// so that its client stops polling and places a new order. Zero means
	// DefaultFinalizeTimeout.
	FinalizeTimeout time.Duration
	// MaxBodySize bounds request bodies in bytes. Zero means
	// DefaultMaxBodySize.
	MaxBodySize int64

	// RateLimits limits requests per account and per client IP.
	RateLimits RateLimits
	// ClientIP returns the address that per-IP limits count, for servers
	// behind a proxy. Nil means the host of Request.RemoteAddr.
	ClientIP func(r *http.Request) string

	// Website is sent as meta.website in the directory when set.
	Website string
}

// ConfigError reports a Config that NewServer cannot use.
type ConfigError struct {
	Field  string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("acme: invalid Config.%s %q: %s", e.Field, e.Value, e.Reason)
}

// withDefaults checks c and returns a copy with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	if c.Backend == nil {
		return c, &ConfigError{Field: "Backend", Reason: "a Backend is required, for example NewMemoryBackend()"}
	}
	if err := checkBaseURL(c.BaseURL); err != nil {
		return c, err
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")

	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setDuration(&c.OrderLifetime, DefaultOrderLifetime)
	setDuration(&c.AuthorizationLifetime, DefaultAuthorizationLifetime)
	setDuration(&c.EnrollmentLifetime, DefaultEnrollmentLifetime)
	setDuration(&c.CRLLifetime, DefaultCRLLifetime)
	setDuration(&c.RenewalRetryAfter, DefaultRenewalRetryAfter)
	setDuration(&c.NonceLifetime, DefaultNonceLifetime)
	setDuration(&c.FinalizeTimeout, DefaultFinalizeTimeout)
	if c.MaxNonces <= 0 {
		c.MaxNonces = DefaultMaxNonces
	}
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = DefaultMaxBodySize
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteIP
	}
	return c, nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return &ConfigError{Field: "BaseURL", Value: raw, Reason: "must be an absolute URL such as https://dhp.example/acme"}
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return &ConfigError{Field: "BaseURL", Value: raw, Reason: "must have no user, query or fragment"}
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return &ConfigError{Field: "BaseURL", Value: raw, Reason: "ACME requires https (RFC 8555, section 6.1); http is allowed only on loopback hosts for tests"}
	default:
		return &ConfigError{Field: "BaseURL", Value: raw, Reason: "scheme must be https"}
	}
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
