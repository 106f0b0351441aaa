package resolve

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
)

// ownerName returns the owner of the RRset of h that Resolve queries for qtype.
func ownerName(h handle.Handle, qtype uint16) string {
	if qtype == dns.TypeTXT {
		return records.OwnerATProto(h)
	}
	return records.OwnerTLSA(h)
}

// flight is one lookup shared by every caller that asks for the same RRset
// while it runs. res and err are written once, before done is closed.
type flight struct {
	key  cacheKey
	done chan struct{}
	res  *flightResult
	err  error
}

// flightResult is the value a shared lookup hands to its callers.
type flightResult struct {
	entry *entry
	stale bool // entry is an expired one served after an upstream failure
}

// flightGroup keeps one flight per RRset, as golang.org/x/sync/singleflight
// does. That package's DoChan starts a goroutine for every lookup, and the
// hand-off cost about a quarter of a cold loopback lookup in
// BenchmarkColdLookup. Here the first caller runs the lookup itself.
type flightGroup struct {
	mu      sync.Mutex
	flights map[cacheKey]*flight
}

// join returns the flight for key and whether the caller must run it.
func (g *flightGroup) join(key cacheKey) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.flights[key]; ok {
		return f, false
	}
	if g.flights == nil {
		g.flights = make(map[cacheKey]*flight)
	}
	f := &flight{key: key, done: make(chan struct{})}
	g.flights[key] = f
	return f, true
}

// finish publishes the outcome of f to its callers.
func (g *flightGroup) finish(f *flight, res *flightResult, err error) {
	f.res, f.err = res, err
	g.mu.Lock()
	delete(g.flights, f.key)
	g.mu.Unlock()
	close(f.done)
}

// lookupEntry returns a fresh entry for (h, qtype) from the upstreams, with
// one query in flight per RRset: callers that arrive while a lookup runs
// wait for its outcome instead of sending their own, each until its own
// context ends. The first caller runs the lookup under its own context and
// Config.Timeout, so the others share its outcome, a timeout at its
// deadline included. When it is canceled, the callers waiting on it start
// over.
//
// old is the cached entry, if any. When it may be served stale, the lookup
// runs in its own goroutine, detached from the caller's cancellation, and
// the caller gets the stale entry after StaleAnswerTimeout or at once when
// the lookup fails (RFC 8767, section 5).
func (r *Resolver) lookupEntry(ctx context.Context, h handle.Handle, qtype uint16, old *entry) (*entry, bool, error) {
	name := ownerName(h, qtype)
	key := cacheKey{string(h), qtype}
	staleOK := old != nil && old.staleUsable(r.now())

	for {
		f, leader := r.flights.join(key)
		if r.afterJoin != nil {
			r.afterJoin()
		}
		var (
			e     *entry
			stale bool
			err   error
		)
		switch {
		case leader && !staleOK:
			r.runFlight(ctx, ctx, name, qtype, f)
			e, stale, err = r.flightOutcome(f)
		case leader:
			go r.runFlight(context.WithoutCancel(ctx), ctx, name, qtype, f)
			e, stale, err = r.awaitFlight(ctx, f, name, qtype, old)
		default:
			r.dedup.Add(1)
			e, stale, err = r.awaitFlight(ctx, f, name, qtype, old)
		}

		var le *LookupError
		if err != nil && !leader && errors.As(err, &le) && le.Kind == KindCanceled && ctx.Err() == nil {
			continue // the caller that ran the lookup was canceled: run it again
		}
		if err != nil {
			r.errs.Add(1)
		}
		return e, stale, err
	}
}

// runFlight runs the lookup of f under parent, bounded by the deadline of
// deadlineFrom and Config.Timeout, and publishes its outcome.
func (r *Resolver) runFlight(parent, deadlineFrom context.Context, name string, qtype uint16, f *flight) {
	deadline := time.Now().Add(r.timeout)
	if d, ok := deadlineFrom.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(parent, deadline)
	defer cancel()
	res, err := r.refresh(ctx, name, qtype, f.key)
	r.flights.finish(f, res, err)
}

// awaitFlight waits for f, for the end of ctx, and, when old may be served
// stale, for StaleAnswerTimeout.
func (r *Resolver) awaitFlight(ctx context.Context, f *flight, name string, qtype uint16, old *entry) (*entry, bool, error) {
	var staleTimer <-chan time.Time
	if old != nil && old.staleUsable(r.now()) {
		t := time.NewTimer(r.cacheCfg.StaleAnswerTimeout)
		defer t.Stop()
		staleTimer = t.C
	}

	select {
	case <-f.done:
		return r.flightOutcome(f)
	case <-staleTimer:
		r.cache.countStale(f.key)
		return old, true, nil
	case <-ctx.Done():
		return nil, false, classify(ctx, nil, ctx.Err(), name, qtype, "")
	}
}

// flightOutcome returns the outcome of a finished flight.
func (r *Resolver) flightOutcome(f *flight) (*entry, bool, error) {
	if f.err != nil {
		return nil, false, f.err
	}
	if f.res.stale {
		r.cache.countStale(f.key)
	}
	return f.res.entry, f.res.stale, nil
}

// refresh runs one lookup and caches its answer. When the lookup fails for
// upstream reasons and the cached entry is within its stale window, refresh
// caches and returns a stale copy that is served without new queries for
// the failure recheck time.
func (r *Resolver) refresh(ctx context.Context, name string, qtype uint16, key cacheKey) (*flightResult, error) {
	ans, err := r.lookup(ctx, r.env, name, qtype)
	now := r.now()
	if err != nil {
		if old := r.staleCandidate(key, now); old != nil && upstreamFailure(err) {
			e := old.staleCopy(now.Add(staleRecheck))
			r.cache.put(key, e, now)
			return &flightResult{entry: e, stale: true}, nil
		}
		return nil, err
	}

	e := r.newEntry(ans, now)
	if r.cache != nil && ans.cacheable && e.info.Status != Bogus && now.Before(e.staleUntil) {
		r.cache.put(key, e, now)
	}
	return &flightResult{entry: e}, nil
}

func (r *Resolver) staleCandidate(key cacheKey, now time.Time) *entry {
	if r.cache == nil {
		return nil
	}
	if old := r.cache.peek(key); old != nil && old.staleUsable(now) {
		return old
	}
	return nil
}

// upstreamFailure reports errors that serve-stale covers: no usable
// response from any upstream. Bogus answers are not covered.
func upstreamFailure(err error) bool {
	var le *LookupError
	if !errors.As(err, &le) {
		return false
	}
	switch le.Kind {
	case KindTimeout, KindNetwork, KindServFail, KindRefused, KindRcode, KindMalformed:
		return true
	}
	return false
}

// newEntry builds the entry of ans, with its lifetime within the cache bounds.
func (r *Resolver) newEntry(ans *answer, now time.Time) *entry {
	ttl := r.clampTTL(ans.ttl, ans.negative)
	e := &entry{
		info:       ans.info,
		tlsa:       ans.tlsa,
		atproto:    ans.atproto,
		atprotoErr: ans.atprotoErr,
		expires:    now.Add(ttl),
	}
	e.staleUntil = e.expires.Add(r.cacheCfg.StaleWindow)
	if !ans.cacheable {
		e.staleUntil = e.expires
	}
	e.err = r.policyError(&e.info)
	return e
}

// clampTTL applies MinTTL, MaxTTL and NegativeMaxTTL. Without a cache the
// TTL of the answer is kept, so Result.TTL reports it unchanged.
func (r *Resolver) clampTTL(ttl time.Duration, negative bool) time.Duration {
	if r.cache == nil {
		return ttl
	}
	c := r.cacheCfg
	ttl = max(ttl, c.MinTTL)
	if negative {
		return min(ttl, c.NegativeMaxTTL)
	}
	return min(ttl, c.MaxTTL)
}

// staleCopy returns a copy of e that is served stale until recheckAfter.
func (e *entry) staleCopy(recheckAfter time.Time) *entry {
	return &entry{
		info:         e.info,
		tlsa:         e.tlsa,
		atproto:      e.atproto,
		atprotoErr:   e.atprotoErr,
		err:          e.err,
		expires:      e.expires,
		staleUntil:   e.staleUntil,
		recheckAfter: recheckAfter,
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
