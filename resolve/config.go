package resolve

import (
	"crypto/tls"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults applied by New to zero Config and CacheConfig fields.
const (
	DefaultTimeout        = 5 * time.Second
	DefaultResolvConf     = "/etc/resolv.conf"
	DefaultMaxEntries     = 10000
	DefaultMaxTTL         = time.Hour
	DefaultNegativeMaxTTL = 5 * time.Minute
	// DefaultStaleAnswerTimeout is the client response timer of RFC 8767,
	// section 5, which suggests 1.8 seconds.
	DefaultStaleAnswerTimeout = 1800 * time.Millisecond
	// StaleTTL is the TTL given to stale answers, the value recommended by
	// RFC 8767, section 4.
	StaleTTL = 30 * time.Second
	// staleRecheck is the failure recheck timer of RFC 8767, section 5: after
	// an upstream failure a stale RRset is served without new queries for
	// this long.
	staleRecheck = 30 * time.Second
	// EDNSBufferSize is the UDP payload size advertised in queries, the value
	// recommended by DNS Flag Day 2020 to avoid IP fragmentation.
	EDNSBufferSize = 1232
	// MaxCNAMEs is the maximum number of CNAME links followed for one lookup.
	MaxCNAMEs = 8
)

// Policy decides what happens to answers that are not DNSSEC secure.
type Policy int

const (
	// RequireSecure is the default. It fails lookups whose RRsets are insecure or
	// indeterminate with *InsecureError and bogus ones with *BogusError.
	RequireSecure Policy = iota
	// AcceptInsecure returns insecure and indeterminate RRsets with their
	// status in RRsetInfo, for development. Bogus RRsets still fail with
	// *BogusError.
	AcceptInsecure
)

// String returns "require-secure" or "accept-insecure".
func (p Policy) String() string {
	if p == AcceptInsecure {
		return "accept-insecure"
	}
	return "require-secure"
}

// Config configures a Resolver. The zero value reads the upstreams from
// /etc/resolv.conf, trusts the AD bit only from loopback and DNS-over-TLS
// upstreams, requires secure answers and caches with the defaults of
// CacheConfig. A Config is read once by New and may be reused afterwards.
type Config struct {
	// Servers are the upstream resolvers, tried in order for each query:
	// "192.0.2.1", "192.0.2.1:53", "[2001:db8::1]:53" for UDP with TCP
	// fallback, or "tls://dns.example" (port 853) for DNS over TLS
	// (RFC 7858). Empty means the nameservers of ResolvConf.
	Servers []string
	// ResolvConf is the resolv.conf file read when Servers is empty.
	// Empty means DefaultResolvConf.
	ResolvConf string
	// Trusted lists the upstreams, in the form used in Servers, whose AD bit
	// is taken as proof of a secure answer. nil means the default: every
	// loopback address and every tls:// upstream. A non-nil empty slice
	// trusts no upstream. AD from any other upstream makes the status
	// indeterminate.
	Trusted []string
	// TLSConfig is used for tls:// upstreams. nil means the system roots.
	// An empty ServerName is set to the upstream's host.
	TLSConfig *tls.Config
	// TrustAnchors are DS or DNSKEY records of trust anchors (see
	// dnssec.ParseAnchors). When set, every answer is validated locally with
	// resolve/dnssec, queries carry the CD bit and the AD bit is ignored.
	TrustAnchors []dns.RR
	// Policy decides whether insecure answers fail. The zero value is
	// RequireSecure.
	Policy Policy
	// Cache configures the answer cache.
	Cache CacheConfig
	// Timeout bounds each RRset lookup, including CNAME links, upstream
	// retries and the DNSKEY and DS queries of validation, in addition to
	// the caller's context deadline. Zero means DefaultTimeout.
	Timeout time.Duration
	// Now returns the current time for TTLs and signature validity. nil
	// means time.Now.
	Now func() time.Time
	// Snapshot, when non-nil, makes the Resolver answer only from it, with
	// no network access. Servers, Trusted and TLSConfig are then ignored and
	// the cache is disabled, so each lookup validates again at Now.
	Snapshot *Snapshot
}

// CacheConfig bounds the answer cache. Its zero value enables the cache with
// the defaults documented on each field.
type CacheConfig struct {
	// Disabled turns the cache off: every lookup queries the upstreams.
	Disabled bool
	// MaxEntries bounds the number of cached RRsets. When full, inserting
	// evicts a least recently used entry from a small random sample.
	// Zero means DefaultMaxEntries.
	MaxEntries int
	// MinTTL raises shorter TTLs of positive answers. Zero means no minimum.
	MinTTL time.Duration
	// MaxTTL caps the TTL of positive answers. Zero means DefaultMaxTTL.
	MaxTTL time.Duration
	// NegativeMaxTTL caps the TTL of NXDOMAIN and NODATA answers, which is
	// taken from the SOA record as RFC 2308, section 5 says. Zero means
	// DefaultNegativeMaxTTL.
	NegativeMaxTTL time.Duration
	// StaleWindow is how long after expiry an RRset may still be served when
	// every upstream fails (RFC 8767). Zero disables serve-stale.
	StaleWindow time.Duration
	// StaleAnswerTimeout is how long a lookup waits for the upstreams
	// before it answers from a stale RRset. Zero means
	// DefaultStaleAnswerTimeout.
	StaleAnswerTimeout time.Duration
}

// upstream is one parsed entry of Config.Servers.
type upstream struct {
	name    string // as configured, used in errors and Trusted
	addr    string // host:port
	tls     *tls.Config
	trusted bool
}

// network returns the transport of the first query to u.
func (u *upstream) network() string {
	if u.tls != nil {
		return "tcp-tls"
	}
	return "udp"
}

// parseUpstreams resolves the server list, the trust marks and the TLS settings.
func parseUpstreams(cfg *Config) ([]*upstream, error) {
	servers := cfg.Servers
	if len(servers) == 0 {
		path := cfg.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		cc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, &ConfigError{Field: "ResolvConf", Value: path, Reason: "cannot read nameservers: " + err.Error()}
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
		if len(servers) == 0 {
			return nil, &ConfigError{Field: "ResolvConf", Value: path, Reason: "no nameserver lines: set Config.Servers"}
		}
	}

	trusted := map[string]bool{}
	for _, t := range cfg.Trusted {
		u, err := parseUpstream(t, nil)
		if err != nil {
			return nil, &ConfigError{Field: "Trusted", Value: t, Reason: err.Error()}
		}
		trusted[u.addr+"/"+u.network()] = true
	}

	ups := make([]*upstream, 0, len(servers))
	for _, s := range servers {
		u, err := parseUpstream(s, cfg.TLSConfig)
		if err != nil {
			return nil, &ConfigError{Field: "Servers", Value: s, Reason: err.Error()}
		}
		if cfg.Trusted == nil {
			u.trusted = u.tls != nil || isLoopback(u.addr)
		} else {
			u.trusted = trusted[u.addr+"/"+u.network()]
		}
		ups = append(ups, u)
	}
	return ups, nil
}

// parseUpstream reads "host", "host:port" or "tls://host[:port]".
func parseUpstream(s string, tlsConf *tls.Config) (*upstream, error) {
	u := &upstream{name: s}
	rest, isTLS := strings.CutPrefix(s, "tls://")
	port := "53"
	if isTLS {
		port = "853"
	} else if strings.Contains(rest, "://") {
		return nil, errString("unknown scheme: use host:port or tls://host:port")
	}
	if rest == "" {
		return nil, errString("empty address")
	}

	host, p, err := net.SplitHostPort(rest)
	if err != nil {
		// No port: a bare host name, IPv4 or IPv6 address.
		host = strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]")
		p = port
	}
	if host == "" {
		return nil, errString("empty host")
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return nil, errString("invalid port " + strconv.Quote(p))
	}
	if !isTLS {
		if _, err := netip.ParseAddr(host); err != nil {
			return nil, errString("plain DNS upstreams must be IP addresses, because resolving a resolver's name needs a resolver")
		}
	}
	u.addr = net.JoinHostPort(host, p)

	if isTLS {
		c := &tls.Config{MinVersion: tls.VersionTLS12}
		if tlsConf != nil {
			c = tlsConf.Clone()
		}
		if c.ServerName == "" {
			c.ServerName = host
		}
		if c.ClientSessionCache == nil {
			// A new connection to the upstream resumes the TLS session
			// of the last one, with a shorter handshake.
			c.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		}
		u.tls = c
	}
	return u, nil
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

type errString string

func (e errString) Error() string { return string(e) }
