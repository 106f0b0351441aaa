package verify

import (
	"container/list"
	"crypto/tls"
	"sync"
	"time"
)

// Defaults of the per-connection identity cache.
const (
	// DefaultConnectionTTL is how long the Identity verified in a handshake
	// is reused for the requests of that connection before Middleware
	// verifies the chain again.
	DefaultConnectionTTL = 5 * time.Minute
	// DefaultMaxConnections bounds the number of connections whose Identity
	// is kept at once.
	DefaultMaxConnections = 10000
)

// connectionLabel is the RFC 5705 exporter label of the connection key.
// In TLS 1.3 the exporter secret is unique to each connection (RFC 8446,
// section 7.5), resumed ones included, so the exported value identifies
// the connection, and both the handshake callback and http.Request.TLS can
// compute it.
const connectionLabel = "EXPORTER-dnshandle-verify-connection"

// connectionKeyLength is the length of the exported key in bytes.
const connectionKeyLength = 32

// connectionKey derives the cache key of a TLS 1.3 connection. ok is false
// when the state cannot export keying material.
func connectionKey(cs *tls.ConnectionState) (key string, ok bool) {
	if cs.Version != tls.VersionTLS13 {
		return "", false
	}
	material, err := cs.ExportKeyingMaterial(connectionLabel, nil, connectionKeyLength)
	if err != nil {
		return "", false
	}
	return string(material), true
}

// connCache maps connection keys to the Identity verified in the handshake.
// It holds at most max entries and drops the oldest first, and an entry
// expires at its own deadline. It is safe for concurrent use.
type connCache struct {
	mu      sync.Mutex
	entries map[string]*list.Element
	order   list.List // of *connEntry, oldest at the front
}

type connEntry struct {
	key     string
	id      *Identity
	expires time.Time
}

// get returns the Identity stored for key, or nil when there is none or it
// expired at now.
func (c *connCache) get(key string, now time.Time) *Identity {
	c.mu.Lock()
	defer c.mu.Unlock()

	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	entry := el.Value.(*connEntry)
	if !now.Before(entry.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return nil
	}
	return entry.id
}

// put stores id for key until expires, evicting the oldest entries while
// the cache holds max or more.
func (c *connCache) put(key string, id *Identity, expires time.Time, max int) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.entries == nil {
		c.entries = make(map[string]*list.Element)
	}
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
		delete(c.entries, key)
	}
	for len(c.entries) >= max && c.order.Len() > 0 {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*connEntry).key)
	}
	c.entries[key] = c.order.PushBack(&connEntry{key: key, id: id, expires: expires})
}

// len returns the number of entries, expired ones included.
func (c *connCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
