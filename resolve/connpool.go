package resolve

import (
	"net"
	"sync"
	"time"
)

// Limits of the idle connections that stream upstreams (TCP and DNS over
// TLS) keep between queries (RFC 7766, section 6.2.1, and RFC 7858,
// section 3.4, ask clients to reuse connections).
const (
	// maxIdleConns is how many idle connections one upstream keeps per
	// transport. Concurrent lookups beyond it open connections of their
	// own and close them afterwards.
	maxIdleConns = 4
	// idleConnTimeout is how long an idle connection is kept. Servers
	// close idle connections after some seconds (unbound after 30 s by
	// default), so an older one is likely closed already.
	idleConnTimeout = 10 * time.Second
)

// idleConn is a connection waiting for its next query.
type idleConn struct {
	conn  net.Conn
	since time.Time
}

// connPool keeps the idle connections of one upstream and transport. It
// is safe for concurrent use.
type connPool struct {
	mu   sync.Mutex
	idle []idleConn
}

// get returns the most recently used idle connection that is younger than
// idleConnTimeout, closing the older ones, or nil.
func (p *connPool) get(now time.Time) net.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(last.since) < idleConnTimeout {
			return last.conn
		}
		_ = last.conn.Close()
	}
	return nil
}

// put keeps conn for the next query, or closes it when maxIdleConns are
// idle already.
func (p *connPool) put(conn net.Conn, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= maxIdleConns {
		_ = conn.Close()
		return
	}
	p.idle = append(p.idle, idleConn{conn: conn, since: now})
}

// closeAll closes every idle connection.
func (p *connPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.idle {
		_ = c.conn.Close()
	}
	p.idle = nil
}
