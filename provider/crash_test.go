package provider

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/store"
)

// crashChildEnv makes the test binary run crashChild instead of the tests.
const crashChildEnv = "DNSHANDLE_CRASH_CHILD_DATA"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild creates identities h0.dhp.test, h1.dhp.test, ... in dir until
// it is killed, printing "created N" after each committed one.
func crashChild(dir string) {
	ctx := context.Background()
	cfg := crashConfig(dir)
	svc, err := Open(ctx, cfg)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		h := handle.Handle(fmt.Sprintf("h%d.dhp.test", i))
		if _, err := svc.CreateIdentity(ctx, "alice", h, IdentityOptions{}); err != nil {
			fmt.Println("create:", err)
			os.Exit(2)
		}
		fmt.Printf("created %d\n", i+1)
	}
}

func crashConfig(dir string) *Config {
	cfg := &Config{DataDir: dir, DNS: DNSConfig{Zones: []ZoneConfig{{Name: "dhp.test"}}}}
	if err := cfg.Normalize(); err != nil {
		panic(err)
	}
	return cfg
}

// TestCrashDuringIdentityCreation kills (SIGKILL) a process in the middle
// of a stream of identity creations, reopens the store and checks that
// every identity has its signed records in the zone, that no record is
// left without its identity, and that the NSEC3 chain is whole.
func TestCrashDuringIdentityCreation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DNSHANDLE_KEK", hex.EncodeToString(kek))
	dir := t.TempDir()

	svc, err := Open(ctx, crashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureZones(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAccount(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	svc.Close()

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	reported := 0
	lines := bufio.NewScanner(stdout)
	deadline := time.Now().Add(60 * time.Second)
	for reported < 60 && time.Now().Before(deadline) && lines.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "created "))
		if err != nil {
			t.Fatalf("child: %s", lines.Text())
		}
		reported = n
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if reported < 60 {
		t.Fatalf("the child created only %d identities before the deadline", reported)
	}

	svc, err = Open(ctx, crashConfig(dir))
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer svc.Close()
	checkZoneConsistent(t, svc, reported)
}

// checkZoneConsistent checks the store after a crash: at least committed
// identities, each with its records and signatures, no orphan records,
// and a closed NSEC3 chain covering every name.
func checkZoneConsistent(t *testing.T, svc *Service, committed int) {
	t.Helper()
	ctx := context.Background()
	ids, err := svc.Store.Identities(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < committed {
		t.Fatalf("store holds %d identities, but the child reported %d committed", len(ids), committed)
	}
	handles := map[string]bool{}
	for _, id := range ids {
		handles[id.Handle+"."] = true
		for _, want := range []struct {
			name string
			typ  uint16
		}{{id.Handle + ".", dns.TypeTLSA}, {"_atproto." + id.Handle + ".", dns.TypeTXT}} {
			rrs, err := svc.Store.LookupName(ctx, "dhp.test.", want.name)
			if err != nil {
				t.Fatalf("LookupName(%s): %v", want.name, err)
			}
			if !hasRR(rrs, want.typ, 0) || !hasRR(rrs, dns.TypeRRSIG, want.typ) {
				t.Errorf("identity %s: %s lacks its %s record or its RRSIG", id.Handle, want.name, dns.TypeToString[want.typ])
			}
		}
	}

	hashes := map[string]string{} // owner hash -> next hash
	names := map[string]bool{}
	err = svc.Store.WalkZone(ctx, "dhp.test.", func(rr store.RR) error {
		switch rr.Type {
		case dns.TypeNSEC3:
			fields := strings.Fields(rr.Data)
			hashes[strings.ToLower(rr.Hash)] = strings.ToLower(fields[4])
		case dns.TypeRRSIG:
		default:
			names[rr.Name] = true
		}
		if rr.Type == dns.TypeTLSA && !handles[rr.Name] {
			t.Errorf("TLSA at %s has no identity in the store", rr.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range names {
		h := strings.ToLower(dns.HashName(name, dns.SHA1, 0, ""))
		if _, ok := hashes[h]; !ok {
			t.Errorf("no NSEC3 record for %s (hash %s)", name, h)
		}
	}
	// Following next-hash links from any NSEC3 must visit all of them once.
	var start string
	for h := range hashes {
		start = h
		break
	}
	seen := 0
	for h := start; ; {
		seen++
		next, ok := hashes[h]
		if !ok {
			t.Fatalf("NSEC3 chain broken: next hash %s has no NSEC3 record", h)
		}
		if next == start || seen > len(hashes) {
			break
		}
		h = next
	}
	if seen != len(hashes) {
		t.Errorf("NSEC3 chain visits %d of %d records", seen, len(hashes))
	}
}

func hasRR(rrs []store.RR, typ, covered uint16) bool {
	for _, rr := range rrs {
		if rr.Type == typ && rr.Covered == covered {
			return true
		}
	}
	return false
}
