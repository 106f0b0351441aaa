package oidclogin

import (
	"sync"
	"time"
)

// endedSessions lists the sessions that signed out, by session ID, until
// their cookies would have expired anyway, so that a copy of a signed-out
// cookie opens nothing. It is safe for concurrent use.
//
// NOTE: the list lives in the memory of one process. Another process with
// the same SessionKey, or this one after a restart, accepts a signed-out
// cookie again until it expires.
type endedSessions struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// add records that the session id ended; its cookie expires at until.
// It drops the entries that expired before now.
func (e *endedSessions) add(id string, until, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.until == nil {
		e.until = map[string]time.Time{}
	}
	for k, t := range e.until {
		if !now.Before(t) {
			delete(e.until, k)
		}
	}
	e.until[id] = until
}

// has reports whether the session id ended.
func (e *endedSessions) has(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.until[id]
	return ok
}
