// Package ratelimit keeps token buckets per key (a client address, an
// account), for the provider's request limits.
package ratelimit

import (
	"slices"
	"sync"
	"time"
)

// MaxKeys bounds the keys a Limiter tracks. Past it, buckets that have
// refilled are dropped first, then the least recently used quarter.
const MaxKeys = 100000

// Limiter is a set of token buckets, one per key. A bucket starts full with
// burst tokens and gains one per every. A nil *Limiter allows everything.
// It is safe for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter whose buckets hold burst tokens and gain one per
// every. burst and every must be positive.
func New(burst int, every time.Duration) *Limiter {
	return &Limiter{burst: float64(burst), every: every, buckets: map[string]*bucket{}}
}

// Allow removes one token from the bucket of key at now. When the bucket is
// empty it returns false and how long until the next token.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()

	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= MaxKeys {
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
	return false, time.Duration((1 - b.tokens) * float64(l.every))
}

// refill adds the tokens earned since b.last, up to burst. A clock that
// went back adds nothing.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)/float64(l.every))
		b.last = now
	}
}

// evict drops the buckets that are full again, which behave like absent
// ones, and when none are, the least recently used quarter.
func (l *Limiter) evict(now time.Time) {
	var oldest []time.Time
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		} else {
			oldest = append(oldest, b.last)
		}
	}
	if len(l.buckets) < MaxKeys {
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
