// Package provider is the DNS Handle Provider (DHP): it keeps accounts,
// handles and identities in a store, runs a personal PKI for each
// identity, and publishes the records of hosted handles through its own
// authoritative DNS server.
package provider

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

// Defaults of Config fields left empty.
const (
	DefaultDataDir    = "dnshandle-data"
	DefaultDNSListen  = "127.0.0.1:5353"
	DefaultHTTPListen = "127.0.0.1:8080"
	DefaultLogFormat  = "text"
	DefaultLogLevel   = "info"
	// DefaultDNSCacheSize keeps the records and answers of 100,000
	// handles (two names each) per zone in memory: about 258 MiB measured
	// (docs/benchmarks.md).
	DefaultDNSCacheSize = 200000
)

// Config is the provider's configuration, read from a TOML file, then
// environment variables, then command-line flags, each overriding the one
// before. The zero value means the defaults above, no zones and no
// secondaries.
type Config struct {
	// DataDir is the directory of the SQLite database file.
	DataDir string `toml:"data"`
	// Database is a postgres:// URL; empty means SQLite in DataDir.
	Database string `toml:"database"`
	// KEKFile holds the 32-byte key-encryption key, in hex, that seals
	// CSC and DNSSEC private keys at rest. Empty means the environment
	// variable DNSHANDLE_KEK.
	KEKFile string `toml:"kek_file"`

	Log  LogConfig  `toml:"log"`
	DNS  DNSConfig  `toml:"dns"`
	HTTP HTTPConfig `toml:"http"`
	ACME ACMEConfig `toml:"acme"`
	OIDC OIDCConfig `toml:"oidc"`
}

// LogConfig selects the log format ("text" or "json") and the minimum
// level ("debug", "info", "warn", "error").
type LogConfig struct {
	Format string `toml:"format"`
	Level  string `toml:"level"`
}

// DNSConfig configures the authoritative DNS server.
type DNSConfig struct {
	// Listen is the UDP and TCP address, "127.0.0.1:5353" by default.
	Listen string `toml:"listen"`
	// Zones are the provider's zones; handles directly under them are
	// hosted.
	Zones []ZoneConfig `toml:"zones"`
	// Secondaries receive NOTIFY after each change and may transfer the
	// zones with AXFR or IXFR, signed with their TSIG key.
	Secondaries []SecondaryConfig `toml:"secondaries"`
	// TSIG lists the transfer keys (algorithm hmac-sha256).
	TSIG []TSIGConfig `toml:"tsig"`
	// CacheSize is the number of owner names per zone whose records and
	// answers the DNS server keeps in memory. They are loaded in the
	// background at start and kept across zone changes. Zero means
	// DefaultDNSCacheSize. A name takes about 1 KiB.
	CacheSize int `toml:"cache_size"`
	// Resolvers are the DNS servers ("HOST[:PORT]" or "tls://HOST[:PORT]")
	// through which Serve resolves handles under people's own domains: for
	// the web page's own-domain check and for certificate sign-in with such
	// a handle. Use a validating resolver on loopback or over TLS, whose AD
	// bit is trusted. Empty means neither works for own domains.
	Resolvers []string `toml:"resolvers"`
}

// ZoneConfig names one provider zone, its name servers, their addresses
// and the mailbox of its SOA record.
type ZoneConfig struct {
	// Name is the zone apex, written as a lowercase FQDN by Normalize.
	Name string `toml:"name"`

	// Nameservers are the host names of the zone's NS records; empty means
	// "ns1.<zone>". Normalize writes them as lowercase FQDNs.
	Nameservers []string `toml:"nameservers"`

	// NameserverAddresses maps each name server inside the zone to its
	// IPv4 and IPv6 addresses, which the provider publishes as signed A and
	// AAAA records (glue), as in
	// {"ns1.dhp.test" = ["192.0.2.1", "2001:db8::1"]}. Every name server
	// inside the zone needs addresses, except ns1.<zone> while dns.listen
	// is a loopback address. Name servers outside the zone take none here.
	// Normalize writes the names as lowercase FQDNs.
	NameserverAddresses map[string][]string `toml:"nameserver_addresses"`

	// Email is the SOA mailbox; empty means "hostmaster@<zone>".
	Email string `toml:"email"`
}

// SecondaryConfig is a secondary server: its address ("host:port") and
// the name of the TSIG key that signs NOTIFY and transfers, required.
type SecondaryConfig struct {
	Addr string `toml:"addr"`
	TSIG string `toml:"tsig"`
}

// TSIGConfig is one TSIG key: its name and base64 secret.
type TSIGConfig struct {
	Name   string `toml:"name"`
	Secret string `toml:"secret"`
}

// HTTPConfig configures the operations endpoint: /metrics (Prometheus),
// /healthz (the process is up) and /readyz (the store responds).
type HTTPConfig struct {
	Listen string `toml:"listen"`
	// Pprof adds Go's profiling endpoints (net/http/pprof) under
	// /debug/pprof/ on the operations listener. Off by default: the
	// profiles show the program's internals and cost CPU while they run,
	// so turn it on only on a listener that only operators reach.
	Pprof bool `toml:"pprof"`
}

// LoadConfig reads path (no file when path is empty), applies environment
// variables, fills defaults and checks the result. Unknown keys in the
// file are errors, so that a misspelt option is not silently ignored. A
// file that is not valid TOML, or a value of the wrong type, returns a
// *ConfigError with the line, the key and what to write instead.
func LoadConfig(path string) (*Config, error) {
	cfg := &Config{}
	if path != "" {
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		md, err := decodeConfig(path, string(text), cfg)
		if err != nil {
			return nil, err
		}
		if undecoded := md.Undecoded(); len(undecoded) > 0 {
			keys := make([]string, len(undecoded))
			for i, k := range undecoded {
				keys[i] = k.String()
			}
			return nil, fmt.Errorf("config %s: unknown keys %s: check their spelling against docs/operations.md", path, strings.Join(keys, ", "))
		}
	}
	cfg.applyEnv(os.Getenv)
	return cfg, cfg.Normalize()
}

// Normalize fills defaults, writes zone and name server names as
// lowercase FQDNs, and validates the result. Call it again after changing
// the Config.
func (c *Config) Normalize() error {
	c.fillDefaults()
	return c.Validate()
}

// applyEnv overrides fields from DNSHANDLE_* environment variables.
func (c *Config) applyEnv(getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.DataDir, "DNSHANDLE_DATA")
	set(&c.Database, "DNSHANDLE_DATABASE")
	set(&c.KEKFile, "DNSHANDLE_KEK_FILE")
	set(&c.DNS.Listen, "DNSHANDLE_DNS_LISTEN")
	set(&c.HTTP.Listen, "DNSHANDLE_HTTP_LISTEN")
	set(&c.ACME.Listen, "DNSHANDLE_ACME_LISTEN")
	set(&c.OIDC.Issuer, "DNSHANDLE_OIDC_ISSUER")
	set(&c.Log.Format, "DNSHANDLE_LOG_FORMAT")
	set(&c.Log.Level, "DNSHANDLE_LOG_LEVEL")
	switch strings.ToLower(getenv("DNSHANDLE_HTTP_PPROF")) {
	case "1", "true", "yes", "on":
		c.HTTP.Pprof = true
	case "0", "false", "no", "off":
		c.HTTP.Pprof = false
	}
}

func (c *Config) fillDefaults() {
	def := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	def(&c.DataDir, DefaultDataDir)
	def(&c.DNS.Listen, DefaultDNSListen)
	def(&c.HTTP.Listen, DefaultHTTPListen)
	def(&c.ACME.Listen, DefaultACMEListen)
	def(&c.Log.Format, DefaultLogFormat)
	def(&c.Log.Level, DefaultLogLevel)
	if c.DNS.CacheSize == 0 {
		c.DNS.CacheSize = DefaultDNSCacheSize
	}
	for i := range c.DNS.Zones {
		z := &c.DNS.Zones[i]
		z.Name = strings.ToLower(dns.Fqdn(z.Name))
		if len(z.Nameservers) == 0 {
			z.Nameservers = []string{"ns1." + z.Name}
		}
		for j, ns := range z.Nameservers {
			z.Nameservers[j] = strings.ToLower(dns.Fqdn(ns))
		}
		z.NameserverAddresses = normalizeAddressKeys(z.NameserverAddresses)
		if z.Email == "" {
			z.Email = "hostmaster@" + strings.TrimSuffix(z.Name, ".")
		}
	}
}

// Validate checks the configuration and returns every problem found.
func (c *Config) Validate() error {
	var errs []error

	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log format %q: use text or json", c.Log.Format))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: use debug, info, warn or error", c.Log.Level))
	}
	if (c.ACME.CertFile == "") != (c.ACME.KeyFile == "") {
		errs = append(errs, errors.New("acme: give both cert_file and key_file, or neither for a self-signed loopback certificate"))
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		errs = append(errs, fmt.Errorf("database %q: give a postgres:// URL, or leave it empty for SQLite in the data directory", redactURL(c.Database)))
	}

	errs = append(errs, c.validateACME()...)
	errs = append(errs, c.validateOIDC()...)

	seen := map[string]bool{}
	for _, z := range c.DNS.Zones {
		if _, ok := dns.IsDomainName(z.Name); !ok || z.Name == "." || !isHostName(z.Name) {
			// The defaults of email and nameservers derive from the name,
			// so their errors would only repeat this one.
			errs = append(errs, fmt.Errorf("zone %q is not a valid domain name: use letters, digits and inner hyphens in each label", z.Name))
			continue
		}
		var reserved *handle.ReservedTLDError
		if _, err := handle.Parse("h." + strings.TrimSuffix(z.Name, ".")); errors.As(err, &reserved) {
			errs = append(errs, fmt.Errorf("zone %q is under the reserved TLD .%s, where no handle can be created: use a registrable domain, or one under .test for testing", z.Name, reserved.TLD))
		}
		if seen[z.Name] {
			errs = append(errs, fmt.Errorf("zone %q is listed twice", z.Name))
		}
		seen[z.Name] = true
		if local, domain, ok := strings.Cut(z.Email, "@"); !ok || local == "" || strings.ContainsAny(local, " \t\\") || !isHostName(dns.Fqdn(domain)) {
			errs = append(errs, fmt.Errorf("zone %q: email %q (the SOA contact) is not an email address: give one such as hostmaster@%s, or leave email out for that default",
				z.Name, z.Email, strings.TrimSuffix(z.Name, ".")))
		}
		errs = append(errs, z.validateNameservers(isLoopbackListen(c.DNS.Listen))...)
	}

	keys := map[string]bool{}
	for _, k := range c.DNS.TSIG {
		if k.Name == "" || k.Secret == "" {
			errs = append(errs, errors.New("a TSIG key needs both name and secret (base64)"))
		}
		keys[dns.Fqdn(strings.ToLower(k.Name))] = true
	}
	for _, s := range c.DNS.Secondaries {
		if s.Addr == "" {
			errs = append(errs, errors.New("a secondary needs addr (host:port)"))
		}
		if s.TSIG == "" {
			errs = append(errs, fmt.Errorf("secondary %s needs a tsig key name: NOTIFY and zone transfers are always signed", s.Addr))
		} else if !keys[dns.Fqdn(strings.ToLower(s.TSIG))] {
			errs = append(errs, fmt.Errorf("secondary %s names TSIG key %q, which is not in [[dns.tsig]]", s.Addr, s.TSIG))
		}
	}
	return errors.Join(errs...)
}

// ZoneFor returns the provider zone that hosts handle h directly (h is
// one label below the zone), or "" when h is not hosted here.
func (c *Config) ZoneFor(h string) string {
	name := strings.ToLower(dns.Fqdn(h))
	for _, z := range c.DNS.Zones {
		if directlyUnder(name, z.Name) {
			return z.Name
		}
	}
	return ""
}

// directlyUnder reports whether the fully qualified, lowercase name is
// one label below zone, as a hosted handle is below its provider zone.
func directlyUnder(name, zone string) bool {
	return strings.HasSuffix(name, "."+zone) && dns.CountLabel(name) == dns.CountLabel(zone)+1
}

// redactURL removes a password from a database URL before it is shown.
func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	return s[:scheme+3] + "***" + s[at:]
}
