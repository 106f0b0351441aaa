package resolve

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnshandle/dnshandle/records"
)

// CacheStats are cumulative counters of a Resolver, for export as metrics.
// Each counts RRsets, so one Resolve call counts twice (TLSA and TXT).
type CacheStats struct {
	Hits         uint64 // RRsets served from a fresh cache entry
	Misses       uint64 // RRsets that needed an upstream lookup (no entry, or an expired one)
	StaleServed  uint64 // RRsets served from an expired entry (RFC 8767)
	Evictions    uint64 // entries removed because the cache was full
	Expired      uint64 // entries removed because their stale window had passed
	Deduplicated uint64 // lookups that joined one already in flight for the same RRset
	Errors       uint64 // lookups that failed: no usable response, or SERVFAIL that a trusted upstream marked as a DNSSEC failure
	Entries      uint64 // entries in the cache now
}

// cacheKey identifies an RRset of a handle. The type fixes the owner name
// (TLSA at <h>., TXT at _atproto.<h>.), so the key is equivalent to
// (name, type) and the hit path builds no string.
type cacheKey struct {
	handle string
	qtype  uint16
}

// entry is an immutable cached RRset, ready to be copied into a Result.
// Only lastUsed changes after the entry is published.
type entry struct {
	info       RRsetInfo // TTL is set from expires when copied out
	tlsa       []records.TLSA
	atproto    records.ATProto
	atprotoErr error
	// err is the policy error of the RRset, computed once at insertion.
	err error

	expires    time.Time // end of the (clamped) TTL
	staleUntil time.Time // end of serve-stale, equal to expires without it
	// recheckAfter is set on entries served stale after an upstream
	// failure: until then the stale entry is served without new queries.
	recheckAfter time.Time

	lastUsed atomic.Int64 // Unix seconds of the last hit, for eviction
}

// fresh reports whether e may be served as a normal hit at now.
func (e *entry) fresh(now time.Time) bool { return now.Before(e.expires) }

// staleUsable reports whether e may be served stale at now.
func (e *entry) staleUsable(now time.Time) bool {
	return !e.fresh(now) && now.Before(e.staleUntil)
}

// touch records a use for eviction. It writes only when the second
// changed, so parallel hits on one entry do not contend on its cache line.
func (e *entry) touch(now time.Time) {
	sec := now.Unix()
	if e.lastUsed.Load() != sec {
		e.lastUsed.Store(sec)
	}
}

const (
	maxShards    = 64
	minPerShard  = 16 // entries per shard before the cache uses more shards
	evictSamples = 8
)

// cache is a sharded map of entries with a global size bound. Reads take a
// shard's read lock only, so parallel hits on different shards never
// contend.
type cache struct {
	seed   maphash.Seed
	shards []shard
	mask   uint64
}

type shard struct {
	mu      sync.RWMutex
	entries map[cacheKey]*entry
	max     int

	hits, misses, stale, evictions, expired atomic.Uint64
	_                                       [64]byte // keeps shards on separate cache lines
}

// newCache creates a cache for at most maxEntries entries. The shard count
// is a power of two, chosen so that each shard holds at least minPerShard
// entries. The per-shard bounds add up to exactly maxEntries.
func newCache(maxEntries int) *cache {
	n := 1
	for n < maxShards && maxEntries/(n*2) >= minPerShard {
		n *= 2
	}
	c := &cache{seed: maphash.MakeSeed(), shards: make([]shard, n), mask: uint64(n - 1)}
	for i := range c.shards {
		c.shards[i].entries = make(map[cacheKey]*entry)
		c.shards[i].max = maxEntries / n
	}
	// Hand the remainder to the first shards so the bounds sum to maxEntries.
	for i := 0; i < maxEntries%n; i++ {
		c.shards[i].max++
	}
	return c
}

func (c *cache) shard(k cacheKey) *shard {
	h := maphash.String(c.seed, k.handle) ^ uint64(k.qtype)*0x9e3779b97f4a7c15
	return &c.shards[h&c.mask]
}

// get returns the entry for k, fresh or not, and counts a hit when it is
// fresh at now and a miss otherwise. It allocates nothing.
func (c *cache) get(k cacheKey, now time.Time) *entry {
	s := c.shard(k)
	s.mu.RLock()
	e := s.entries[k]
	s.mu.RUnlock()

	if e != nil && e.fresh(now) {
		s.hits.Add(1)
		e.touch(now)
		return e
	}
	if e != nil && e.staleUsable(now) && now.Before(e.recheckAfter) {
		// RFC 8767, section 5: within the failure recheck time a stale
		// entry is served without querying the upstreams again.
		s.stale.Add(1)
		e.touch(now)
		return e
	}
	s.misses.Add(1)
	return e
}

// peek returns the entry for k without counting anything.
func (c *cache) peek(k cacheKey) *entry {
	s := c.shard(k)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.entries[k]
}

// countStale counts one stale RRset served outside get.
func (c *cache) countStale(k cacheKey) { c.shard(k).stale.Add(1) }

// put inserts or replaces the entry for k. When k is new and its shard is
// full, it first removes sampled entries whose stale window has passed, and
// otherwise evicts the least recently used of a few sampled entries.
func (c *cache) put(k cacheKey, e *entry, now time.Time) {
	e.touch(now)
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.entries[k]; !ok && len(s.entries) >= s.max {
		s.evictLocked(now)
	}
	if len(s.entries) < s.max || s.entries[k] != nil {
		s.entries[k] = e
	}
}

// evictLocked frees at least one slot. Go's map iteration starts at a
// random position, so the first entries seen are a random sample.
func (s *shard) evictLocked(now time.Time) {
	var victim cacheKey
	var oldest int64
	found := false
	seen := 0
	for k, e := range s.entries {
		if !now.Before(e.staleUntil) {
			delete(s.entries, k)
			s.expired.Add(1)
			continue
		}
		if !found || e.lastUsed.Load() < oldest {
			victim, oldest, found = k, e.lastUsed.Load(), true
		}
		seen++
		if seen >= evictSamples {
			break
		}
	}
	if len(s.entries) < s.max {
		return
	}
	if found {
		delete(s.entries, victim)
		s.evictions.Add(1)
	}
}

// stats sums the shard counters.
func (c *cache) stats() CacheStats {
	var st CacheStats
	for i := range c.shards {
		s := &c.shards[i]
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
		st.StaleServed += s.stale.Load()
		st.Evictions += s.evictions.Load()
		st.Expired += s.expired.Load()
		s.mu.RLock()
		st.Entries += uint64(len(s.entries))
		s.mu.RUnlock()
	}
	return st
}
