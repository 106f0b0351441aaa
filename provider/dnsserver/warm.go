package dnsserver

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// errWarmStop ends a warm-up walk early: the cache is full, or the zone
// changed and the names read so far are out of date.
var errWarmStop = errors.New("warm-up stopped")

// warm loads the owner names of every zone into its cache, one zone after
// the other, and logs how long each took. It runs in the background after
// the server starts, so the first queries do not each wait for a store
// read. Errors are logged; the names left out are read on first use.
func (s *Server) warm(ctx context.Context) {
	for _, z := range s.zoneSet.list {
		start := time.Now()
		names, err := s.warmZone(ctx, z)
		elapsed := time.Since(start)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("loading the zone into the DNS cache failed; names are read on first use", "zone", z.name, "err", err)
			}
			continue
		}
		s.metrics.warmup.WithLabelValues(z.name).Set(elapsed.Seconds())
		s.log.Info("zone loaded into the DNS cache", "zone", z.name, "names", names, "seconds", elapsed.Seconds())
	}
}

// warmZone reads the zone z in canonical order and stores each owner name
// with records other than NSEC3 into the cache, until the cache is full
// or the zone changes, and returns how many names it stored. NSEC3 owners,
// which only negative answers need, are read on first use. Names already
// cached are left as they are.
func (s *Server) warmZone(ctx context.Context, z *trackedZone) (int, error) {
	if _, err := s.zoneSet.current(ctx, z); err != nil {
		return 0, err
	}
	epoch := z.epoch.Load()
	cache := z.cache.Load()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var loaded atomic.Int64
	var firstErr error
	var errOnce sync.Once
	groups := make(chan []store.RR, 256)
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for rows := range groups {
				d, err := parseNameData(rows)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					cancel()
					continue
				}
				if cache.put(rows[0].Name, d, epoch, &z.epoch, false) != nil {
					loaded.Add(1)
				}
			}
		})
	}

	var group []store.RR
	flush := func() error {
		rows := group
		group = nil
		if len(rows) == 0 || nsec3Owner(rows) {
			return nil
		}
		if cache.full() || z.epoch.Load() != epoch {
			return errWarmStop
		}
		select {
		case groups <- rows:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := s.st.WalkZone(ctx, z.name, func(r store.RR) error {
		if len(group) > 0 && group[0].Name != r.Name {
			if err := flush(); err != nil {
				return err
			}
		}
		group = append(group, r)
		return nil
	})
	if err == nil {
		err = flush()
	}
	close(groups)
	workers.Wait()

	if firstErr != nil {
		return int(loaded.Load()), firstErr
	}
	if err != nil && !errors.Is(err, errWarmStop) {
		return int(loaded.Load()), err
	}
	return int(loaded.Load()), nil
}

// nsec3Owner reports whether the rows of one owner name are an NSEC3
// record and its signatures only.
func nsec3Owner(rows []store.RR) bool {
	for _, r := range rows {
		if r.Type != dns.TypeNSEC3 && (r.Type != dns.TypeRRSIG || r.Covered != dns.TypeNSEC3) {
			return false
		}
	}
	return true
}
