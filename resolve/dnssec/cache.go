package dnssec

import (
	"sync"
	"time"

	"github.com/miekg/dns"
)

const (
	// maxCacheEntries bounds the zone cache; when it is full, expired
	// entries are dropped, and if none expired the cache starts over.
	maxCacheEntries = 4096

	// maxCacheTTL caps how long a validated zone stays cached, regardless
	// of TTLs and signature lifetimes.
	maxCacheTTL = 24 * time.Hour
)

// zoneEntry is the outcome of the chain of trust for one zone cut: the
// validated DNSKEYs of a signed zone, or the proof that the zone is
// unsigned.
type zoneEntry struct {
	keys     []*dns.DNSKEY
	anchor   string // trust anchor the chain started from
	insecure bool
	reason   string // explanation of the insecure status
	expires  time.Time
}

// zoneCache holds zoneEntry values by zone name. It is safe for
// concurrent use and its zero value is empty and ready.
type zoneCache struct {
	mu      sync.Mutex
	entries map[string]zoneEntry
}

func (c *zoneCache) get(zone string, now time.Time) (zoneEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[zone]
	if !ok || !now.Before(e.expires) {
		return zoneEntry{}, false
	}
	return e, true
}

// put stores e for zone until now+ttl, with ttl capped at maxCacheTTL. A
// ttl of zero or less stores nothing.
func (c *zoneCache) put(zone string, e zoneEntry, now time.Time, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	e.expires = now.Add(min(ttl, maxCacheTTL))

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]zoneEntry{}
	}
	if len(c.entries) >= maxCacheEntries {
		for name, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, name)
			}
		}
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
	}
	c.entries[zone] = e
}

// rrsetTTL returns the smallest TTL in set, in seconds as a duration.
func rrsetTTL(set []dns.RR) time.Duration {
	var ttl uint32
	for i, rr := range set {
		if i == 0 || rr.Header().Ttl < ttl {
			ttl = rr.Header().Ttl
		}
	}
	return time.Duration(ttl) * time.Second
}
