package resolve

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// source returns the response to one query, from the network or from a
// snapshot. The upstream describes who answered, for AD trust and errors.
type source interface {
	exchange(ctx context.Context, qname string, qtype uint16) (*dns.Msg, *upstream, error)
}

// netSource queries the configured upstreams in order.
type netSource struct {
	ups []*upstream
	// checkingDisabled sets CD on queries, so a validating upstream returns
	// data that fails its validation and the local validator can judge it
	// (RFC 4035, section 3.2.2).
	checkingDisabled bool
	dialer           net.Dialer

	// pools keeps idle stream connections by transport and upstream
	// address, as "tcp 192.0.2.1:53".
	pools sync.Map // string -> *connPool
}

// pool returns the idle connections of up over network.
func (s *netSource) pool(network string, up *upstream) *connPool {
	key := network + " " + up.addr
	if p, ok := s.pools.Load(key); ok {
		return p.(*connPool)
	}
	p, _ := s.pools.LoadOrStore(key, &connPool{})
	return p.(*connPool)
}

// closeIdle closes the idle stream connections.
func (s *netSource) closeIdle() {
	s.pools.Range(func(_, p any) bool {
		p.(*connPool).closeAll()
		return true
	})
}

// newQuery builds a recursive query with a random ID and EDNS0 with DO set.
func newQuery(qname string, qtype uint16, checkingDisabled bool) *dns.Msg {
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = true
	m.CheckingDisabled = checkingDisabled
	m.Question = []dns.Question{{Name: qname, Qtype: qtype, Qclass: dns.ClassINET}}
	// RFC 3225, section 3: DO asks for RRSIG, NSEC and NSEC3 records.
	m.SetEdns0(EDNSBufferSize, true)
	return m
}

// exchange tries each upstream in order until one returns NOERROR or
// NXDOMAIN. Each attempt gets an equal share of the time left, so a silent
// first upstream cannot consume the whole deadline.
func (s *netSource) exchange(ctx context.Context, qname string, qtype uint16) (*dns.Msg, *upstream, error) {
	var last *LookupError
	for i, up := range s.ups {
		attemptCtx, cancel := attemptContext(ctx, len(s.ups)-i)
		resp, err := s.exchangeUpstream(attemptCtx, up, newQuery(qname, qtype, s.checkingDisabled))
		attemptDone := attemptCtx.Err()
		cancel()

		if err == nil {
			if lerr := rcodeError(resp, qname, qtype, up); lerr != nil {
				last = lerr
				continue
			}
			return resp, up, nil
		}
		last = classify(ctx, attemptDone, err, qname, qtype, up.name)
		if ctx.Err() != nil {
			break
		}
	}
	if last == nil {
		last = &LookupError{Name: qname, Type: qtype, Kind: KindNetwork, Rcode: -1, Err: errString("no upstream servers")}
	}
	return nil, nil, last
}

// attemptContext shares the time left in ctx evenly among the remaining upstreams.
func attemptContext(ctx context.Context, remaining int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || remaining <= 1 {
		return context.WithCancel(ctx)
	}
	share := time.Until(deadline) / time.Duration(remaining)
	return context.WithTimeout(ctx, share)
}

// exchangeUpstream sends q to one upstream and repeats it over TCP when the
// UDP response is truncated (RFC 7766, section 5).
func (s *netSource) exchangeUpstream(ctx context.Context, up *upstream, q *dns.Msg) (*dns.Msg, error) {
	network := up.network()
	resp, err := s.exchangeConn(ctx, network, up, q)
	if err == nil && resp.Truncated && network == "udp" {
		network = "tcp"
		resp, err = s.exchangeConn(ctx, network, up, q)
	}
	if err == nil && resp.Truncated {
		return nil, &malformedError{reason: "response truncated over " + network}
	}
	return resp, err
}

// malformedError marks a response that was read but cannot be used.
type malformedError struct{ reason string }

func (e *malformedError) Error() string { return e.reason }

// udpBuffers holds receive buffers large enough for any UDP datagram, so a
// server that ignores the advertised EDNS size still gets parsed.
var udpBuffers = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// exchangeConn sends q and reads until a response matches q or the
// context ends. Over UDP each query gets a new socket, and datagrams that
// do not unpack or do not match the ID and question are discarded, because
// they may be spoofed or late answers to other queries. Over TCP and TLS
// the query reuses an idle connection to the upstream when there is one,
// and a mismatch ends the exchange. A reused connection that fails, as one
// that the server closed meanwhile does, is replaced by a new one once.
func (s *netSource) exchangeConn(ctx context.Context, network string, up *upstream, q *dns.Msg) (*dns.Msg, error) {
	packed, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	if network == "udp" {
		conn, err := s.dial(ctx, network, up)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		resp, _, err := exchangeOn(ctx, conn, false, packed, q)
		return resp, err
	}

	pool := s.pool(network, up)
	if conn := pool.get(time.Now()); conn != nil {
		resp, reusable, err := exchangeOn(ctx, conn, true, packed, q)
		if err == nil && reusable {
			pool.put(conn, time.Now())
			return resp, nil
		}
		if err == nil {
			_ = conn.Close()
			return resp, nil
		}
		_ = conn.Close()
		if ctx.Err() != nil || isTimeout(err) {
			// Time ran out: a new connection would not fare better.
			return nil, err
		}
	}
	conn, err := s.dial(ctx, network, up)
	if err != nil {
		return nil, err
	}
	resp, reusable, err := exchangeOn(ctx, conn, true, packed, q)
	if err == nil && reusable {
		pool.put(conn, time.Now())
	} else {
		_ = conn.Close()
	}
	return resp, err
}

// exchangeOn writes the packed query q on conn and reads its response, as
// exchangeConn describes. reusable reports whether conn is in a state to
// carry another query: the exchange ended with a complete message read and
// no deadline hit.
func exchangeOn(ctx context.Context, conn net.Conn, stream bool, packed []byte, q *dns.Msg) (resp *dns.Msg, reusable bool, err error) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	// Cancellation does not move the deadline, so unblock reads by hand.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			reusable = false
		}
		if reusable {
			_ = conn.SetDeadline(time.Time{})
		}
	}()

	if err := writeMsg(conn, packed, stream); err != nil {
		return nil, false, err
	}
	var discarded error
	for {
		raw, err := readMsg(conn, stream)
		if err != nil {
			if discarded != nil && isTimeout(err) {
				return nil, false, discarded
			}
			return nil, false, err
		}
		resp, err := unpackResponse(q, raw)
		if err == nil {
			return resp, stream, nil
		}
		if stream {
			// A whole message was read, so the stream is still in step,
			// but a server that sends a mismatched response is not reused.
			return nil, false, err
		}
		discarded = err
	}
}

func (s *netSource) dial(ctx context.Context, network string, up *upstream) (net.Conn, error) {
	if network == "tcp-tls" {
		d := tls.Dialer{NetDialer: &s.dialer, Config: up.tls}
		return d.DialContext(ctx, "tcp", up.addr)
	}
	return s.dialer.DialContext(ctx, network, up.addr)
}

// writeMsg writes one message, with the two-byte length prefix of
// RFC 1035, section 4.2.2 on streams.
func writeMsg(conn net.Conn, packed []byte, stream bool) error {
	if !stream {
		_, err := conn.Write(packed)
		return err
	}
	buf := make([]byte, 2+len(packed))
	binary.BigEndian.PutUint16(buf, uint16(len(packed)))
	copy(buf[2:], packed)
	_, err := conn.Write(buf)
	return err
}

// readMsg reads one datagram or one length-prefixed message and returns a
// copy that the caller owns.
func readMsg(conn net.Conn, stream bool) ([]byte, error) {
	if stream {
		var length [2]byte
		if _, err := io.ReadFull(conn, length[:]); err != nil {
			return nil, err
		}
		raw := make([]byte, binary.BigEndian.Uint16(length[:]))
		if _, err := io.ReadFull(conn, raw); err != nil {
			return nil, err
		}
		return raw, nil
	}
	bufp := udpBuffers.Get().(*[]byte)
	defer udpBuffers.Put(bufp)
	n, err := conn.Read(*bufp)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), (*bufp)[:n]...), nil
}

// unpackResponse parses raw and checks that it answers q: QR set, same ID,
// opcode and question. Error responses without a question section are
// accepted when the ID matches, because RFC 1035 servers may omit it in
// FORMERR and similar replies and such replies carry no data.
func unpackResponse(q *dns.Msg, raw []byte) (*dns.Msg, error) {
	resp := new(dns.Msg)
	if err := resp.Unpack(raw); err != nil {
		return nil, &malformedError{reason: "cannot unpack response: " + err.Error()}
	}
	if !resp.Response || resp.Id != q.Id || resp.Opcode != q.Opcode {
		return nil, &malformedError{reason: fmt.Sprintf("response ID %d or flags do not match query ID %d", resp.Id, q.Id)}
	}
	if len(resp.Question) == 0 && resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return resp, nil
	}
	if len(resp.Question) != 1 {
		return nil, &malformedError{reason: fmt.Sprintf("response has %d questions, expected 1", len(resp.Question))}
	}
	got, want := resp.Question[0], q.Question[0]
	if !strings.EqualFold(got.Name, want.Name) || got.Qtype != want.Qtype || got.Qclass != want.Qclass {
		return nil, &malformedError{reason: fmt.Sprintf("response question %q does not match query %q",
			got.String(), want.String())}
	}
	return resp, nil
}

// rcodeError turns SERVFAIL, REFUSED and other unusable rcodes into a
// LookupError. NOERROR and NXDOMAIN return nil.
func rcodeError(resp *dns.Msg, qname string, qtype uint16, up *upstream) *LookupError {
	var kind ErrorKind
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return nil
	case dns.RcodeServerFailure:
		kind = KindServFail
	case dns.RcodeRefused:
		kind = KindRefused
	default:
		kind = KindRcode
	}
	return &LookupError{Name: qname, Type: qtype, Server: up.name, Kind: kind, Rcode: resp.Rcode, EDE: extendedError(resp)}
}

// extendedError returns the first Extended DNS Error option (RFC 8914) of resp.
func extendedError(resp *dns.Msg) *dns.EDNS0_EDE {
	opt := resp.IsEdns0()
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if ede, ok := o.(*dns.EDNS0_EDE); ok {
			return ede
		}
	}
	return nil
}

// classify maps a transport error to a LookupError. attemptDone is the error
// of the attempt's own context, which ends before ctx when the time is
// shared among upstreams.
func classify(ctx context.Context, attemptDone, err error, qname string, qtype uint16, server string) *LookupError {
	le := &LookupError{Name: qname, Type: qtype, Server: server, Rcode: -1, Err: err}
	var malformed *malformedError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		le.Kind, le.Err = KindCanceled, ctx.Err()
	case errors.As(err, &malformed):
		// Also when the deadline passed after a discarded response: the
		// malformed response is the better clue.
		le.Kind = KindMalformed
	case ctx.Err() != nil:
		le.Kind, le.Err = KindTimeout, ctx.Err()
	case attemptDone != nil || isTimeout(err):
		le.Kind, le.Err = KindTimeout, context.DeadlineExceeded
	default:
		le.Kind = KindNetwork
	}
	return le
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
