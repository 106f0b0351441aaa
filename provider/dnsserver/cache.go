package dnsserver

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// DefaultCacheSize is the number of owner names per zone the cache keeps
// when Config.CacheSize is zero.
const DefaultCacheSize = 10000

// cacheShards is the number of separately locked parts of a zoneCache, so
// that concurrent queries rarely wait for one another.
const cacheShards = 32

// zoneCache keeps, for one zone, the parsed records of recently queried
// owner names and the packed responses built from them. Its entries are
// not tied to a serial: when the serial changes, the zone's tracker
// removes the names that the journal steps since the old serial touched
// (see zoneSet.reload).
// Writers pass the epoch they read before reading the store, and a write
// with an older epoch than the zone's current one is dropped, so data read
// before a change never lands in the cache after it.
//
// Eviction follows the CLOCK algorithm: a hit sets the entry's reference
// bit, and the hand that looks for a victim clears set bits and evicts the
// first entry whose bit is clear. A hit takes a read lock only.
type zoneCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	preds  predecessorCache
}

type cacheShard struct {
	mu      sync.RWMutex
	max     int
	entries map[string]*cacheEntry
	ring    []*cacheEntry // CLOCK order
	hand    int
}

// cacheEntry is one owner name in the cache. data never changes after
// the entry is stored; answers is replaced, never changed in place.
type cacheEntry struct {
	name    string
	data    *nameData
	answers atomic.Pointer[[]packedAnswer]
	ref     atomic.Bool
	slot    int // index in the shard's ring, guarded by the shard's lock
}

// packedAnswer is a response as it goes on the wire, packed for a request
// with ID 0, the RD and CD bits clear and the question name in lowercase.
// The fast path copies it and patches in the request's ID, bits and
// question name (see writeFastAnswer).
type packedAnswer struct {
	qtype uint16
	edns  bool // the request had an OPT record
	do    bool // the request set the DNSSEC OK bit
	rcode int
	// negative answers (NXDOMAIN, NODATA) carry the SOA and NSEC3 records
	// of the zone as it was at serial, so they are used at that serial
	// only. Positive answers depend on their owner name alone.
	negative bool
	serial   uint32
	msg      []byte
}

// newZoneCache returns a cache of about size names (DefaultCacheSize when
// size is not positive).
func newZoneCache(size int) *zoneCache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c := &zoneCache{seed: maphash.MakeSeed()}
	perShard := (size + cacheShards - 1) / cacheShards
	for i := range c.shards {
		c.shards[i] = cacheShard{max: perShard, entries: make(map[string]*cacheEntry)}
	}
	c.preds = predecessorCache{max: size, owners: map[string]string{}}
	return c
}

func (c *zoneCache) shard(name string) *cacheShard {
	return &c.shards[maphash.String(c.seed, name)%cacheShards]
}

// get returns the entry of name, or nil.
func (c *zoneCache) get(name string) *cacheEntry {
	s := c.shard(name)
	s.mu.RLock()
	e := s.entries[name]
	s.mu.RUnlock()
	if e != nil && !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

// getBytes is get for a name held in a byte slice; it does not allocate.
func (c *zoneCache) getBytes(name []byte) *cacheEntry {
	s := &c.shards[maphash.Bytes(c.seed, name)%cacheShards]
	s.mu.RLock()
	e := s.entries[string(name)]
	s.mu.RUnlock()
	if e != nil && !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

// put stores the records of name unless the zone's epoch moved past
// epoch, or name is cached and replace is false. It returns the entry it
// stored, or nil.
func (c *zoneCache) put(name string, data *nameData, epoch uint64, current *atomic.Uint64, replace bool) *cacheEntry {
	s := c.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if current.Load() != epoch {
		return nil
	}
	e := &cacheEntry{name: name, data: data}
	if old, ok := s.entries[name]; ok {
		if !replace {
			return nil
		}
		e.slot = old.slot
		s.ring[e.slot] = e
		s.entries[name] = e
		return e
	}
	if len(s.ring) < s.max {
		e.slot = len(s.ring)
		s.ring = append(s.ring, e)
		s.entries[name] = e
		return e
	}
	for {
		victim := s.ring[s.hand]
		if victim.ref.Load() {
			victim.ref.Store(false)
			s.hand = (s.hand + 1) % len(s.ring)
			continue
		}
		delete(s.entries, victim.name)
		e.slot = s.hand
		s.ring[s.hand] = e
		s.entries[name] = e
		s.hand = (s.hand + 1) % len(s.ring)
		return e
	}
}

// addAnswer adds a packed response to the entry e, replacing one for the
// same question, unless e left the cache or the epoch moved past epoch.
func (c *zoneCache) addAnswer(e *cacheEntry, a packedAnswer, epoch uint64, current *atomic.Uint64) {
	s := c.shard(e.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if current.Load() != epoch || s.entries[e.name] != e {
		return
	}
	var next []packedAnswer
	if old := e.answers.Load(); old != nil {
		next = make([]packedAnswer, 0, len(*old)+1)
		for _, o := range *old {
			if o.qtype != a.qtype || o.edns != a.edns || o.do != a.do {
				next = append(next, o)
			}
		}
	}
	next = append(next, a)
	e.answers.Store(&next)
}

// remove drops name from the cache.
func (c *zoneCache) remove(name string) {
	s := c.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok {
		return
	}
	delete(s.entries, name)
	last := len(s.ring) - 1
	moved := s.ring[last]
	s.ring[e.slot] = moved
	moved.slot = e.slot
	s.ring[last] = nil
	s.ring = s.ring[:last]
	if s.hand >= len(s.ring) {
		s.hand = 0
	}
}

// len returns the number of names in the cache.
func (c *zoneCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}

// full reports whether every shard holds as many names as it may.
func (c *zoneCache) full() bool {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		room := len(s.entries) < s.max
		s.mu.RUnlock()
		if room {
			return false
		}
	}
	return true
}

// predecessorCache maps NSEC3 hashes to the owner of the stored NSEC3
// record that matches or covers them. Any change of the chain makes it
// wrong, so the tracker clears it whole; when full, it starts over.
type predecessorCache struct {
	mu     sync.RWMutex
	max    int
	owners map[string]string
}

func (p *predecessorCache) get(hash string) (string, bool) {
	p.mu.RLock()
	owner, ok := p.owners[hash]
	p.mu.RUnlock()
	return owner, ok
}

func (p *predecessorCache) put(hash, owner string, epoch uint64, current *atomic.Uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if current.Load() != epoch {
		return
	}
	if len(p.owners) >= p.max {
		p.owners = map[string]string{}
	}
	p.owners[hash] = owner
}

func (p *predecessorCache) clear() {
	p.mu.Lock()
	p.owners = map[string]string{}
	p.mu.Unlock()
}
