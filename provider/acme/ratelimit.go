package acme

import (
	"time"

	"github.com/dnshandle/dnshandle/internal/ratelimit"
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

// rateLimiters holds one limiter per limited request kind; nil limiters
// allow everything.
type rateLimiters struct {
	newOrder, finalize, newAccount, newNonce *ratelimit.Limiter
}

func newRateLimiters(c RateLimits) rateLimiters {
	if c.Disabled {
		return rateLimiters{}
	}
	pick := func(l, def Limit) *ratelimit.Limiter {
		if l.Burst <= 0 || l.Every <= 0 {
			l = def
		}
		return ratelimit.New(l.Burst, l.Every)
	}
	return rateLimiters{
		newOrder:   pick(c.NewOrder, DefaultNewOrderLimit),
		finalize:   pick(c.Finalize, DefaultFinalizeLimit),
		newAccount: pick(c.NewAccount, DefaultNewAccountLimit),
		newNonce:   pick(c.NewNonce, DefaultNewNonceLimit),
	}
}

// rateLimited returns the problem for a request over limit, or nil.
func rateLimited(l *ratelimit.Limiter, key string, now time.Time, what string) *Problem {
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
