package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/verify"
)

// PathPrefix is the path below which the proxy serves its own pages and
// mounts Config.Login. Requests below it are never forwarded upstream.
const PathPrefix = "/.dnshandle/"

// LoginPath is the path of the OIDC sign-in form, served by Config.Login
// (oidclogin.LoginPath). The proxy's sign-in page posts the form fields
// "handle" (the handle typed) and "return" (the local path to come back to
// after signing in) to it.
const LoginPath = PathPrefix + "login"

// DefaultRealm is the realm of the 401 challenge when Config.Realm is
// empty.
const DefaultRealm = "dnshandle proxy"

// DefaultShutdownTimeout bounds the graceful shutdown of Serve when
// Config.ShutdownTimeout is zero.
const DefaultShutdownTimeout = 10 * time.Second

// Config configures a Proxy. Upstream and Verifier are required. Every
// other zero field means its documented default.
type Config struct {
	// Upstream is the base URL of the application, http or https. Request
	// paths are appended to its path.
	Upstream *url.URL
	// Verifier verifies client certificate chains. New sets its
	// RequestError, calling any function already there first, so the
	// proxy learns why a chain failed: pass a Verifier that is not in use
	// yet, and do not share it with a second Proxy.
	Verifier *verify.Verifier
	// Transport sends the upstream requests. Nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Realm is the realm of the 401 challenge. Empty means DefaultRealm.
	Realm string
	// Login is the OIDC sign-in handler (an oidclogin.Login's Handler),
	// which receives every request below PathPrefix. Nil means OIDC
	// sign-in is not configured, and the sign-in page offers certificate
	// login only.
	Login http.Handler
	// SessionIdentity returns the identity of a request's sign-in
	// session, when it has one. Nil means no sessions.
	SessionIdentity func(*http.Request) (*verify.Identity, bool)
	// SessionCookies names cookies of the sign-in session that are
	// removed from upstream requests, so the session token never reaches
	// the application. Cookies whose names begin with "dnshandle_", also
	// after a "__Host-" or "__Secure-" prefix, are always removed.
	SessionCookies []string
	// Logger receives the access log (one Info record per request) and
	// the errors the proxy handles. Nil discards them.
	Logger *slog.Logger
	// ShutdownTimeout bounds the graceful shutdown in Serve. Zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// ConfigError reports an invalid Config.
type ConfigError struct {
	// Field is the Config field at fault.
	Field string
	// Reason describes what is wrong and what to set.
	Reason string
}

func (e *ConfigError) Error() string {
	return "invalid proxy configuration: " + e.Field + ": " + e.Reason
}

// Proxy is the reverse proxy. It is an http.Handler that must be served
// over TLS with the configuration from TLSConfig. Its methods are safe for
// concurrent use.
type Proxy struct {
	cfg      Config
	logger   *slog.Logger
	verifier *verify.Verifier
	reverse  *httputil.ReverseProxy
	verified http.Handler
}

// New checks cfg and returns a Proxy. Errors are *ConfigError.
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil {
		return nil, &ConfigError{Field: "Upstream", Reason: "the URL of the application is required"}
	}
	if cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https" {
		return nil, &ConfigError{Field: "Upstream", Reason: fmt.Sprintf("scheme %q is not http or https", cfg.Upstream.Scheme)}
	}
	if cfg.Upstream.Host == "" {
		return nil, &ConfigError{Field: "Upstream", Reason: "the host is missing, for example http://127.0.0.1:3000"}
	}
	if cfg.Verifier == nil {
		return nil, &ConfigError{Field: "Verifier", Reason: "a *verify.Verifier with a Resolver is required"}
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}

	p := &Proxy{cfg: cfg, logger: cfg.Logger, verifier: cfg.Verifier}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}

	earlier := cfg.Verifier.RequestError
	cfg.Verifier.RequestError = func(r *http.Request, err error) {
		if earlier != nil {
			earlier(r, err)
		}
		if st := stateFrom(r.Context()); st != nil {
			st.verifyErr = err
		}
	}

	p.reverse = &httputil.ReverseProxy{
		Rewrite:      p.rewrite,
		Transport:    cfg.Transport,
		ErrorHandler: p.upstreamError,
		ErrorLog:     slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
	}
	p.verified = cfg.Verifier.Middleware(http.HandlerFunc(p.authorize))
	return p, nil
}

// ServeHTTP serves the proxy's own paths, and forwards every other request
// that carries an identity.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &requestState{start: time.Now()}
	rec := &statusRecorder{ResponseWriter: w}
	defer p.logAccess(rec, r, st)

	r = r.WithContext(withState(r.Context(), st))
	if strings.HasPrefix(r.URL.Path, PathPrefix) {
		p.serveOwn(rec, r)
		return
	}
	p.verified.ServeHTTP(rec, r)
}

// authorize runs after the Verifier's Middleware: it forwards requests
// with an identity and rejects the others.
func (p *Proxy) authorize(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())

	id, ok := verify.FromContext(r.Context())
	if !ok && p.cfg.SessionIdentity != nil {
		if sid, found := p.cfg.SessionIdentity(r); found && sid != nil && sid.Handle != "" {
			own := *sid
			id, ok = &own, true
			r = r.WithContext(verify.NewContext(r.Context(), id))
		}
	}
	if ok {
		st.id = id
		p.reverse.ServeHTTP(w, r)
		return
	}

	if st.verifyErr != nil {
		p.refuse(w, r, st.verifyErr)
		return
	}
	p.challenge(w, r)
}

// serveOwn serves the paths below PathPrefix: the Login handler, or a page
// stating that sign-in is not configured.
func (p *Proxy) serveOwn(w http.ResponseWriter, r *http.Request) {
	if p.cfg.Login != nil {
		p.cfg.Login.ServeHTTP(w, r)
		return
	}
	writePage(w, r, http.StatusNotFound, pageData{
		Title:   "OIDC sign-in is not configured",
		Message: "This site does not offer sign-in through your handle's OpenID provider. Log in with a device certificate for your DNS handle instead.",
	})
}

// challenge responds to a request without any identity: the sign-in page for
// browsers, the bare challenge of verify.RequireIdentity for API clients.
func (p *Proxy) challenge(w http.ResponseWriter, r *http.Request) {
	loginURL := ""
	if p.cfg.Login != nil {
		loginURL = "https://" + r.Host + LoginPath
	}
	if !wantsHTML(r) {
		verify.RequireIdentity(p.cfg.Realm, loginURL, http.NotFoundHandler()).ServeHTTP(w, r)
		return
	}

	w.Header().Set("WWW-Authenticate", verify.Challenge(p.cfg.Realm, loginURL))
	writeSignInPage(w, r, p.cfg.Login != nil)
}

// refuse rejects a request whose certificate failed verification.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, err error) {
	f := describeFailure(err)
	p.logger.LogAttrs(r.Context(), slog.LevelWarn, "client certificate rejected",
		slog.String("handle", f.handle), slog.String("step", f.step),
		slog.String("remote_addr", r.RemoteAddr), slog.Any("err", err))
	writeFailure(w, r, f, p.cfg.Login != nil)
}

// upstreamError responds to a request the upstream could not serve.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away, so no response can reach it.
		p.logger.LogAttrs(r.Context(), slog.LevelDebug, "client closed the request", slog.String("remote_addr", r.RemoteAddr), slog.Any("err", err))
		return
	}
	p.logger.LogAttrs(r.Context(), slog.LevelError, "upstream request failed",
		slog.String("upstream", p.cfg.Upstream.Redacted()), slog.String("remote_addr", r.RemoteAddr), slog.Any("err", err))
	writePage(w, r, http.StatusBadGateway, pageData{
		Title:   "The application is not reachable",
		Message: "The proxy could not reach the application behind it. Try again later; if it persists, the site's operator can find the cause in the proxy's log.",
	})
}

// TLSConfig returns the server configuration of the proxy: a copy of base
// (which holds the server certificate) set up by verify.ServerConfig, so it
// requires TLS 1.3 and requests a client certificate under the profile
// marker. Unlike verify.ServerConfig it does not verify the chain in the
// handshake (base's own VerifyConnection still runs): the chain is
// verified at the first request of the connection, so a failure gets a
// page instead of a TLS alert. Configurations that
// base.GetConfigForClient returns get the same treatment.
func (p *Proxy) TLSConfig(base *tls.Config) *tls.Config {
	cfg := p.serverConfig(base)
	if base != nil && base.GetConfigForClient != nil {
		forClient := base.GetConfigForClient
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := forClient(hello)
			if err != nil || c == nil {
				return c, err
			}
			return p.serverConfig(c), nil
		}
	}
	return cfg
}

// serverConfig applies verify.ServerConfig to base and puts base's own
// VerifyConnection back in place of the handshake verification.
func (p *Proxy) serverConfig(base *tls.Config) *tls.Config {
	var own func(tls.ConnectionState) error
	if base != nil {
		own = base.VerifyConnection
	}
	cfg := verify.ServerConfig(base, p.verifier)
	cfg.VerifyConnection = own
	cfg.GetConfigForClient = nil
	return cfg
}

// Serve serves the proxy over TLS on ln until ctx ends, then shuts down
// gracefully: it stops accepting, and waits up to ShutdownTimeout for
// requests in flight. base holds the server certificate (see TLSConfig).
// It returns nil after a shutdown that ctx started, and the server's error
// otherwise.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener, base *tls.Config) error {
	if base == nil || (len(base.Certificates) == 0 && base.GetCertificate == nil) {
		return &ConfigError{Field: "TLS", Reason: "a server certificate is required"}
	}
	srv := &http.Server{
		Handler:           p,
		TLSConfig:         p.TLSConfig(base),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Failed handshakes of scanners and impatient clients are routine.
		ErrorLog: slog.NewLogLogger(p.logger.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context {
			return context.WithoutCancel(ctx)
		},
	}

	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	p.logger.Info("shutting down", "timeout", p.cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("graceful shutdown did not finish within %s: %w", p.cfg.ShutdownTimeout, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
