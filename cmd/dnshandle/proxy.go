package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/oidclogin"
	"github.com/dnshandle/dnshandle/proxy"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// proxyFlags are the flags of dnshandle proxy.
type proxyFlags struct {
	resolver  resolverFlags
	listen    string
	upstream  string
	certFile  string
	keyFile   string
	dataDir   string
	realm     string
	policy    verify.Policy
	logFormat string
	logLevel  string

	revocation     string
	crlFiles       []string
	crlGrace       time.Duration
	crlRefresh     time.Duration
	allowNoCRLURL  bool
	providerCAFile string
	oidcCAFile     string // the deprecated name of providerCAFile
	flagWasSet     func(name string) bool

	oidc           bool
	baseURL        string
	sessionKeyFile string
}

// Values of --revocation.
const (
	revocationFetch = "fetch"
	revocationFiles = "files"
	revocationOff   = "off"
)

func newProxyCommand() *cobra.Command {
	var f proxyFlags
	cmd := &cobra.Command{
		Use:   "proxy --upstream URL --server HOST:PORT",
		Short: "Put DNS-handle login in front of any web application",
		Long: `Run a TLS 1.3 reverse proxy that logs people in with their DNS handle and
forwards each request to the application with the verified identity in
the headers DNS-Handle, DNS-Handle-DID, DNS-Handle-Device and
DNS-Handle-Method. Headers of those names sent by clients are removed.

The proxy asks every client for a device certificate and checks it
against the handle's TLSA and _atproto records. A browser without one gets
a sign-in page; with --oidc it offers "Sign in with your DNS handle" over
OpenID Connect. API clients get 401 with a WWW-Authenticate: DNSHandle
challenge. A certificate that fails gets 403 naming the failed check.

Revocation: by default the proxy fetches the CRL named in each device
certificate (its CRL distribution point at the handle's provider), keeps
it until it is due for refresh (--crl-refresh, or sooner when the
provider's Cache-Control max-age says so), and rejects a revoked device
with 403. Give the provider's CA with --provider-ca when its HTTPS
certificate is not from a public CA. --revocation files checks the --crl
files only, read once at start; --revocation off checks nothing.

Without --cert and --key the proxy makes a loopback certificate in --data
and prints the CA file that clients must trust. Keep the application
reachable only through the proxy, or clients could set the identity
headers themselves.`,
		Example: `  dnshandle proxy --upstream http://127.0.0.1:3000 --server 127.0.0.1:53 --trust-anchor root.ds
  dnshandle proxy --upstream http://127.0.0.1:3000 --server 127.0.0.1:5353 --accept-insecure --oidc --listen 127.0.0.1:8444 --provider-ca dhp/acme/ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(f.logFormat, f.logLevel, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			f.flagWasSet = cmd.Flags().Changed
			return runProxy(ctx, &f, logger)
		},
	}
	f.resolver.register(cmd)
	fl := cmd.Flags()
	// The proxy never falls back to the system resolver.
	fl.Lookup("server").Usage = `DNS server the proxy resolves handles through, "HOST[:PORT]" or "tls://HOST[:PORT]" (repeatable; required unless --snapshot)`
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8444", "HTTPS address to listen on")
	fl.StringVar(&f.upstream, "upstream", "", "URL of the application behind the proxy, such as http://127.0.0.1:3000 (required)")
	fl.StringVar(&f.certFile, "cert", "", "PEM file of the proxy's server certificate chain (default: a loopback certificate in --data)")
	fl.StringVar(&f.keyFile, "key", "", "PEM file of the private key of --cert")
	fl.StringVar(&f.dataDir, "data", "", "directory for the loopback certificate and the OIDC session key (default: dnshandle/proxy under the user configuration directory)")
	fl.StringVar(&f.realm, "realm", proxy.DefaultRealm, "realm of the WWW-Authenticate challenge")
	fl.StringVar(&f.revocation, "revocation", revocationFetch, `how to check revocation: "fetch" the CRL from each device certificate's distribution point, only the --crl "files", or "off"`)
	fl.StringArrayVar(&f.crlFiles, "crl", nil, `with --revocation files (implied when --crl is given without --revocation): CRL file of a CSC, DER or PEM, read once at start (repeatable)`)
	fl.DurationVar(&f.crlGrace, "crl-grace", 0, "with --revocation fetch: how long after its nextUpdate a fetched CRL is still used while fetching its successor fails")
	fl.DurationVar(&f.crlRefresh, "crl-refresh", verify.DefaultCRLRefreshInterval, "with --revocation fetch: the longest time a fetched CRL is used before it is fetched again (0: at every login)")
	fl.BoolVar(&f.allowNoCRLURL, "allow-no-crl-url", false, "with --revocation fetch: accept a device certificate without an http or https CRL distribution point, unchecked (default: reject it)")
	fl.StringSliceVar(&f.policy.Allow, "allow", nil, `accept only handles under these suffixes ("example.edu" or "*.example.edu")`)
	fl.StringSliceVar(&f.policy.Deny, "deny", nil, "reject handles under these suffixes")
	fl.BoolVar(&f.policy.AllowMissingDID, "allow-missing-did", false, "accept a handle without a did= record")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "minimum log level: debug, info, warn or error")
	fl.BoolVar(&f.oidc, "oidc", false, `offer "Sign in with your DNS handle" over OpenID Connect to browsers without a device certificate`)
	fl.StringVar(&f.baseURL, "base-url", "", "with --oidc: external URL of the proxy, the base of the OIDC redirect URI (default https://<listen address>)")
	fl.StringVar(&f.sessionKeyFile, "session-key-file", "", "with --oidc: file with the 32-byte session cookie key in hex (default: session.key in --data, made on first start)")
	fl.StringVar(&f.providerCAFile, "provider-ca", "", "PEM file of a CA to trust, besides the system roots, for the HTTPS of handle providers: CRL distribution points and, with --oidc, OpenID providers")
	fl.StringVar(&f.oidcCAFile, "oidc-ca", "", "the former name of --provider-ca")
	_ = fl.MarkDeprecated("oidc-ca", "use --provider-ca, which also applies to CRL fetches") // the flag exists, so this cannot fail
	return cmd
}

// runProxy builds the proxy from the flags and serves it until ctx ends.
func runProxy(ctx context.Context, f *proxyFlags, logger *slog.Logger) error {
	if f.upstream == "" {
		return errors.New("missing --upstream: give the URL of the application, such as http://127.0.0.1:3000")
	}
	upstream, err := parseUpstream(f.upstream)
	if err != nil {
		return err
	}
	for name, value := range map[string]string{"--base-url": f.baseURL, "--session-key-file": f.sessionKeyFile} {
		if value != "" && !f.oidc {
			return fmt.Errorf("%s applies only to OpenID Connect sign-in: add --oidc, or drop %s", name, name)
		}
	}
	if err := f.checkRevocationFlags(); err != nil {
		return err
	}
	if len(f.resolver.servers) == 0 && f.resolver.snapshot == "" {
		return errors.New("missing --server: give the DNS server the proxy resolves handles through, such as a local validating resolver at 127.0.0.1:53")
	}
	dataDir, err := proxyDataDir(f.dataDir)
	if err != nil {
		return err
	}

	httpClient, err := httpClientWithCA(f.providerCAFile)
	if err != nil {
		return fmt.Errorf("--provider-ca: %w", err)
	}
	verifier, err := f.verifier(httpClient, logger)
	if err != nil {
		return err
	}
	cfg := proxy.Config{Upstream: upstream, Verifier: verifier, Realm: f.realm, Logger: logger}

	cert, err := f.serverCertificate(dataDir, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", f.listen, err)
	}
	defer ln.Close()
	origin := "https://" + ln.Addr().String()

	if f.oidc {
		login, err := f.oidcLogin(dataDir, origin, httpClient, logger)
		if err != nil {
			return err
		}
		cfg.Login = login.Handler()
		cfg.SessionIdentity = login.Identity
	}

	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	logger.Info("proxy listening", "addr", ln.Addr().String(), "origin", origin, "upstream", upstream.Redacted(), "oidc", f.oidc, "revocation", f.revocation)
	if f.resolver.trustAnchor == "" && f.resolver.snapshot == "" && !f.resolver.acceptInsecure {
		logger.Warn("no --trust-anchor: answers count as DNSSEC secure only when --server is a validating resolver on loopback or over tls:// that sets the AD bit; otherwise every certificate login fails at the dns step")
	}
	return p.Serve(ctx, ln, &tls.Config{Certificates: []tls.Certificate{cert}})
}

// parseUpstream parses --upstream, which must be an http or https URL
// with a host.
func parseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--upstream %q is not an http or https URL: give a URL such as http://127.0.0.1:3000", raw)
	}
	return u, nil
}

// proxyDataDir returns --data or its default under os.UserConfigDir.
func proxyDataDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	config, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no --data given and no user configuration directory: %w", err)
	}
	return filepath.Join(config, "dnshandle", "proxy"), nil
}

// checkRevocationFlags settles --revocation and checks that the
// revocation and CA flags fit it and each other.
func (f *proxyFlags) checkRevocationFlags() error {
	if f.oidcCAFile != "" {
		if f.providerCAFile != "" && f.providerCAFile != f.oidcCAFile {
			return errors.New("--oidc-ca and --provider-ca name different files: give --provider-ca alone")
		}
		f.providerCAFile = f.oidcCAFile
	}
	// Before --revocation existed, --crl alone turned the file checks on.
	if len(f.crlFiles) > 0 && !f.wasSet("revocation") {
		f.revocation = revocationFiles
	}

	switch f.revocation {
	case revocationFetch, revocationOff:
		if len(f.crlFiles) > 0 {
			return fmt.Errorf("--crl applies to --revocation files, not %s: drop --crl, or use --revocation files", f.revocation)
		}
	case revocationFiles:
		if len(f.crlFiles) == 0 {
			return errors.New("--revocation files needs at least one --crl file")
		}
	default:
		return fmt.Errorf("--revocation %q is not a mode: use fetch, files or off", f.revocation)
	}
	if f.revocation != revocationFetch {
		for _, name := range []string{"crl-grace", "crl-refresh", "allow-no-crl-url"} {
			if f.wasSet(name) {
				return fmt.Errorf("--%s applies only to --revocation fetch, not %s", name, f.revocation)
			}
		}
	}
	if f.providerCAFile != "" && f.revocation != revocationFetch && !f.oidc {
		return errors.New("--provider-ca applies to fetched CRLs and OpenID Connect sign-in: add --revocation fetch or --oidc, or drop --provider-ca")
	}

	if f.crlGrace < 0 {
		return fmt.Errorf("--crl-grace %s is negative: give 0 or a duration such as 5m", f.crlGrace)
	}
	if f.crlRefresh < 0 {
		return fmt.Errorf("--crl-refresh %s is negative: give a duration such as 1h, or 0 to fetch at every login", f.crlRefresh)
	}
	if f.crlRefresh == 0 {
		// CRLFetcher reads zero as its default and a negative value as
		// "at every verification".
		f.crlRefresh = -1
	}
	return nil
}

// wasSet reports whether the flag was given on the command line.
func (f *proxyFlags) wasSet(name string) bool {
	return f.flagWasSet != nil && f.flagWasSet(name)
}

// verifier builds the Verifier from the resolver, policy and revocation
// flags. httpClient fetches CRLs.
func (f *proxyFlags) verifier(httpClient *http.Client, logger *slog.Logger) (*verify.Verifier, error) {
	if f.resolver.acceptInsecure {
		f.policy.AllowInsecure = true
	}
	r, err := f.resolver.resolver()
	if err != nil {
		return nil, err
	}
	v := &verify.Verifier{Resolver: r, Policy: f.policy, Timeout: f.resolver.timeout}
	switch f.revocation {
	case revocationFetch:
		v.CRLs = &verify.CRLFetcher{
			Client:                        httpClient,
			RefreshInterval:               f.crlRefresh,
			Grace:                         f.crlGrace,
			AllowMissingDistributionPoint: f.allowNoCRLURL,
			FetchError:                    logCRLFetchFailure(logger),
		}
	case revocationFiles:
		v.CRLs, err = crlFileSource(f.crlFiles)
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

// crlFileSource reads the CRL files once and returns a CRLSource that
// finds each by its issuer, which is the subject of the CSC that signed it.
func crlFileSource(files []string) (verify.CRLSource, error) {
	crls := map[string][]byte{}
	for _, file := range files {
		der, err := readCRL(file)
		if err != nil {
			return nil, err
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		crls[string(crl.RawIssuer)] = der
	}
	return verify.CRLSourceFunc(func(_ context.Context, csc *x509.Certificate) ([]byte, error) {
		return crls[string(csc.RawSubject)], nil
	}), nil
}

// logCRLFetchFailure returns the CRLFetcher.FetchError that logs each
// failed CRL fetch, with a hint at --provider-ca when the distribution
// point's HTTPS certificate is signed by an unknown authority.
func logCRLFetchFailure(logger *slog.Logger) func(string, error) {
	return func(url string, err error) {
		attrs := []slog.Attr{slog.String("url", url), slog.Any("err", err)}
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			attrs = append(attrs, slog.String("hint", "the CRL distribution point's HTTPS certificate is not trusted: give its CA file with --provider-ca"))
		}
		logger.LogAttrs(context.Background(), slog.LevelWarn, "CRL fetch failed", attrs...)
	}
}

// serverCertificate loads --cert and --key, or makes the loopback
// certificate in dataDir.
func (f *proxyFlags) serverCertificate(dataDir string, logger *slog.Logger) (tls.Certificate, error) {
	if f.certFile != "" || f.keyFile != "" {
		if f.certFile == "" || f.keyFile == "" {
			return tls.Certificate{}, errors.New("--cert and --key go together")
		}
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
		}
		return cert, nil
	}

	files, created, err := proxy.EnsureLoopbackCertificate(filepath.Join(dataDir, "tls"), time.Now())
	if err != nil {
		return tls.Certificate{}, err
	}
	if created {
		logger.Info("loopback server certificate created", "ca_file", files.CAFile)
	}
	logger.Info("clients trust the proxy with its CA file: dnshandle get --ca, or certutil -A -t C,, for browsers", "ca_file", files.CAFile)
	cert, err := files.LoadCertificate()
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loopback server certificate in %s: %w", filepath.Dir(files.CertFile), err)
	}
	return cert, nil
}

// oidcLogin builds the OIDC sign-in handler. Its resolver has no cache,
// because oidclogin must see the records as published when it checks the
// binding after the token exchange.
func (f *proxyFlags) oidcLogin(dataDir, origin string, httpClient *http.Client, logger *slog.Logger) (*oidclogin.Login, error) {
	baseURL := f.baseURL
	if baseURL == "" {
		baseURL = origin
	}
	keyFile := f.sessionKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(dataDir, "session.key")
	}
	key, err := loadSessionKey(keyFile, f.sessionKeyFile == "")
	if err != nil {
		return nil, err
	}

	rcfg, err := f.resolver.config()
	if err != nil {
		return nil, err
	}
	rcfg.Cache.Disabled = true
	r, err := resolve.New(rcfg)
	if err != nil {
		return nil, err
	}
	cfg := oidclogin.Config{
		BaseURL:          baseURL,
		Resolver:         r,
		HTTPClient:       httpClient,
		SessionKey:       key,
		RegistrationFile: filepath.Join(dataDir, "oidc-clients.json"),
		OnError:          logSignInFailure(logger),
	}
	if f.resolver.acceptInsecure {
		cfg.MinDNSSEC = oidclogin.AllowInsecure
	}
	return oidclogin.New(cfg)
}

// logSignInFailure returns the oidclogin.Config.OnError that logs each
// failed sign-in, with a hint at --provider-ca when the provider's HTTPS
// certificate is signed by an unknown authority.
func logSignInFailure(logger *slog.Logger) func(*http.Request, error) {
	return func(r *http.Request, err error) {
		attrs := []slog.Attr{slog.String("remote_addr", r.RemoteAddr), slog.Any("err", err)}
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			attrs = append(attrs, slog.String("hint", "the OpenID provider's HTTPS certificate is not trusted: give its CA file with --provider-ca"))
		}
		logger.LogAttrs(r.Context(), slog.LevelWarn, "OIDC sign-in failed", attrs...)
	}
}

// loadSessionKey reads a 32-byte key written in hex. When create is set and
// the file does not exist, it writes a new random key with mode 0600.
func loadSessionKey(path string, create bool) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key := make([]byte, oidclogin.SessionKeySize)
		if _, err := io.ReadFull(rand.Reader, key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write the session key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != oidclogin.SessionKeySize {
		return nil, fmt.Errorf("session key %s: want %d bytes in hex (head -c 32 /dev/urandom | xxd -p -c 64)", path, oidclogin.SessionKeySize)
	}
	return key, nil
}

// newLogger returns a slog logger in the given format and minimum level.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var min slog.Level
	if err := min.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: min}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
