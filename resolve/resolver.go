package resolve

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve/dnssec"
)

// Status is the DNSSEC status of an RRset.
type Status = dnssec.Status

// DNSSEC statuses, re-exported from resolve/dnssec.
const (
	Indeterminate = dnssec.Indeterminate
	Secure        = dnssec.Secure
	Insecure      = dnssec.Insecure
	Bogus         = dnssec.Bogus
)

// RRsetInfo describes how one RRset of a Result was found.
type RRsetInfo struct {
	Name     string // owner name queried, absolute ("alice.example.")
	Type     uint16 // dns.TypeTLSA or dns.TypeTXT
	Rcode    int    // rcode of the last response, dns.RcodeSuccess or dns.RcodeNameError
	NoData   bool   // the name exists but has no RRset of this type
	NXDomain bool   // the name (or the last CNAME target) does not exist
	// TTL is the remaining time in seconds the RRset may be used: the
	// minimum over the RRset and its CNAMEs, or the negative TTL of
	// RFC 2308 for a denial, within the cache's bounds. It is StaleTTL for
	// stale answers.
	TTL    uint32
	Status Status // DNSSEC status
	Reason string // explanation of the status, one line
	CNAMEs []string
	Server string // upstream that sent the last response, or "snapshot"
	Stale  bool   // served from an expired cache entry because upstreams failed
}

// Result is the outcome of Resolve for a handle. Its slices are shared with
// the cache and must not be modified.
type Result struct {
	Handle handle.Handle
	// TLSA holds the TLSA RRset at <handle>. It is nil for a denial and when
	// the RRset failed the DNSSEC policy.
	TLSA     []records.TLSA
	TLSAInfo RRsetInfo
	// ATProto holds the attributes of the TXT RRset at _atproto.<handle>.
	// It is empty for a denial, when the RRset failed the DNSSEC policy and
	// when ATProtoErr is set.
	ATProto     records.ATProto
	ATProtoInfo RRsetInfo
	// ATProtoErr reports a TXT RRset that cannot be read, such as
	// *records.AmbiguousError for two different did= values. Resolve still
	// returns a nil error for it, because the TLSA RRset may be usable.
	ATProtoErr error
	FromCache  bool // both RRsets came from the cache
	Stale      bool // at least one RRset was served stale
}

// Resolver resolves handles to their TLSA and _atproto TXT RRsets through a
// cache. It is safe for concurrent use.
type Resolver struct {
	upstreams []*upstream
	env       env
	policy    Policy
	timeout   time.Duration
	now       func() time.Time
	cacheCfg  CacheConfig
	anchors   []dns.RR

	cache   *cache // nil when disabled
	flights flightGroup
	dedup   atomic.Uint64
	errs    atomic.Uint64
	offline bool

	// afterJoin, when set by tests, runs after a lookup has started or
	// joined its shared flight.
	afterJoin func()
}

// New checks cfg, applies its defaults and returns a Resolver. Errors are
// *ConfigError.
func New(cfg Config) (*Resolver, error) {
	r := &Resolver{policy: cfg.Policy, timeout: cfg.Timeout, now: cfg.Now, cacheCfg: cfg.Cache, anchors: cfg.TrustAnchors}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.now == nil {
		r.now = time.Now
	}
	if err := r.applyCacheDefaults(); err != nil {
		return nil, err
	}

	if cfg.Snapshot != nil {
		r.offline = true
		r.env.src = cfg.Snapshot
	} else {
		ups, err := parseUpstreams(&cfg)
		if err != nil {
			return nil, err
		}
		r.upstreams = ups
		r.env.src = &netSource{ups: ups, checkingDisabled: len(cfg.TrustAnchors) > 0}
	}
	r.env.validator = r.newValidator(r.env.src)

	if !r.cacheCfg.Disabled && !r.offline {
		r.cache = newCache(r.cacheCfg.MaxEntries)
	}
	return r, nil
}

func (r *Resolver) applyCacheDefaults() error {
	c := &r.cacheCfg
	if c.MaxEntries < 0 {
		return &ConfigError{Field: "Cache.MaxEntries", Value: itoa(c.MaxEntries), Reason: "must not be negative"}
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.NegativeMaxTTL == 0 {
		c.NegativeMaxTTL = DefaultNegativeMaxTTL
	}
	if c.StaleAnswerTimeout == 0 {
		c.StaleAnswerTimeout = DefaultStaleAnswerTimeout
	}
	if c.MinTTL < 0 || c.MaxTTL < 0 || c.NegativeMaxTTL < 0 || c.StaleWindow < 0 {
		return &ConfigError{Field: "Cache", Value: "negative duration", Reason: "TTL bounds and StaleWindow must not be negative"}
	}
	if c.MinTTL > c.MaxTTL {
		return &ConfigError{Field: "Cache.MinTTL", Value: c.MinTTL.String(), Reason: "must not exceed MaxTTL " + c.MaxTTL.String()}
	}
	return nil
}

// newValidator returns a validator that fetches through src, or nil when no
// trust anchors are configured.
func (r *Resolver) newValidator(src source) *dnssec.Validator {
	if len(r.anchors) == 0 {
		return nil
	}
	return &dnssec.Validator{Anchors: r.anchors, Exchanger: exchanger{src: src}, Now: r.now}
}

// Resolve looks up the TLSA RRset at <h> and the TXT RRset at
// _atproto.<h> in parallel, through the cache.
//
// Errors: *LookupError when a query failed (after serve-stale, if enabled),
// *BogusError for a bogus RRset, and *InsecureError for an insecure or
// indeterminate RRset under RequireSecure; two errors are joined with
// errors.Join. With an error, Resolve still returns a Result describing
// what was found, for diagnosis; it must not be used to authenticate.
// An ambiguous TXT RRset is reported in Result.ATProtoErr, not as an error.
// The lookups end at the context deadline or after Config.Timeout.
func (r *Resolver) Resolve(ctx context.Context, h handle.Handle) (*Result, error) {
	res := new(Result)
	err := r.ResolveInto(ctx, h, res)
	return res, err
}

// ResolveInto is Resolve writing into dst, which it overwrites. When both
// RRsets are cached it allocates nothing.
func (r *Resolver) ResolveInto(ctx context.Context, h handle.Handle, dst *Result) error {
	if err := ctx.Err(); err != nil {
		*dst = Result{Handle: h}
		return classify(ctx, nil, err, records.OwnerTLSA(h), dns.TypeTLSA, "")
	}

	now := r.now()
	var tlsa, txt *entry
	if r.cache != nil {
		tlsa = r.cache.get(cacheKey{string(h), dns.TypeTLSA}, now)
		txt = r.cache.get(cacheKey{string(h), dns.TypeTXT}, now)
		if servable(tlsa, now) && servable(txt, now) {
			return r.fill(dst, h, tlsa, txt, !tlsa.fresh(now), !txt.fresh(now), true, now)
		}
	}
	return r.resolveMiss(ctx, h, dst, tlsa, txt, now)
}

// servable reports whether a cached entry may answer without a lookup.
func servable(e *entry, now time.Time) bool {
	return e != nil && (e.fresh(now) || (e.staleUsable(now) && now.Before(e.recheckAfter)))
}

// resolveMiss looks up the RRsets that the cache could not serve, the TLSA
// lookup in a second goroutine.
func (r *Resolver) resolveMiss(ctx context.Context, h handle.Handle, dst *Result, tlsa, txt *entry, now time.Time) error {
	if _, err := handle.ParseSyntax(string(h)); err != nil {
		*dst = Result{Handle: h}
		return err
	}

	tlsaStale, txtStale := tlsa != nil && !tlsa.fresh(now), txt != nil && !txt.fresh(now)
	var tlsaErr, txtErr error
	var wg sync.WaitGroup
	if !servable(tlsa, now) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tlsa, tlsaStale, tlsaErr = r.lookupEntry(ctx, h, dns.TypeTLSA, tlsa)
		}()
	}
	if !servable(txt, now) {
		txt, txtStale, txtErr = r.lookupEntry(ctx, h, dns.TypeTXT, txt)
	}
	wg.Wait()

	if tlsaErr != nil || txtErr != nil {
		r.fillPartial(dst, h, tlsa, txt, tlsaStale, txtStale, tlsaErr, txtErr)
		return errors.Join(tlsaErr, txtErr)
	}
	return r.fill(dst, h, tlsa, txt, tlsaStale, txtStale, false, r.now())
}

// fill copies two entries into dst and returns their policy errors.
// fromCache is true when neither needed a lookup.
func (r *Resolver) fill(dst *Result, h handle.Handle, tlsa, txt *entry, tlsaStale, txtStale, fromCache bool, now time.Time) error {
	*dst = Result{Handle: h, FromCache: fromCache, Stale: tlsaStale || txtStale}
	fillInfo(&dst.TLSAInfo, tlsa, tlsaStale, now)
	fillInfo(&dst.ATProtoInfo, txt, txtStale, now)
	if tlsa.err == nil {
		dst.TLSA = tlsa.tlsa
	}
	if txt.err == nil {
		dst.ATProto, dst.ATProtoErr = txt.atproto, txt.atprotoErr
	}

	switch {
	case tlsa.err != nil && txt.err != nil:
		return errors.Join(tlsa.err, txt.err)
	case tlsa.err != nil:
		return tlsa.err
	}
	return txt.err
}

// fillInfo copies the RRset description of e with its remaining TTL at now,
// rounded up to whole seconds, or StaleTTL for a stale entry.
func fillInfo(dst *RRsetInfo, e *entry, stale bool, now time.Time) {
	*dst = e.info
	if stale {
		dst.Stale = true
		dst.TTL = uint32(StaleTTL / time.Second)
		return
	}
	dst.TTL = uint32(max(e.expires.Sub(now)+time.Second-1, 0) / time.Second)
}

// fillPartial describes a failed resolution: the RRsets that were found
// keep their info, the failed ones only their name and type.
func (r *Resolver) fillPartial(dst *Result, h handle.Handle, tlsa, txt *entry, tlsaStale, txtStale bool, tlsaErr, txtErr error) {
	*dst = Result{Handle: h}
	now := r.now()
	dst.TLSAInfo = RRsetInfo{Name: records.OwnerTLSA(h), Type: dns.TypeTLSA}
	dst.ATProtoInfo = RRsetInfo{Name: records.OwnerATProto(h), Type: dns.TypeTXT}
	if tlsaErr == nil && tlsa != nil {
		fillInfo(&dst.TLSAInfo, tlsa, tlsaStale, now)
	}
	if txtErr == nil && txt != nil {
		fillInfo(&dst.ATProtoInfo, txt, txtStale, now)
		dst.ATProtoErr = txt.atprotoErr
	}
}

// CloseIdleConnections closes the TCP and DNS-over-TLS connections that
// the Resolver keeps open between queries. The Resolver stays usable and
// opens new connections when it needs them.
func (r *Resolver) CloseIdleConnections() {
	if src, ok := r.env.src.(*netSource); ok {
		src.closeIdle()
	}
}

// Stats returns the cache counters. It is safe to call concurrently with
// lookups; the counters are read one by one, not as one snapshot.
func (r *Resolver) Stats() CacheStats {
	var st CacheStats
	if r.cache != nil {
		st = r.cache.stats()
	}
	st.Deduplicated = r.dedup.Load()
	st.Errors = r.errs.Load()
	return st
}
