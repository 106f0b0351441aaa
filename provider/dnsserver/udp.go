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

// udpEngine serves a UDP socket with one worker per CPU. A worker reads a
// batch of requests and sends the responses the fast path finds (see
// answerFast) as one batch. It passes every other request to a
// dns.Server, which reads them from the engine's relay instead of the
// socket and runs ServeDNS on them as usual. Responses from ServeDNS go
// out through the same socket.
//
// A socket bound to an unspecified address such as [::] receives on every
// local address, and each reply must leave from the address its request
// came to, or the client drops it. For such a socket the engine requests
// the packet-info control message of each request and sends it back with
// the reply: on Linux, IP_PKTINFO and IPV6_PKTINFO name the local address
// and interface in the same layout for receiving and sending.
type udpEngine struct {
	srv     *Server
	conn    *net.UDPConn
	batch   batchConn
	workers int
	maxUDP  int
	// oobSize is the size of the control message buffer of each request,
	// or 0 when the socket is bound to one address.
	oobSize int

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

// pktinfoAddr is the client address of a relayed request on a socket
// bound to an unspecified address, with the control message that makes
// its reply leave from the local address the request came to.
type pktinfoAddr struct {
	*net.UDPAddr
	oob []byte
}

// newUDPEngine returns an engine for conn, or nil when conn is not a UDP
// socket, or is bound to an unspecified address on a system other than
// Linux or one that cannot report the local address of each request.
func newUDPEngine(s *Server, conn net.PacketConn) *udpEngine {
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return nil
	}
	local, ok := udp.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil
	}
	e := &udpEngine{
		srv:     s,
		conn:    udp,
		workers: max(2, runtime.GOMAXPROCS(0)),
		maxUDP:  int(s.cfg.MaxUDPSize),
		relay:   make(chan relayedRequest, udpRelayQueue),
		quit:    make(chan struct{}),
	}
	wildcard := local.IP.IsUnspecified()
	if wildcard && runtime.GOOS != "linux" {
		// Other systems use other control messages for the source of a
		// datagram than for the destination of one received.
		return nil
	}
	if local.IP.To4() != nil {
		p := ipv4.NewPacketConn(udp)
		if wildcard {
			flags := ipv4.FlagDst | ipv4.FlagInterface
			if p.SetControlMessage(flags, true) != nil {
				return nil
			}
			e.oobSize = len(ipv4.NewControlMessage(flags))
		}
		e.batch = p
	} else {
		// A socket on [::] also receives IPv4 requests, as IPv4-mapped
		// addresses, and reports them in IPV6_PKTINFO as well.
		p := ipv6.NewPacketConn(udp)
		if wildcard {
			flags := ipv6.FlagDst | ipv6.FlagInterface
			if p.SetControlMessage(flags, true) != nil {
				return nil
			}
			e.oobSize = len(ipv6.NewControlMessage(flags))
		}
		e.batch = p
	}
	return e
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
		in[i].OOB = make([]byte, e.oobSize)
	}
	out := make([]ipv4.Message, udpBatch)
	replies := make([][]byte, udpBatch)
	replyOOBs := make([][]byte, udpBatch)
	for i := range out {
		replies[i] = make([]byte, e.maxUDP)
		replyOOBs[i] = make([]byte, e.oobSize)
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
			oob := in[i].OOB[:in[i].NN]
			if size := e.srv.answerFast(replies[answered], req, now); size > 0 {
				out[answered].Buffers[0] = replies[answered][:size]
				out[answered].Addr = in[i].Addr
				out[answered].OOB = replyOOBs[answered][:copy(replyOOBs[answered], oob)]
				answered++
				continue
			}
			addr := in[i].Addr
			if udpAddr, ok := addr.(*net.UDPAddr); ok && len(oob) > 0 {
				addr = &pktinfoAddr{UDPAddr: udpAddr, oob: append([]byte(nil), oob...)}
			}
			select {
			case e.relay <- relayedRequest{data: append([]byte(nil), req...), addr: addr}:
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

func (c relayConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if p, ok := addr.(*pktinfoAddr); ok {
		n, _, err := c.e.conn.WriteMsgUDP(b, p.oob, p.UDPAddr)
		return n, err
	}
	return c.e.conn.WriteTo(b, addr)
}

func (c relayConn) Close() error                       { return c.e.conn.Close() }
func (c relayConn) LocalAddr() net.Addr                { return c.e.conn.LocalAddr() }
func (c relayConn) SetDeadline(t time.Time) error      { return c.e.conn.SetDeadline(t) }
func (c relayConn) SetReadDeadline(t time.Time) error  { return c.e.conn.SetReadDeadline(t) }
func (c relayConn) SetWriteDeadline(t time.Time) error { return c.e.conn.SetWriteDeadline(t) }

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
