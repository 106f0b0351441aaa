package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/store/storetest"
)

// benchIdentities is the number of identities of the benchmark store:
// 100000 identities make 800000 zone records.
const benchIdentities = 100000

var (
	benchOnce  sync.Once
	benchDir   string
	benchPath  string
	benchError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchStore opens the SQLite store of the benchmarks, which the first call
// fills with benchIdentities identities. With DNSHANDLE_STORE_BENCH_DB set to
// a path, the database is kept there and reused by later runs.
func benchStore(b *testing.B) *store.SQLite {
	b.Helper()
	benchOnce.Do(func() {
		benchPath = os.Getenv("DNSHANDLE_STORE_BENCH_DB")
		if benchPath != "" {
			if _, err := os.Stat(benchPath); err == nil {
				return
			}
		} else {
			benchDir, benchError = os.MkdirTemp("", "dnshandle-store-bench-")
			if benchError != nil {
				return
			}
			benchPath = filepath.Join(benchDir, "bench.db")
		}
		st, err := store.OpenSQLite(context.Background(), benchPath)
		if err != nil {
			benchError = err
			return
		}
		start := time.Now()
		_, benchError = storetest.Populate(context.Background(), st, storetest.Population{Identities: benchIdentities})
		b.Logf("populated %d identities in %v", benchIdentities, time.Since(start).Round(time.Millisecond))
		if err := st.Close(); benchError == nil {
			benchError = err
		}
	})
	if benchError != nil {
		b.Fatalf("prepare benchmark store: %v", benchError)
	}
	st, err := store.OpenSQLite(b.Context(), benchPath)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkSQLiteLookup measures the zone lookups of the authoritative
// server on a store of benchIdentities identities against the baseline of a
// SELECT 1 round trip (Ping) on the same read connections. Each iteration
// runs one lookup and one baseline query and times them apart, so the
// ratio compares the two under the same conditions.
func BenchmarkSQLiteLookup(b *testing.B) {
	st := benchStore(b)
	ctx := b.Context()
	random := rand.New(rand.NewPCG(7, 7))
	owners := make([]string, 1024)
	hashes := make([]string, len(owners))
	for i := range owners {
		owners[i] = storetest.PopulatedOwner(storetest.DefaultPopulationZone, random.IntN(benchIdentities))
		hashes[i] = strings.ToLower(dns.HashName(fmt.Sprintf("absent%d.dhp.test.", i), dns.SHA1, 0, ""))
	}

	lookups := []struct {
		name string
		run  func(i int) error
	}{
		{"LookupName", func(i int) error {
			rrs, err := st.LookupName(ctx, storetest.DefaultPopulationZone, owners[i%len(owners)])
			if err == nil && len(rrs) != 2 {
				err = fmt.Errorf("LookupName(%s) returned %d records, want TLSA and its RRSIG", owners[i%len(owners)], len(rrs))
			}
			return err
		}},
		{"LookupNSEC3", func(i int) error {
			_, err := st.LookupNSEC3(ctx, storetest.DefaultPopulationZone, hashes[i%len(hashes)])
			return err
		}},
		{"NameExistsBelow", func(i int) error {
			_, err := st.NameExistsBelow(ctx, storetest.DefaultPopulationZone, owners[i%len(owners)])
			return err
		}},
	}
	for _, l := range lookups {
		b.Run(l.name, func(b *testing.B) {
			var lookup, baseline time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				if err := st.Ping(ctx); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := l.run(i); err != nil {
					b.Fatal(err)
				}
				lookup += time.Since(t1)
				baseline += t1.Sub(t0)
				i++
			}
			b.ReportMetric(float64(lookup.Nanoseconds())/float64(i), "ns/lookup")
			b.ReportMetric(float64(baseline.Nanoseconds())/float64(i), "ns/select1")
			b.ReportMetric(float64(lookup)/float64(baseline), "lookup/select1")
		})
	}
}

// TestSQLiteScale measures the start-up and lookup time of a SQLite store
// with many identities. It runs only when DNSHANDLE_STORE_SCALE names the
// number of identities, because filling a million takes minutes and
// gigabytes of disk. With DNSHANDLE_STORE_SCALE_DB set to a path it keeps
// the database there and reuses it on the next run. It logs its
// measurements and asserts none of them.
func TestSQLiteScale(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("DNSHANDLE_STORE_SCALE"))
	if err != nil || n <= 0 {
		t.Skip("set DNSHANDLE_STORE_SCALE to a number of identities to run this measurement")
	}
	path := os.Getenv("DNSHANDLE_STORE_SCALE_DB")
	if path == "" {
		path = filepath.Join(t.TempDir(), "scale.db")
	}
	ctx := t.Context()

	if _, err := os.Stat(path); err != nil {
		st, err := store.OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		p, err := storetest.Populate(ctx, st, storetest.Population{Identities: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("populated %d identities (%d zone records) in %v", n, p.Records, time.Since(start).Round(time.Millisecond))
		start = time.Now()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("closed (WAL checkpoint) in %v", time.Since(start).Round(time.Millisecond))
	}
	if info, err := os.Stat(path); err == nil {
		t.Logf("database file: %d MB", info.Size()>>20)
	}

	start := time.Now()
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	serial, err := st.ZoneSerial(ctx, storetest.DefaultPopulationZone)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("opened and read the zone serial %d in %v", serial, time.Since(start).Round(time.Microsecond))

	random := rand.New(rand.NewPCG(3, 3))
	const lookups = 20000
	start = time.Now()
	for range lookups {
		owner := storetest.PopulatedOwner(storetest.DefaultPopulationZone, random.IntN(n))
		rrs, err := st.LookupName(ctx, storetest.DefaultPopulationZone, owner)
		if err != nil || len(rrs) != 2 {
			t.Fatalf("LookupName(%s) = %d records, %v", owner, len(rrs), err)
		}
	}
	t.Logf("LookupName of random handles, first %d after opening (cold cache): %v each", lookups, time.Since(start)/lookups)

	start = time.Now()
	walked := 0
	err = st.WalkZone(ctx, storetest.DefaultPopulationZone, func(store.RR) error {
		walked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("WalkZone of %d records: %v", walked, time.Since(start).Round(time.Millisecond))
}
