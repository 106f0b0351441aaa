package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Handler overrides the server's answers. It runs for every query before
// the zone lookup and returns true when it has dealt with the query: it
// wrote a response (SERVFAIL, a CNAME loop, an answer from Server.Answer
// with an RRSIG removed) or deliberately wrote nothing, which the client
// sees as a timeout. It returns false to let the server answer from its
// zones. Messages written with w.WriteMsg over UDP are truncated like the
// server's own answers.
type Handler func(w dns.ResponseWriter, r *dns.Msg) bool

// Server is a DNS server on 127.0.0.1 that serves a set of zones over UDP
// and TCP on the same port. Its methods are safe for concurrent use.
type Server struct {
	// Addr is "127.0.0.1:port", the address of both the UDP and the TCP
	// listener.
	Addr string

	zones []*Zone
	udp   *dns.Server
	tcp   *dns.Server

	mu      sync.Mutex
	handler Handler
	total   int
	counts  map[queryKey]int
}

type queryKey struct {
	name  string
	qtype uint16
}

// Start serves zones on a new loopback port until the test ends; it fails
// tb when the listeners cannot start.
func Start(tb testing.TB, zones ...*Zone) *Server {
	tb.Helper()
	s, err := Listen(zones...)
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Listen serves zones on a new loopback port until Close, for programs
// that are not tests, such as the demo.
func Listen(zones ...*Zone) (*Server, error) {
	s := &Server{zones: zones, counts: map[queryKey]int{}}

	pc, l, err := listenPair()
	if err != nil {
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: l, Handler: s}

	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
	}
	return s, nil
}

// Close stops both listeners.
func (s *Server) Close() error {
	return errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
}

// listenPair opens a UDP socket on a free loopback port and a TCP listener
// on the same port, retrying when another process holds the TCP port.
func listenPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("listening on UDP: %w", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		lastErr = err
		_ = pc.Close()
	}
	return nil, nil, fmt.Errorf("no loopback port free for both UDP and TCP: %w", lastErr)
}

// SetHandler installs h in place of any earlier override; nil restores the
// plain zone answers.
func (s *Server) SetHandler(h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Queries returns the number of queries received so far, including those
// a Handler dropped.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// QueryCount returns the number of queries received so far for name and
// qtype; name is compared without regard to case.
func (s *Server) QueryCount(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[queryKey{dns.CanonicalName(name), qtype}]
}

// ServeDNS implements dns.Handler: it counts the query, runs the override
// and otherwise writes Answer, truncated over UDP to the client's EDNS0
// buffer size (512 bytes without EDNS0).
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	s.total++
	if len(r.Question) > 0 {
		q := r.Question[0]
		s.counts[queryKey{dns.CanonicalName(q.Name), q.Qtype}]++
	}
	h := s.handler
	s.mu.Unlock()

	tw := &truncatingWriter{ResponseWriter: w, request: r}
	if h != nil && h(tw, r) {
		return
	}
	_ = tw.WriteMsg(s.Answer(r))
}

// Answer returns the server's own response to r, without truncation: the
// answer from the most specific loaded zone that contains the query name,
// or from its parent zone for DS queries at a zone apex. It returns
// REFUSED when no zone contains the name and FORMERR for a message without
// exactly one question. A name below a delegation to a zone that is not
// loaded gets a referral: NOERROR without AA, the NS RRset and the DS
// RRset or its denial in the authority section. The records are copies,
// so a Handler may change them.
func (s *Server) Answer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	opt := r.IsEdns0()
	if opt != nil {
		m.SetEdns0(dns.DefaultMsgSize, opt.Do())
	}
	if r.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m
	}
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}

	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	z := s.zoneFor(name, q.Qtype == dns.TypeDS)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return m
	}
	z.answer(m, name, q.Qtype, opt != nil && opt.Do())
	return m
}

// zoneFor returns the most specific zone that contains name. For DS
// queries it skips a zone whose apex is name, because the DS RRset lives
// in the parent (RFC 4035, section 3.1.4.1), unless no parent is loaded.
func (s *Server) zoneFor(name string, ds bool) *Zone {
	var best, parent *Zone
	for _, z := range s.zones {
		if !dns.IsSubDomain(z.Origin, name) {
			continue
		}
		if ds && z.Origin == name {
			if best == nil {
				best = z
			}
			continue
		}
		if parent == nil || dns.CountLabel(z.Origin) > dns.CountLabel(parent.Origin) {
			parent = z
		}
	}
	if parent != nil {
		return parent
	}
	return best
}

// truncatingWriter truncates messages sent over UDP to the buffer size
// the query announced.
type truncatingWriter struct {
	dns.ResponseWriter
	request *dns.Msg
}

// WriteMsg truncates m over UDP to the size the query announced, then sends it.
func (w *truncatingWriter) WriteMsg(m *dns.Msg) error {
	if w.LocalAddr().Network() == "udp" {
		size := dns.MinMsgSize
		if opt := w.request.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	return w.ResponseWriter.WriteMsg(m)
}

// Exchange sends name/qtype with the DO bit to the server over UDP and
// retries over TCP when the answer comes back truncated. It lets a
// *Server stand in for the resolver client of package resolve/dnssec in
// tests.
func (s *Server) Exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(dns.DefaultMsgSize, true)

	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	resp, _, err := udp.ExchangeContext(ctx, q, s.Addr)
	if err != nil || !resp.Truncated {
		return resp, err
	}
	tcp := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	resp, _, err = tcp.ExchangeContext(ctx, q, s.Addr)
	return resp, err
}
