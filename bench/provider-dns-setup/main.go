// Command provider-dns-setup fills a provider data directory for the
// bench/provider-dns benchmark: the zone dhp.test, one account, and n
// hosted identities h0.dhp.test ... h<n-1>.dhp.test, made one after
// another through provider.Service.CreateIdentity, or with -bulk in one
// provider.Service.ImportIdentities call. It then writes a dnsperf query
// file of TLSA and _atproto TXT queries for random existing handles, with
// about one query in ten for a name that does not exist.
//
// The key-encryption key comes from the environment variable DNSHANDLE_KEK
// (64 hex digits); give the same key to `dnshandle serve` and
// `dnshandle admin zone export` afterwards.
//
// Usage:
//
//	provider-dns-setup -data DIR -n 100000 -queries FILE [-bulk] [-lines 100000] [-seed 1]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider"
	"github.com/dnshandle/dnshandle/records"
)

// zoneName is the provider zone the benchmark fills.
const zoneName = "dhp.test"

// accountName is the account that owns every identity of the benchmark.
const accountName = "bench"

func main() {
	var (
		dataDir = flag.String("data", "", "provider data directory to create (required)")
		n       = flag.Int("n", 100000, "number of identities to create")
		queries = flag.String("queries", "", "dnsperf query file to write (required)")
		lines   = flag.Int("lines", 100000, "number of queries in the query file")
		seed    = flag.Uint64("seed", 1, "seed of the random choice of queried handles")
		bulk    = flag.Bool("bulk", false, "create the identities with one bulk import instead of one by one")
		profile = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	)
	flag.Parse()
	if *dataDir == "" || *queries == "" || *n < 1 || *lines < 1 {
		fmt.Fprintln(os.Stderr, "provider-dns-setup: -data and -queries are required, -n and -lines must be at least 1")
		flag.Usage()
		os.Exit(2)
	}
	if *profile != "" {
		stop, err := startProfile(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "provider-dns-setup:", err)
			os.Exit(1)
		}
		defer stop()
	}
	if err := run(context.Background(), *dataDir, *n, *queries, *lines, *seed, *bulk); err != nil {
		fmt.Fprintln(os.Stderr, "provider-dns-setup:", err)
		os.Exit(1)
	}
}

// startProfile starts a CPU profile written to path and returns the
// function that ends it.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// run creates the zone, the account and n identities in dataDir, then
// writes the query file.
func run(ctx context.Context, dataDir string, n int, queries string, lines int, seed uint64, bulk bool) error {
	if os.Getenv("DNSHANDLE_KEK") == "" {
		return fmt.Errorf("environment variable DNSHANDLE_KEK is missing: export the key as 64 hex digits, made with: head -c 32 /dev/urandom | xxd -p -c 64")
	}
	cfg, err := provider.LoadConfig("")
	if err != nil {
		return err
	}
	cfg.DataDir = dataDir
	cfg.DNS.Zones = []provider.ZoneConfig{{Name: zoneName}}
	if err := cfg.Normalize(); err != nil {
		return err
	}
	svc, err := provider.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()

	if _, err := svc.EnsureZones(ctx); err != nil {
		return err
	}
	if _, err := svc.CreateAccount(ctx, accountName, "benchmark password"); err != nil {
		return err
	}
	create := createIdentities
	if bulk {
		create = importIdentities
	}
	if err := create(ctx, svc, n); err != nil {
		return err
	}
	return writeQueries(queries, n, lines, seed)
}

// createIdentities creates h0 ... h<n-1> one at a time (the store has a
// single writer) and prints the progress and the rate to stderr.
func createIdentities(ctx context.Context, svc *provider.Service, n int) error {
	start := time.Now()
	step := max(n/10, 1)
	for i := range n {
		h, err := handle.Parse(fmt.Sprintf("h%d.%s", i, zoneName))
		if err != nil {
			return err
		}
		if _, err := svc.CreateIdentity(ctx, accountName, h, provider.IdentityOptions{}); err != nil {
			return fmt.Errorf("create identity %d of %d: %w", i+1, n, err)
		}
		if (i+1)%step == 0 {
			elapsed := time.Since(start).Seconds()
			fmt.Fprintf(os.Stderr, "created %d/%d identities in %.1fs (%.0f/s)\n", i+1, n, elapsed, float64(i+1)/elapsed)
		}
	}
	elapsed := time.Since(start).Seconds()
	fmt.Printf("identities=%d seconds=%.2f rate_per_s=%.1f ms_each=%.3f\n", n, elapsed, float64(n)/elapsed, elapsed*1000/float64(n))
	return nil
}

// importIdentities creates h0 ... h<n-1> with one bulk import and prints
// the progress and the rate to stderr.
func importIdentities(ctx context.Context, svc *provider.Service, n int) error {
	hs := make([]handle.Handle, n)
	for i := range n {
		h, err := handle.Parse(fmt.Sprintf("h%d.%s", i, zoneName))
		if err != nil {
			return err
		}
		hs[i] = h
	}
	start := time.Now()
	step := max(n/10, 1)
	next := step
	_, err := svc.ImportIdentities(ctx, accountName, hs, provider.IdentityOptions{}, func(done int) {
		if done >= next || done == n {
			elapsed := time.Since(start).Seconds()
			fmt.Fprintf(os.Stderr, "stored %d/%d identities in %.1fs (%.0f/s)\n", done, n, elapsed, float64(done)/elapsed)
			next = done + step
		}
	})
	if err != nil {
		return fmt.Errorf("import %d identities: %w", n, err)
	}
	elapsed := time.Since(start).Seconds()
	fmt.Printf("identities=%d seconds=%.2f rate_per_s=%.1f ms_each=%.3f bulk=true\n", n, elapsed, float64(n)/elapsed, elapsed*1000/float64(n))
	return nil
}

// writeQueries writes lines dnsperf queries ("name type") to path: for
// nine in ten a random existing handle's TLSA or _atproto TXT RRset, for
// the rest the same for a handle that does not exist (NXDOMAIN).
func writeQueries(path string, n, lines int, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for range lines {
		label := fmt.Sprintf("h%d", rng.IntN(n))
		if rng.IntN(10) == 0 {
			label = fmt.Sprintf("missing%d", rng.IntN(n))
		}
		h := handle.Handle(label + "." + zoneName)
		if rng.IntN(2) == 0 {
			fmt.Fprintf(w, "%s TLSA\n", records.OwnerTLSA(h))
		} else {
			fmt.Fprintf(w, "%s TXT\n", records.OwnerATProto(h))
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
