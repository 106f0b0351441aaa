package web

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// maxBuckets bounds the keys a limiter tracks. Past it, buckets that have
// refilled are dropped first, then the least recently used.
const maxBuckets = 100000

// limiter is a set of token buckets, one per key. A bucket starts full
// with burst tokens and gains one per interval.
type limiter struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	buckets  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(l RateLimit) *limiter {
	return &limiter{burst: float64(l.Burst), interval: l.Interval, buckets: map[string]*bucket{}}
}

// take removes one token from the bucket of key at now. When the bucket is
// empty it returns false and how long until the next token.
func (l *limiter) take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.interval))
	return false, wait
}

// refill adds the tokens earned since b.last, up to burst. A clock that
// went back adds nothing.
func (l *limiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+float64(elapsed)/float64(l.interval))
		b.last = now
	}
}

// evict drops the buckets that are full again, which behave like absent
// ones, and when none are, the least recently used quarter.
func (l *limiter) evict(now time.Time) {
	var oldest []time.Time
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		} else {
			oldest = append(oldest, b.last)
		}
	}
	if len(l.buckets) < maxBuckets {
		return
	}
	slices.SortFunc(oldest, time.Time.Compare)
	cut := oldest[len(oldest)/4]
	for k, b := range l.buckets {
		if !b.last.After(cut) {
			delete(l.buckets, k)
		}
	}
}

// clientKey returns the rate-limit key of the client of r: its IP address,
// or for IPv6 its /64 prefix, which one subscriber usually has whole.
//
// NOTE: behind a reverse proxy every client has the proxy's address, so
// they share one bucket. Forwarded headers are not read because a client
// can forge them.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		prefix, _ := addr.Prefix(64)
		return prefix.String()
	}
	return addr.String()
}
