package dnsserver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// zoneReader is the part of the store that the tracker reads serials and
// journal steps from.
type zoneReader interface {
	ZoneSerial(ctx context.Context, zone string) (uint32, error)
	Diffs(ctx context.Context, zone string, fromSerial uint32) ([]store.Diff, error)
}

// trackedZone is one zone the server serves: the serial last read from
// the store and the cache of its names.
type trackedZone struct {
	name      string
	nameBytes []byte // name, for comparisons with names in byte slices

	// mu lets one goroutine at a time read the serial and apply a change.
	mu    sync.Mutex
	state atomic.Pointer[zoneState]

	// epoch grows before cached data of the zone is dropped. See zoneCache.
	epoch atomic.Uint64
	cache atomic.Pointer[zoneCache]
}

// zoneState is the serial of a zone and when the read that returned it
// started.
type zoneState struct {
	serial  uint32
	fetched time.Time
}

// zoneSet tracks the serials of the served zones and keeps their caches in
// step with the store.
type zoneSet struct {
	src       zoneReader
	refresh   time.Duration
	now       func() time.Time
	cacheSize int
	list      []*trackedZone
	byName    map[string]*trackedZone
}

func newZoneSet(src zoneReader, zones []string, refresh time.Duration, cacheSize int) *zoneSet {
	zs := &zoneSet{src: src, refresh: refresh, now: time.Now, cacheSize: cacheSize, byName: map[string]*trackedZone{}}
	for _, name := range zones {
		z := &trackedZone{name: name, nameBytes: []byte(name)}
		z.cache.Store(newZoneCache(cacheSize))
		zs.list = append(zs.list, z)
		zs.byName[name] = z
	}
	return zs
}

// current returns the state of z, reading the serial from the store when
// the remembered one is older than the refresh interval.
func (zs *zoneSet) current(ctx context.Context, z *trackedZone) (*zoneState, error) {
	now := zs.now()
	if st := z.state.Load(); st != nil && now.Sub(st.fetched) < zs.refresh {
		return st, nil
	}
	return zs.reload(ctx, z, now)
}

// fresh returns the state of z when it is younger than the refresh
// interval, and nil otherwise. It never reads the store.
func (zs *zoneSet) fresh(z *trackedZone, now time.Time) *zoneState {
	st := z.state.Load()
	if st == nil || now.Sub(st.fetched) >= zs.refresh {
		return nil
	}
	return st
}

// reload reads the serial of z from the store, unless a read that started
// at or after since has already done so, and drops from the cache what
// changed since the serial before.
func (zs *zoneSet) reload(ctx context.Context, z *trackedZone, since time.Time) (*zoneState, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	old := z.state.Load()
	if old != nil && !old.fetched.Before(since) {
		return old, nil
	}

	// The state records when the read started, so that a caller who
	// committed a change before since never gets a serial read before it.
	started := zs.now()
	serial, err := zs.src.ZoneSerial(ctx, z.name)
	if err != nil {
		return nil, err
	}
	if old != nil && old.serial != serial {
		zs.dropChanged(ctx, z, old.serial)
	}
	st := &zoneState{serial: serial, fetched: started}
	z.state.Store(st)
	return st, nil
}

// forget makes the next query of z read its serial from the store.
func (zs *zoneSet) forget(z *trackedZone) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if old := z.state.Load(); old != nil {
		z.state.Store(&zoneState{serial: old.serial})
	}
}

// dropChanged removes from the cache of z every name that the journal
// steps since serial from touched, and the NSEC3 predecessors when the
// chain changed. When the journal does not reach back to from, or the
// change is larger than the cache, it empties the cache instead.
func (zs *zoneSet) dropChanged(ctx context.Context, z *trackedZone, from uint32) {
	z.epoch.Add(1)
	diffs, err := zs.src.Diffs(ctx, z.name, from)
	rows := 0
	for _, d := range diffs {
		rows += len(d.Deleted) + len(d.Added)
	}
	if err != nil || rows > 4*zs.cacheSize {
		z.cache.Store(newZoneCache(zs.cacheSize))
		return
	}

	cache := z.cache.Load()
	chainChanged := false
	seen := map[string]bool{}
	for _, d := range diffs {
		for _, list := range [][]store.RR{d.Deleted, d.Added} {
			for _, row := range list {
				if row.Type == dns.TypeNSEC3 || (row.Type == dns.TypeRRSIG && row.Covered == dns.TypeNSEC3) {
					chainChanged = true
				}
				if !seen[row.Name] {
					seen[row.Name] = true
					cache.remove(row.Name)
				}
			}
		}
	}
	if chainChanged {
		cache.preds.clear()
	}
}

// keepFresh reads the serial of each zone again once it is half the
// refresh interval old, until ctx ends, so that the fast path, which
// never reads the store, rarely finds a serial too old to use.
func (zs *zoneSet) keepFresh(ctx context.Context, logError func(zone string, err error)) {
	tick := time.NewTicker(max(zs.refresh/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, z := range zs.list {
			now := zs.now()
			if st := z.state.Load(); st != nil && now.Sub(st.fetched) < zs.refresh/2 {
				continue
			}
			if _, err := zs.reload(ctx, z, now); err != nil && ctx.Err() == nil {
				logError(z.name, err)
			}
		}
	}
}
