package dnsserver

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpBatch is the number of datagrams a UDP worker reads or writes with
// one system call (recvmmsg and sendmmsg on Linux, one at a time
// elsewhere).
const udpBatch = 32

// udpRelayQueue is how many requests for ServeDNS may wait between the
// UDP workers and the dns.Server that runs ServeDNS.
const udpRelayQueue = 256

// batchConn reads and writes several datagrams per system call.
// ipv4.PacketConn and ipv6.PacketConn implement it.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpEngine serves a UDP socket bound to one address with one worker per
// CPU. A worker reads a batch of requests and sends the responses the
// fast path finds (see answerFast) as one batch. It passes every other
// request to a dns.Server, which reads them from the engine's relay
// instead of the socket and runs ServeDNS on them as usual. Responses
// from ServeDNS go out through the same socket.
//
// The engine is used only for a socket bound to a specific address: the
// replies of the fast path leave from that address, so no control
// message is needed to choose the source of each reply.
type udpEngine struct {
	srv     *Server
	conn    *net.UDPConn
	batch   batchConn
	workers int
	maxUDP  int

	start    sync.Once
	relay    chan relayedRequest
	quit     chan struct{}
	quitOnce sync.Once
	quitErr  error
	running  sync.WaitGroup
}

// relayedRequest is a request the fast path left to ServeDNS.
type relayedRequest struct {
	data []byte
	addr net.Addr
}

// newUDPEngine returns an engine for conn, or nil when conn is bound to
// an unspecified address such as 0.0.0.0 or [::].
func newUDPEngine(s *Server, conn net.PacketConn) *udpEngine {
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return nil
	}
	local, ok := udp.LocalAddr().(*net.UDPAddr)
	if !ok || !engineAddr(local) {
		return nil
	}
	var batch batchConn = ipv6.NewPacketConn(udp)
	if local.IP.To4() != nil {
		batch = ipv4.NewPacketConn(udp)
	}
	return &udpEngine{
		srv:     s,
		conn:    udp,
		batch:   batch,
		workers: max(2, runtime.GOMAXPROCS(0)),
		maxUDP:  int(s.cfg.MaxUDPSize),
		relay:   make(chan relayedRequest, udpRelayQueue),
		quit:    make(chan struct{}),
	}
}

// engineAddr reports whether a socket bound to local gets the engine: it
// does unless local is an unspecified address, whose replies would need a
// control message each to leave from the address the request came to.
func engineAddr(local *net.UDPAddr) bool {
	return !local.IP.IsUnspecified()
}

// serverConn returns the net.PacketConn that the dns.Server serving the
// relayed requests uses, with the reader that makes it read the relay.
func (e *udpEngine) serverConn() (net.PacketConn, dns.DecorateReader) {
	return relayConn{e}, func(dns.Reader) dns.Reader { return relayReader{e} }
}

// next returns the next request for ServeDNS, starting the workers on
// the first call. It returns the workers' error once they stopped.
func (e *udpEngine) next() ([]byte, net.Addr, error) {
	e.start.Do(func() {
		for range e.workers {
			e.running.Add(1)
			go e.work()
		}
	})
	select {
	case r := <-e.relay:
		return r.data, r.addr, nil
	case <-e.quit:
		return nil, nil, e.quitErr
	}
}

// stop records why the workers stop and wakes the relay's reader.
func (e *udpEngine) stop(err error) {
	e.quitOnce.Do(func() {
		e.quitErr = err
		close(e.quit)
	})
}

// wait returns once every worker has stopped.
func (e *udpEngine) wait() { e.running.Wait() }

// work serves batches of requests until reading the socket fails for
// good, as it does when the dns.Server shuts down and sets a read
// deadline in the past.
func (e *udpEngine) work() {
	defer e.running.Done()
	in := make([]ipv4.Message, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, udpReadBuffer)}
	}
	out := make([]ipv4.Message, udpBatch)
	replies := make([][]byte, udpBatch)
	for i := range out {
		replies[i] = make([]byte, e.maxUDP)
		out[i].Buffers = [][]byte{nil}
	}

	for {
		n, err := e.batch.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
				// The dns.Server is shutting down.
				e.stop(err)
				return
			}
			e.srv.logError("reading UDP requests failed", "", "", err)
			time.Sleep(time.Millisecond)
			continue
		}
		now := time.Now()
		answered := 0
		for i := range n {
			req := in[i].Buffers[0][:in[i].N]
			if size := e.srv.answerFast(replies[answered], req, now); size > 0 {
				out[answered].Buffers[0] = replies[answered][:size]
				out[answered].Addr = in[i].Addr
				answered++
				continue
			}
			select {
			case e.relay <- relayedRequest{data: append([]byte(nil), req...), addr: in[i].Addr}:
			case <-e.quit:
				return
			}
		}
		e.send(out[:answered])
	}
}

// send writes the answers of one batch; a failed write drops the rest of
// the batch, as a lost datagram would, and the clients retry.
func (e *udpEngine) send(ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := e.batch.WriteBatch(ms, 0)
		if err != nil {
			e.srv.logError("writing UDP responses failed", "", "", err)
			return
		}
		ms = ms[n:]
	}
}

// relayConn is the net.PacketConn of the dns.Server of relayed requests.
// Reads come from the relay, and everything else goes to the socket.
type relayConn struct{ e *udpEngine }

func (c relayConn) ReadFrom(b []byte) (int, net.Addr, error) {
	data, addr, err := c.e.next()
	return copy(b, data), addr, err
}

func (c relayConn) WriteTo(b []byte, addr net.Addr) (int, error) { return c.e.conn.WriteTo(b, addr) }
func (c relayConn) Close() error                                 { return c.e.conn.Close() }
func (c relayConn) LocalAddr() net.Addr                          { return c.e.conn.LocalAddr() }
func (c relayConn) SetDeadline(t time.Time) error                { return c.e.conn.SetDeadline(t) }
func (c relayConn) SetReadDeadline(t time.Time) error            { return c.e.conn.SetReadDeadline(t) }
func (c relayConn) SetWriteDeadline(t time.Time) error           { return c.e.conn.SetWriteDeadline(t) }

// relayReader is the dns.Reader of the dns.Server of relayed requests.
type relayReader struct{ e *udpEngine }

var errNotRelayed = errors.New("dnsserver: the UDP engine relays packets only")

func (r relayReader) ReadTCP(net.Conn, time.Duration) ([]byte, error) {
	return nil, errNotRelayed
}

func (r relayReader) ReadUDP(*net.UDPConn, time.Duration) ([]byte, *dns.SessionUDP, error) {
	return nil, nil, errNotRelayed
}

func (r relayReader) ReadPacketConn(net.PacketConn, time.Duration) ([]byte, net.Addr, error) {
	return r.e.next()
}
