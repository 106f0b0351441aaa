package dnsserver

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultCacheSize is the number of entries the answer cache keeps when
// Config.CacheSize is zero.
const DefaultCacheSize = 10000

// cacheKey identifies what the store returned for one name (or one NSEC3
// hash lookup) of a zone at one serial. A new serial makes every older
// entry unreachable, and the LRU order drops them.
type cacheKey struct {
	zone   string
	serial uint32
	name   string // owner name, or "#" followed by a hash for NSEC3 lookups
}

type cacheEntry struct {
	key   cacheKey
	value any
}

// lruCache is a fixed-size least recently used cache, safe for concurrent
// use.
type lruCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front is the most recently used
	items map[cacheKey]*list.Element
}

func newLRUCache(max int) *lruCache {
	if max <= 0 {
		max = DefaultCacheSize
	}
	return &lruCache{max: max, order: list.New(), items: make(map[cacheKey]*list.Element, max)}
}

func (c *lruCache) get(k cacheKey) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).value, true
}

func (c *lruCache) put(k cacheKey, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		el.Value.(*cacheEntry).value = v
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&cacheEntry{key: k, value: v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

// serialCache remembers the current serial of each zone for a short time,
// so that most queries do not read it from the store.
type serialCache struct {
	read    func(ctx context.Context, zone string) (uint32, error)
	refresh time.Duration
	now     func() time.Time

	mu      sync.Mutex
	serials map[string]serialEntry
}

type serialEntry struct {
	serial  uint32
	fetched time.Time
}

// get returns the serial of zone, reading the store when the remembered
// one is older than the refresh interval.
func (c *serialCache) get(ctx context.Context, zone string) (uint32, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.serials[zone]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.refresh {
		return e.serial, nil
	}
	return c.reload(ctx, zone)
}

// reload reads the serial of zone from the store now.
func (c *serialCache) reload(ctx context.Context, zone string) (uint32, error) {
	serial, err := c.read(ctx, zone)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.serials[zone] = serialEntry{serial: serial, fetched: c.now()}
	c.mu.Unlock()
	return serial, nil
}

// forget drops the remembered serial of zone, so the next query reads it.
func (c *serialCache) forget(zone string) {
	c.mu.Lock()
	delete(c.serials, zone)
	c.mu.Unlock()
}
