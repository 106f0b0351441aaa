package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnshandle/dnshandle/provider/store"
)

// Defaults of Config fields left zero.
const (
	// DefaultAddr is the listening address for UDP and TCP.
	DefaultAddr = ":53"

	// DefaultMaxUDPSize is the largest UDP response, in bytes, sent to a
	// client that advertises a larger EDNS0 buffer: the value the DNS
	// flag day 2020 chose to avoid IP fragmentation.
	DefaultMaxUDPSize = 1232

	// DefaultSerialRefresh is how long a zone serial read from the store
	// is trusted before the next query reads it again.
	DefaultSerialRefresh = time.Second

	// DefaultNotifyTimeout bounds one NOTIFY exchange with a secondary.
	DefaultNotifyTimeout = 2 * time.Second

	// DefaultNotifyAttempts is how many times a NOTIFY is sent before
	// the server gives up on that secondary until the next change.
	DefaultNotifyAttempts = 5

	// DefaultNotifyBackoff is the wait before the first retry of an
	// unacknowledged NOTIFY; it doubles for each further retry.
	DefaultNotifyBackoff = time.Second
)

// MaxQuerySize is the largest request, in bytes, the server answers; a
// larger one gets FORMERR. One question with EDNS0 options, a TSIG and the
// SOA of an IXFR request fit well below it.
const MaxQuerySize = 1232

// udpReadBuffer is the size, in bytes, of the buffer each UDP request is
// read into. A longer datagram is cut short and fails to parse, which the
// listener answers with FORMERR, as ServeDNS answers any request above
// MaxQuerySize.
const udpReadBuffer = 4096

// queryTimeout bounds the store reads of one query, and transferTimeout
// those of one zone transfer, which streams the zone to the client while
// it reads.
const (
	queryTimeout    = 5 * time.Second
	transferTimeout = 10 * time.Minute
)

// Config configures a Server. The zero value of each optional field means
// the documented default.
type Config struct {
	// Addr is the address for both the UDP and the TCP listener, such as
	// "127.0.0.1:53". Port 0 picks a free port, the same for both.
	// Empty means DefaultAddr.
	Addr string

	// Zones are the apexes the server is authoritative for, such as
	// "dhp.test.". Required. Queries for other names get REFUSED.
	Zones []string

	// Secondaries receive a NOTIFY, signed with TSIG, after each serial
	// change (see Server.Notify).
	Secondaries []Secondary

	// TSIG maps key names (such as "transfer.dhp.test.") to base64
	// secrets for HMAC-SHA256 (RFC 8945). Zone transfers need a request
	// signed with one of these keys.
	TSIG map[string]string

	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger

	// Metrics is the registry that receives the server's Prometheus
	// collectors. Nil registers none.
	Metrics prometheus.Registerer

	// MaxUDPSize caps the size of UDP responses in bytes; zero means
	// DefaultMaxUDPSize. Values below 512 are raised to 512.
	MaxUDPSize uint16

	// SerialRefresh is how long a zone serial read from the store is
	// used before it is read again; zero means DefaultSerialRefresh.
	// Server.Notify and an incoming NOTIFY read it at once.
	SerialRefresh time.Duration

	// CacheSize is the number of owner names per zone whose records, and
	// packed responses built from them, the server keeps in memory; zero
	// means DefaultCacheSize. Names that do not exist count too, as they
	// carry their NXDOMAIN responses. In a handle zone a name takes about
	// 1 KiB of the process's resident memory (258 MiB for 200,000 names,
	// with responses for 80,000 of them, in docs/benchmarks.md). After it
	// starts, the server loads the zone's owner names into the cache in
	// canonical order until the cache is full, skipping NSEC3 owners,
	// which are read on first use.
	CacheSize int

	// NotifyTimeout, NotifyAttempts and NotifyBackoff bound the NOTIFY
	// exchanges with each secondary; zero means the defaults above.
	NotifyTimeout  time.Duration
	NotifyAttempts int
	NotifyBackoff  time.Duration
}

// Secondary is a server that transfers the zones from this one.
type Secondary struct {
	// Addr is the secondary's "host:port"; NOTIFY goes there over UDP.
	Addr string

	// TSIGName is the key, one of Config.TSIG, that signs the NOTIFY.
	TSIGName string
}

// Server is the authoritative DNS server for the provider zones. It
// answers from the store, through a cache of owner names that follows
// the zone's journal, with the AA bit set and never the RA bit. Queries
// with the DO bit get RRSIGs and NSEC3 proofs. It speaks EDNS0 (RFC 6891) over UDP and TCP
// and sets TC when a UDP answer does not fit. It serves AXFR (RFC 5936)
// and IXFR (RFC 1995) over TCP to requests signed with a configured TSIG
// key, and sends NOTIFY (RFC 1996) to its secondaries.
//
// On a UDP socket bound to one address (not 0.0.0.0 or [::]), workers
// read and write datagrams in batches and send cached responses without
// unpacking the request (see Config.CacheSize). Other requests go through
// miekg/dns and ServeDNS, as does every request on a socket bound to an
// unspecified address.
//
// The zones have no delegations, so the server never answers with a
// referral. Its methods are safe for concurrent use.
type Server struct {
	st      store.Store
	cfg     Config
	zones   []string
	tsig    tsigKeys
	log     *slog.Logger
	limiter *logLimiter
	metrics *metrics
	zoneSet *zoneSet

	// lifetime ends when ListenAndServe returns; NOTIFY retries,
	// in-flight requests and the background work (serial refresh, cache
	// warm-up) stop with it.
	lifetime   context.Context
	stop       context.CancelFunc
	retries    sync.WaitGroup
	background sync.WaitGroup

	// panics counts requests whose handling panicked; tests read it.
	panics atomic.Int64

	mu       sync.Mutex
	udp      net.PacketConn
	tcp      net.Listener
	serving  bool
	notifies map[string]context.CancelFunc // pending retries by zone and secondary
}

// NewServer checks cfg and returns a Server that reads zones from st. It
// returns a *ConfigError for a missing zone, an invalid TSIG secret or a
// secondary whose key is not configured, and the Registerer's error when
// the metrics cannot be registered.
func NewServer(st store.Store, cfg Config) (*Server, error) {
	if st == nil {
		return nil, &ConfigError{Field: "store", Reason: "a store is required"}
	}
	zones, err := checkZones(cfg.Zones)
	if err != nil {
		return nil, err
	}
	keys, err := parseTSIGKeys(cfg.TSIG)
	if err != nil {
		return nil, err
	}
	for _, sec := range cfg.Secondaries {
		if _, _, err := net.SplitHostPort(sec.Addr); err != nil {
			return nil, &ConfigError{Field: "Secondaries.Addr", Value: sec.Addr, Reason: "want host:port"}
		}
		if _, ok := keys[dns.CanonicalName(sec.TSIGName)]; !ok {
			return nil, &ConfigError{Field: "Secondaries.TSIGName", Value: sec.TSIGName, Reason: "no such key in Config.TSIG: NOTIFY is always signed"}
		}
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("register dnsserver metrics: %w", err)
	}

	cfg = withDefaults(cfg)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lifetime, stop := context.WithCancel(context.Background())
	s := &Server{
		st:       st,
		cfg:      cfg,
		zones:    zones,
		tsig:     keys,
		log:      logger,
		limiter:  newLogLimiter(10, time.Second),
		metrics:  m,
		zoneSet:  newZoneSet(st, zones, cfg.SerialRefresh, cfg.CacheSize),
		lifetime: lifetime,
		stop:     stop,
		notifies: map[string]context.CancelFunc{},
	}
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.MaxUDPSize == 0 {
		cfg.MaxUDPSize = DefaultMaxUDPSize
	}
	cfg.MaxUDPSize = max(cfg.MaxUDPSize, dns.MinMsgSize)
	if cfg.SerialRefresh <= 0 {
		cfg.SerialRefresh = DefaultSerialRefresh
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.NotifyTimeout <= 0 {
		cfg.NotifyTimeout = DefaultNotifyTimeout
	}
	if cfg.NotifyAttempts <= 0 {
		cfg.NotifyAttempts = DefaultNotifyAttempts
	}
	if cfg.NotifyBackoff <= 0 {
		cfg.NotifyBackoff = DefaultNotifyBackoff
	}
	return cfg
}

func checkZones(zones []string) ([]string, error) {
	if len(zones) == 0 {
		return nil, &ConfigError{Field: "Zones", Reason: "at least one zone is required"}
	}
	out := make([]string, 0, len(zones))
	for _, z := range zones {
		if _, ok := dns.IsDomainName(z); !ok || z == "" {
			return nil, &ConfigError{Field: "Zones", Value: z, Reason: "not a valid domain name"}
		}
		out = append(out, dns.CanonicalName(z))
	}
	return out, nil
}

// Listen binds the UDP and TCP sockets of Config.Addr, so that Addr
// returns the address before ListenAndServe runs. ListenAndServe calls it
// when the caller did not. It returns an error when a socket cannot be
// bound or the server is already listening.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp != nil {
		return errors.New("dnsserver: Listen called twice")
	}
	udp, tcp, err := bindBoth(s.cfg.Addr)
	if err != nil {
		return err
	}
	s.udp, s.tcp = udp, tcp
	return nil
}

// bindBoth binds UDP and TCP on one address. With port 0 it retries until
// the port the system chose for UDP is also free for TCP.
func bindBoth(addr string) (net.PacketConn, net.Listener, error) {
	// Go listens on IPv6 as well for "0.0.0.0" with the networks "udp"
	// and "tcp": an IPv4 address means IPv4 only.
	udpNet, tcpNet := "udp", "tcp"
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
			udpNet, tcpNet = "udp4", "tcp4"
		}
	}
	var lastErr error
	for range 20 {
		udp, err := net.ListenPacket(udpNet, addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dnsserver: listen on UDP %s: %w", addr, err)
		}
		tcp, err := net.Listen(tcpNet, udp.LocalAddr().String())
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		lastErr = err
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("dnsserver: listen on TCP %s: %w", addr, lastErr)
}

// Addr returns the "host:port" the server listens on, or "" before
// Listen or ListenAndServe has bound the sockets.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp == nil {
		return ""
	}
	return s.udp.LocalAddr().String()
}

// ListenAndServe serves DNS over UDP and TCP until ctx ends, then shuts
// the listeners down, stops NOTIFY retries and returns nil. It returns an
// error when the sockets cannot be bound or a listener fails. It can run
// once per Server.
func (s *Server) ListenAndServe(ctx context.Context) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("dnsserver: ListenAndServe called twice")
	}
	s.serving = true
	bound := s.udp != nil
	s.mu.Unlock()
	if !bound {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	defer s.stopRetries()

	udp := &dns.Server{
		PacketConn:    s.udp,
		Handler:       s,
		UDPSize:       udpReadBuffer,
		MsgAcceptFunc: acceptRequests,
		TsigProvider:  s.tsig,
	}
	engine := newUDPEngine(s, s.udp)
	if engine != nil {
		udp.PacketConn, udp.DecorateReader = engine.serverConn()
	}
	tcp := &dns.Server{
		Listener:      s.tcp,
		Handler:       s,
		MsgAcceptFunc: acceptRequests,
		TsigProvider:  s.tsig,
		ReadTimeout:   10 * time.Second,
		WriteTimeout:  30 * time.Second,
	}
	s.log.Info(fmt.Sprintf("DNS server listening on %s for zones %v", s.Addr(), s.zones))

	errs := make(chan error, 2)
	for _, srv := range []*dns.Server{udp, tcp} {
		go func() { errs <- srv.ActivateAndServe() }()
	}
	s.background.Go(func() {
		s.zoneSet.keepFresh(s.lifetime, func(zone string, err error) {
			s.logError("reading the zone serial failed", zone, "", err)
		})
	})
	s.background.Go(func() { s.warm(s.lifetime) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = udp.ShutdownContext(shutdown)
	_ = tcp.ShutdownContext(shutdown)
	if engine != nil {
		_ = s.udp.Close()
		engine.wait()
	}
	s.log.Info("DNS server stopped on " + s.Addr())
	if err != nil {
		return fmt.Errorf("dnsserver: serving failed: %w", err)
	}
	return nil
}

func (s *Server) stopRetries() {
	s.stop()
	s.retries.Wait()
	s.background.Wait()
}

// acceptRequests lets every request through to ServeDNS, which checks
// opcode and counts itself, and drops responses so that two servers never
// answer each other.
func acceptRequests(h dns.Header) dns.MsgAcceptAction {
	if h.Bits&(1<<15) != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}
