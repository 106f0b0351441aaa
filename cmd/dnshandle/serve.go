package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/provider"
)

// providerFlags are the flags of every command that opens the provider's
// store: they override the configuration file and the environment.
type providerFlags struct {
	configFile string
	dataDir    string
	database   string
	kekFile    string
	zones      []string
}

func (f *providerFlags) register(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.configFile, "config", "", "TOML configuration file (see docs/operations.md)")
	fl.StringVar(&f.dataDir, "data", "", "data directory for the SQLite database (default "+provider.DefaultDataDir+", or DNSHANDLE_DATA)")
	fl.StringVar(&f.database, "database", "", "postgres:// URL; empty means SQLite in --data (or DNSHANDLE_DATABASE)")
	fl.StringVar(&f.kekFile, "kek-file", "", "file with the hex key-encryption key that seals private keys at rest (or DNSHANDLE_KEK_FILE, or the key itself in DNSHANDLE_KEK)")
	fl.StringArrayVar(&f.zones, "zone", nil, "provider zone whose direct subdomains are hosted handles, such as dhp.example.com (repeatable; adds to the configuration file)")
}

// load reads the configuration and applies the flags.
func (f *providerFlags) load() (*provider.Config, error) {
	cfg, err := provider.LoadConfig(f.configFile)
	if err != nil {
		return nil, err
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	if f.database != "" {
		cfg.Database = f.database
	}
	if f.kekFile != "" {
		cfg.KEKFile = f.kekFile
	}
	if len(f.zones) > 0 {
		for _, z := range f.zones {
			cfg.DNS.Zones = append(cfg.DNS.Zones, provider.ZoneConfig{Name: z})
		}
		if err := cfg.Normalize(); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func newServeCommand() *cobra.Command {
	var (
		flags      providerFlags
		dnsListen  string
		httpListen string
		acmeListen string
		logFormat  string
		logLevel   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the DNS Handle Provider: signed authoritative DNS, ACME, OpenID provider, web pages",
		Long: `Run the DNS Handle Provider until interrupted.

It opens the store (SQLite in --data, or PostgreSQL with --database),
creates the configured zones with their DNSSEC keys on first start, serves
them over DNS on --dns-listen with NOTIFY, AXFR and IXFR for configured
secondaries, serves /metrics, /healthz and /readyz on --http-listen, and
serves one HTTPS listener on --acme-listen with the ACME enrollment endpoint
for devices (directory at <base_url>/directory; mint codes with "dnshandle
admin device code"), the OpenID provider (discovery at
<issuer>/.well-known/openid-configuration) and the web pages (/signup,
/signin, identities, devices), unless [oidc] disabled is set. Without [acme]
cert_file and key_file it makes a self-signed loopback certificate in
<data>/acme/ca.pem, which devices pass to "dnshandle device enroll --ca".
Private keys are sealed with the key-encryption key (--kek-file or
DNSHANDLE_KEK). Manage accounts and identities with "dnshandle admin".`,
		Example: `  head -c 32 /dev/urandom | xxd -p -c 64 > kek.hex && chmod 600 kek.hex
  dnshandle serve --data ./dhp --kek-file kek.hex --zone dhp.test --dns-listen 127.0.0.1:5353`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load()
			if err != nil {
				return err
			}
			if dnsListen != "" {
				cfg.DNS.Listen = dnsListen
			}
			if httpListen != "" {
				cfg.HTTP.Listen = httpListen
			}
			if acmeListen != "" {
				cfg.ACME.Listen = acmeListen
			}
			if logFormat != "" {
				cfg.Log.Format = logFormat
			}
			if logLevel != "" {
				cfg.Log.Level = logLevel
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			logger := provider.NewLogger(cfg.Log, cmd.ErrOrStderr())
			// The OpenID provider library logs through slog's default
			// logger, one info line per route at start. Keep only its
			// warnings and errors unless the log level is debug.
			libraryLog := cfg.Log
			if libraryLog.Level == "info" {
				libraryLog.Level = "warn"
			}
			slog.SetDefault(provider.NewLogger(libraryLog, cmd.ErrOrStderr()).With("component", "oidc-library"))

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			svc, err := provider.Open(ctx, cfg)
			if err != nil {
				return err
			}
			defer svc.Close()
			return svc.Serve(ctx, logger, nil)
		},
	}
	flags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&dnsListen, "dns-listen", "", "UDP and TCP address of the authoritative DNS server (default "+provider.DefaultDNSListen+")")
	f.StringVar(&httpListen, "http-listen", "", "address of /metrics, /healthz and /readyz (default "+provider.DefaultHTTPListen+")")
	f.StringVar(&acmeListen, "acme-listen", "", "HTTPS address of ACME, the OpenID provider and the web pages (default "+provider.DefaultACMEListen+", or DNSHANDLE_ACME_LISTEN)")
	f.StringVar(&logFormat, "log-format", "", "log format: text or json (default text)")
	f.StringVar(&logLevel, "log-level", "", "minimum log level: debug, info, warn or error (default info)")
	return cmd
}
