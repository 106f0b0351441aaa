package oidc

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/dnshandle/dnshandle/internal/ratelimit"
)

// newLimiter returns a limiter for l, or for def when l is zero.
func newLimiter(l, def Limit) *ratelimit.Limiter {
	if l.Burst <= 0 || l.Every <= 0 {
		l = def
	}
	return ratelimit.New(l.Burst, l.Every)
}

// limiters holds the limiter of each limited kind of request; all are nil
// when RateLimits.Disabled is set.
type limiters struct {
	tokenPerIP, tokenPerClient, register *ratelimit.Limiter
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
func (p *Provider) allow(w http.ResponseWriter, r *http.Request, l *ratelimit.Limiter, key string) bool {
	ok, wait := l.Allow(key, p.cfg.Now())
	if ok {
		return true
	}
	seconds := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	writeOAuthError(w, http.StatusTooManyRequests, errTemporarilyUnavailable,
		fmt.Sprintf("too many requests; retry after %d seconds", seconds))
	return false
}
