package oidc

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// maxLimiterKeys bounds the buckets one limiter keeps. When it is reached,
// the full buckets (of idle keys) are dropped; a dropped bucket would be full
// anyway.
const maxLimiterKeys = 100000

// limiter is a set of token buckets keyed by client IP address or client_id.
// A nil limiter allows everything. It is safe for concurrent use.
type limiter struct {
	limit Limit

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter for l, or for def when l is zero.
func newLimiter(l, def Limit) *limiter {
	if l.Burst <= 0 || l.Every <= 0 {
		l = def
	}
	return &limiter{limit: l, buckets: make(map[string]*bucket)}
}

// take removes one token from the bucket of key at now. When the bucket is
// empty it returns false and the time until a token is back.
func (l *limiter) take(key string, now time.Time) (bool, time.Duration) {
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
	b.tokens = l.level(b, now)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.limit.Every))
}

// level returns the tokens in b at now.
func (l *limiter) level(b *bucket, now time.Time) float64 {
	elapsed := now.Sub(b.last)
	if elapsed <= 0 {
		return b.tokens
	}
	return min(float64(l.limit.Burst), b.tokens+float64(elapsed)/float64(l.limit.Every))
}

func (l *limiter) dropFull(now time.Time) {
	for key, b := range l.buckets {
		if l.level(b, now) >= float64(l.limit.Burst) {
			delete(l.buckets, key)
		}
	}
}

// limiters holds the limiter of each limited kind of request; all are nil
// when RateLimits.Disabled is set.
type limiters struct {
	tokenPerIP, tokenPerClient, register *limiter
}

func newLimiters(c RateLimits) limiters {
	if c.Disabled {
		return limiters{}
	}
	return limiters{
		tokenPerIP:     newLimiter(c.TokenPerIP, DefaultTokenPerIPLimit),
		tokenPerClient: newLimiter(c.TokenPerClient, DefaultTokenPerClientLimit),
		register:       newLimiter(c.Register, DefaultRegisterLimit),
	}
}

// allow takes a token for key from l. When none is left it responds with
// 429 and a Retry-After header (RFC 9110, section 10.2.3) in whole seconds and
// returns false.
func (p *Provider) allow(w http.ResponseWriter, r *http.Request, l *limiter, key string) bool {
	ok, wait := l.take(key, p.cfg.Now())
	if ok {
		return true
	}
	seconds := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	writeOAuthError(w, http.StatusTooManyRequests, errTemporarilyUnavailable,
		fmt.Sprintf("too many requests; retry after %d seconds", seconds))
	return false
}
