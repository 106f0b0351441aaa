package acme

import (
	"sync"
	"time"
)

// Limit is a token bucket: a client may make Burst requests at once, and
// one more each Every after that.
type Limit struct {
	// Burst is the bucket size, at least 1 when the limit is set.
	Burst int
	// Every is the time to earn one request back.
	Every time.Duration
}

// Defaults of RateLimits. They let one device enroll and renew with room to
// spare and slow down a client that loops.
var (
	DefaultNewOrderLimit   = Limit{Burst: 20, Every: time.Minute}
	DefaultFinalizeLimit   = Limit{Burst: 20, Every: time.Minute}
	DefaultNewAccountLimit = Limit{Burst: 20, Every: time.Minute}
	DefaultNewNonceLimit   = Limit{Burst: 200, Every: 50 * time.Millisecond}
)

// RateLimits configures the request limits. A zero Limit means its default.
// Requests over a limit get 429 rateLimited with a Retry-After header.
type RateLimits struct {
	// NewOrder limits newOrder requests per account.
	NewOrder Limit
	// Finalize limits finalize requests per account.
	Finalize Limit
	// NewAccount limits newAccount requests per client IP address.
	NewAccount Limit
	// NewNonce limits newNonce requests per client IP address.
	NewNonce Limit
	// Disabled turns every limit off, for benchmarks and trusted networks.
	Disabled bool
}

// maxLimiterKeys bounds the number of buckets a limiter keeps. Beyond it,
// full buckets (idle clients) are dropped; a dropped bucket starts full
// again, which is what it would be anyway.
const maxLimiterKeys = 100000

type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is a set of token buckets keyed by account ID or client IP.
type limiter struct {
	limit   Limit
	mu      sync.Mutex
	buckets map[string]*bucket
}

func newLimiter(l Limit) *limiter {
	return &limiter{limit: l, buckets: make(map[string]*bucket)}
}

// Allow takes one token from key's bucket at now. When the bucket is empty
// it returns false and how long until a token is back.
func (l *limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()

	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterKeys {
			l.dropFull(now)
		}
		b = &bucket{tokens: float64(l.limit.Burst), last: now}
		l.buckets[key] = b
	}
	b.tokens = l.refill(b, now)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.limit.Every))
	return false, wait
}

func (l *limiter) refill(b *bucket, now time.Time) float64 {
	elapsed := now.Sub(b.last)
	if elapsed <= 0 {
		return b.tokens
	}
	return min(float64(l.limit.Burst), b.tokens+float64(elapsed)/float64(l.limit.Every))
}

func (l *limiter) dropFull(now time.Time) {
	for k, b := range l.buckets {
		if l.refill(b, now) >= float64(l.limit.Burst) {
			delete(l.buckets, k)
		}
	}
}

// rateLimiters holds one limiter per limited request kind; nil limiters
// allow everything.
type rateLimiters struct {
	newOrder, finalize, newAccount, newNonce *limiter
}

func newRateLimiters(c RateLimits) rateLimiters {
	if c.Disabled {
		return rateLimiters{}
	}
	pick := func(l, def Limit) *limiter {
		if l.Burst <= 0 || l.Every <= 0 {
			l = def
		}
		return newLimiter(l)
	}
	return rateLimiters{
		newOrder:   pick(c.NewOrder, DefaultNewOrderLimit),
		finalize:   pick(c.Finalize, DefaultFinalizeLimit),
		newAccount: pick(c.NewAccount, DefaultNewAccountLimit),
		newNonce:   pick(c.NewNonce, DefaultNewNonceLimit),
	}
}

// rateLimited returns the problem for a request over limit, or nil.
func rateLimited(l *limiter, key string, now time.Time, what string) *Problem {
	ok, wait := l.Allow(key, now)
	if ok {
		return nil
	}
	return &Problem{
		Type:       ProblemRateLimited,
		Detail:     "too many " + what + " requests; retry after the time in the Retry-After header",
		RetryAfter: max(wait, time.Second),
	}
}
