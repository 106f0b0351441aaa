package dnsserver

import (
	"sync"
	"time"
)

// logLimiter caps how many lines the request path logs per interval, so
// that a flood of bad requests cannot flood the log. The metrics still
// count every request.
type logLimiter struct {
	mu       sync.Mutex
	max      int
	interval time.Duration
	start    time.Time
	used     int
}

func newLogLimiter(max int, interval time.Duration) *logLimiter {
	return &logLimiter{max: max, interval: interval}
}

// allow reports whether one more line may be logged now.
func (l *logLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.start) >= l.interval {
		l.start, l.used = now, 0
	}
	if l.used >= l.max {
		return false
	}
	l.used++
	return true
}
