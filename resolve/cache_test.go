package resolve

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

func TestCacheTTLBounds(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	cases := []struct {
		name    string
		cache   CacheConfig
		wantTTL uint32 // for the 300 s TLSA RRset at alice.test.
	}{
		{"record TTL", CacheConfig{}, 300},
		{"capped by MaxTTL", CacheConfig{MaxTTL: 100 * time.Second}, 100},
		{"raised by MinTTL", CacheConfig{MinTTL: 600 * time.Second}, 600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := w.start(t)
			clock := newFakeClock()
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors, Cache: tc.cache, Now: clock.Now})
			ctx := testContext(t)
			queries := func() int { return srv.QueryCount("alice.test.", dns.TypeTLSA) }

			res, err := r.Resolve(ctx, "alice.test")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.TLSAInfo.TTL != tc.wantTTL {
				t.Errorf("TTL = %d, want %d", res.TLSAInfo.TTL, tc.wantTTL)
			}

			clock.Advance(time.Duration(tc.wantTTL-1) * time.Second)
			res, err = r.Resolve(ctx, "alice.test")
			if err != nil || !res.FromCache || res.TLSAInfo.TTL != 1 {
				t.Errorf("just before expiry: FromCache=%v TTL=%d err=%v, want cached with TTL 1", res.FromCache, res.TLSAInfo.TTL, err)
			}
			if queries() != 1 {
				t.Errorf("server saw %d TLSA queries before expiry, want 1", queries())
			}

			clock.Advance(2 * time.Second)
			res, err = r.Resolve(ctx, "alice.test")
			if err != nil || res.FromCache {
				t.Errorf("after expiry: FromCache=%v err=%v, want a new lookup", res.FromCache, err)
			}
			if queries() != 2 {
				t.Errorf("server saw %d TLSA queries after expiry, want 2", queries())
			}
			if st := r.Stats(); st.Hits != 2 || st.Misses != 4 {
				t.Errorf("Stats = %+v, want 2 hits and 4 misses", st)
			}
		})
	}
}

// TestNegativeCache checks RFC 2308 caching of NXDOMAIN with the SOA
// minimum (60 s in test., below the SOA's own TTL).
func TestNegativeCache(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	cases := []struct {
		name    string
		cache   CacheConfig
		wantTTL uint32
	}{
		{"SOA minimum", CacheConfig{}, 60},
		{"capped by NegativeMaxTTL", CacheConfig{NegativeMaxTTL: 10 * time.Second}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := w.start(t)
			clock := newFakeClock()
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors, Cache: tc.cache, Now: clock.Now})
			ctx := testContext(t)

			res, err := r.Resolve(ctx, "nobody.test")
			if err != nil || !res.TLSAInfo.NXDomain || res.TLSAInfo.TTL != tc.wantTTL {
				t.Fatalf("Resolve = NXDomain %v TTL %d err %v, want NXDOMAIN with TTL %d", res.TLSAInfo.NXDomain, res.TLSAInfo.TTL, err, tc.wantTTL)
			}
			clock.Advance(time.Duration(tc.wantTTL-1) * time.Second)
			if res, _ := r.Resolve(ctx, "nobody.test"); !res.FromCache || !res.TLSAInfo.NXDomain {
				t.Errorf("denial not served from the cache before its TTL ended")
			}
			clock.Advance(2 * time.Second)
			if res, _ := r.Resolve(ctx, "nobody.test"); res.FromCache {
				t.Errorf("denial served from the cache after its TTL ended")
			}
			if got := srv.QueryCount("nobody.test.", dns.TypeTLSA); got != 2 {
				t.Errorf("server saw %d TLSA queries, want 2", got)
			}
		})
	}
}

// TestNegativeWithoutSOANotCached checks RFC 2308, section 5: a denial
// without an SOA record is not cached.
func TestNegativeWithoutSOANotCached(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	srv.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		_ = rw.WriteMsg(m)
		return true
	})
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Policy: AcceptInsecure})
	for range 2 {
		res, err := r.Resolve(testContext(t), "nobody.test")
		if err != nil || !res.TLSAInfo.NXDomain || res.FromCache {
			t.Fatalf("Resolve = %+v, %v, want an uncached NXDOMAIN", res, err)
		}
	}
	if got := srv.QueryCount("nobody.test.", dns.TypeTLSA); got != 2 {
		t.Errorf("server saw %d queries, want 2", got)
	}
}

// TestServeStale walks one RRset through RFC 8767: stale after an upstream
// failure, no queries during the recheck time, a retry after it, and an
// error once the stale window has passed.
func TestServeStale(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	clock := newFakeClock()
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors, Now: clock.Now,
		Cache: CacheConfig{StaleWindow: time.Hour}})
	ctx := testContext(t)
	queries := func() int { return srv.QueryCount("alice.test.", dns.TypeTLSA) }

	if _, err := r.Resolve(ctx, "alice.test"); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	srv.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		_ = rw.WriteMsg(m)
		return true
	})

	clock.Advance(301 * time.Second)
	res, err := r.Resolve(ctx, "alice.test")
	if err != nil {
		t.Fatalf("Resolve after failure: %v, want a stale answer", err)
	}
	if !res.Stale || !res.TLSAInfo.Stale || res.TLSAInfo.TTL != 30 || len(res.TLSA) != 2 {
		t.Errorf("stale result = Stale %v TTL %d with %d TLSA, want stale, TTL 30, 2 records", res.Stale, res.TLSAInfo.TTL, len(res.TLSA))
	}
	if queries() != 2 {
		t.Errorf("server saw %d queries, want 2", queries())
	}

	clock.Advance(10 * time.Second)
	if res, err := r.Resolve(ctx, "alice.test"); err != nil || !res.Stale {
		t.Errorf("within the recheck time: Stale %v err %v, want stale", res.Stale, err)
	}
	if queries() != 2 {
		t.Errorf("server queried within the recheck time (%d queries)", queries())
	}

	clock.Advance(30 * time.Second)
	if res, err := r.Resolve(ctx, "alice.test"); err != nil || !res.Stale {
		t.Errorf("after the recheck time: Stale %v err %v, want stale", res.Stale, err)
	}
	if queries() != 3 {
		t.Errorf("server saw %d queries after the recheck time, want 3", queries())
	}
	if st := r.Stats(); st.StaleServed != 6 {
		t.Errorf("StaleServed = %d, want 6", st.StaleServed)
	}

	clock.Advance(2 * time.Hour)
	_, err = r.Resolve(ctx, "alice.test")
	var le *LookupError
	if !errors.As(err, &le) || le.Kind != KindServFail {
		t.Errorf("after the stale window: error %v, want servfail", err)
	}
}

// TestServeStaleSlowUpstream checks the client response timer: a stale
// RRset is served when the upstream does not answer in StaleAnswerTimeout.
func TestServeStaleSlowUpstream(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	clock := newFakeClock()
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Policy: AcceptInsecure, Now: clock.Now, Timeout: time.Second,
		Cache: CacheConfig{StaleWindow: time.Hour, StaleAnswerTimeout: time.Millisecond}})
	ctx := testContext(t)
	if _, err := r.Resolve(ctx, "alice.test"); err != nil {
		t.Fatalf("Resolve: %v", err)
	}

	srv.SetHandler(func(dns.ResponseWriter, *dns.Msg) bool { return true }) // never answers
	clock.Advance(301 * time.Second)
	res, err := r.Resolve(ctx, "alice.test")
	if err != nil || !res.Stale {
		t.Fatalf("Resolve = Stale %v err %v, want a stale answer", res.Stale, err)
	}
}

// TestSingleflight holds the upstream until every caller has joined the
// lookup, then checks that one query per RRset reached the server.
func TestSingleflight(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	release := make(chan struct{})
	srv.SetHandler(func(dns.ResponseWriter, *dns.Msg) bool {
		<-release
		return false
	})
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Policy: AcceptInsecure})

	const callers = 8
	var joined sync.WaitGroup
	joined.Add(2 * callers) // one TLSA and one TXT lookup per caller
	r.afterJoin = joined.Done

	results := make([]*Result, callers)
	errs := make([]error, callers)
	var done sync.WaitGroup
	for i := range callers {
		done.Add(1)
		go func() {
			defer done.Done()
			results[i], errs[i] = r.Resolve(context.Background(), "alice.test")
		}()
	}
	joined.Wait()
	close(release)
	done.Wait()

	for i := range callers {
		if errs[i] != nil || len(results[i].TLSA) != 2 || results[i].ATProto.DID != didAlice {
			t.Errorf("caller %d: %v, %+v", i, errs[i], results[i])
		}
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"alice.test.", dns.TypeTLSA}, {"_atproto.alice.test.", dns.TypeTXT}} {
		if got := srv.QueryCount(q.name, q.qtype); got != 1 {
			t.Errorf("server saw %d queries for %s, want 1", got, q.name)
		}
	}
	if st := r.Stats(); st.Deduplicated != 2*(callers-1) {
		t.Errorf("Deduplicated = %d, want %d", st.Deduplicated, 2*(callers-1))
	}
}

// TestCacheSizeBound fills a four-entry cache with three handles and checks
// that the least recently used handle was evicted.
func TestCacheSizeBound(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	clock := newFakeClock()
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors, Now: clock.Now,
		Cache: CacheConfig{MaxEntries: 4}})
	ctx := testContext(t)
	resolve := func(h handle.Handle) *Result {
		t.Helper()
		res, err := r.Resolve(ctx, h)
		if err != nil {
			t.Fatalf("Resolve %s: %v", h, err)
		}
		clock.Advance(time.Second)
		return res
	}

	resolve("alice.test")
	resolve("carol.nsec3.test")
	if !resolve("alice.test").FromCache {
		t.Fatal("alice.test not cached")
	}
	resolve("notlsa.test") // evicts carol.nsec3.test, used least recently

	if st := r.Stats(); st.Entries != 4 || st.Evictions != 2 {
		t.Errorf("Stats = %+v, want 4 entries after 2 evictions", st)
	}
	if !resolve("alice.test").FromCache {
		t.Error("alice.test was evicted although used recently")
	}
	if resolve("carol.nsec3.test").FromCache {
		t.Error("carol.nsec3.test still cached, want it evicted")
	}
}

func TestCacheDisabled(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors, Cache: CacheConfig{Disabled: true}})
	for range 2 {
		res, err := r.Resolve(testContext(t), "alice.test")
		if err != nil || res.FromCache || res.TLSAInfo.TTL != 300 {
			t.Fatalf("Resolve = FromCache %v TTL %d err %v, want a fresh answer", res.FromCache, res.TLSAInfo.TTL, err)
		}
	}
	if got := srv.QueryCount("alice.test.", dns.TypeTLSA); got != 2 {
		t.Errorf("server saw %d queries, want 2", got)
	}
}

// TestCacheHitAllocations checks the design goal of the hit path:
// ResolveInto on cached RRsets allocates nothing.
func TestCacheHitAllocations(t *testing.T) {
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})
	ctx := testContext(t)
	var res Result
	if err := r.ResolveInto(ctx, "alice.test", &res); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := r.ResolveInto(ctx, "alice.test", &res); err != nil || !res.FromCache {
			t.Fatalf("ResolveInto = FromCache %v err %v", res.FromCache, err)
		}
	})
	if allocs != 0 {
		t.Errorf("cache hit allocates %.1f times, want 0", allocs)
	}
}

func TestCacheConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cache CacheConfig
		field string
	}{
		{"negative size", CacheConfig{MaxEntries: -1}, "Cache.MaxEntries"},
		{"negative window", CacheConfig{StaleWindow: -time.Second}, "Cache"},
		{"MinTTL above MaxTTL", CacheConfig{MinTTL: time.Hour, MaxTTL: time.Minute}, "Cache.MinTTL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Config{Servers: []string{"127.0.0.1"}, Cache: tc.cache})
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("New error = %v, want *ConfigError on %s", err, tc.field)
			}
		})
	}
}
