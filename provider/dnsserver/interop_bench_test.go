//go:build interop

package dnsserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/internal/interop"
)

// BenchmarkInteropSecondaryDelay measures how long a new handle takes to
// become visible on a Knot secondary: from the start of the change on the
// primary to the first answer from knotd that holds the handle's TLSA
// record. For this server the change is ReplaceRRsets in its own
// transaction (signing and storing), then Notify, then knotd's IXFR and
// the check of the new zone version (dnssec-validation); knotd is polled
// over UDP every millisecond.
//
// The baseline is the same path between two knotd processes: a Knot
// primary that signs the zone itself (ECDSA P-256, NSEC3 without extra
// iterations or salt), changed with `knotc zone-commit` after the record
// was staged, which sends NOTIFY to a second knotd configured by the same
// interop.StartKnotSecondary. Each iteration adds one handle to each side,
// so machine load hits both alike. Run with -benchtime Nx for N samples.
func BenchmarkInteropSecondaryDelay(b *testing.B) {
	ctx := context.Background()

	// This server as the primary.
	st, signer := newStoreAndSigner(b)
	replace(b, st, signer, handleRRsets(b, "alice.dhp.test."))
	oursPort := interopFreePort(b)
	srv, err := NewServer(st, Config{
		Addr:        "127.0.0.1:0",
		Zones:       []string{testZone},
		TSIG:        map[string]string{testKeyName: testSecret},
		Secondaries: []Secondary{{Addr: fmt.Sprintf("127.0.0.1:%d", oursPort), TSIGName: testKeyName}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(serveCtx) }()
	b.Cleanup(func() { stop(); <-done })
	ours := interop.StartKnotSecondary(b, interop.SecondaryConfig{
		Zone: testZone, Primary: srv.Addr(), TSIGName: testKeyName, TSIGSecret: testSecret, Port: oursPort,
	})
	serial, err := st.ZoneSerial(ctx, testZone)
	if err != nil {
		b.Fatal(err)
	}
	waitFor(b, ours.Addr, testZone, dns.TypeSOA, soaSerialIs(serial))

	// The baseline: a signing Knot primary and its Knot secondary.
	theirsPort := interopFreePort(b)
	primary := startKnotPrimary(b, fmt.Sprintf("127.0.0.1:%d", theirsPort))
	theirs := interop.StartKnotSecondary(b, interop.SecondaryConfig{
		Zone: testZone, Primary: primary.addr, TSIGName: testKeyName, TSIGSecret: testSecret, Port: theirsPort,
	})
	waitFor(b, theirs.Addr, testZone, dns.TypeSOA, func(r *dns.Msg) bool { return r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 })

	var oursDelays, theirsDelays []time.Duration
	i := 0
	for b.Loop() {
		handle := fmt.Sprintf("h%d.dhp.test.", i)
		i++

		start := time.Now()
		replace(b, st, signer, handleRRsets(b, handle))
		if err := srv.Notify(ctx, testZone); err != nil {
			b.Fatalf("Notify: %v", err)
		}
		oursDelays = append(oursDelays, pollTLSA(b, ours.Addr, handle).Sub(start))

		primary.stage(b, handle)
		start = time.Now()
		primary.commit(b)
		theirsDelays = append(theirsDelays, pollTLSA(b, theirs.Addr, handle).Sub(start))
	}
	b.StopTimer()
	reportDelays(b, "dnsserver", oursDelays)
	reportDelays(b, "knot", theirsDelays)
}

// pollTLSA queries addr over UDP every millisecond until it answers with
// the TLSA record of name, and returns the time of that answer. A query
// without a response within 20 ms is sent again, so that a lost datagram
// costs 20 ms of the measure at most. It fails the benchmark after 30
// seconds.
func pollTLSA(b *testing.B, addr, name string) time.Time {
	b.Helper()
	c := &dns.Client{Timeout: 20 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTLSA)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m.Id = dns.Id()
		r, _, err := c.Exchange(m, addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && len(rrsOfType(r.Answer, dns.TypeTLSA)) > 0 {
			return time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatalf("%s TLSA did not appear at %s within 30 seconds", name, addr)
	return time.Time{}
}

// reportDelays reports the 50th, 90th and 95th percentile and the maximum
// of delays, in milliseconds, and how many delays exceeded 100 ms, as
// metrics named after who.
func reportDelays(b *testing.B, who string, delays []time.Duration) {
	if len(delays) == 0 {
		return
	}
	slices.Sort(delays)
	at := func(p float64) float64 {
		i := min(int(p*float64(len(delays))), len(delays)-1)
		return float64(delays[i].Microseconds()) / 1000
	}
	slow := 0
	for _, d := range delays {
		if d > 100*time.Millisecond {
			slow++
		}
	}
	b.ReportMetric(at(0.5), who+"-p50-ms")
	b.ReportMetric(at(0.9), who+"-p90-ms")
	b.ReportMetric(at(0.95), who+"-p95-ms")
	b.ReportMetric(at(1), who+"-max-ms")
	b.ReportMetric(float64(slow), who+"-over-100ms")
}

// knotPrimary is a knotd that serves testZone as a primary, signs it with
// keys of its own and sends NOTIFY to one secondary.
type knotPrimary struct {
	addr  string
	conf  string
	knotc string
}

// startKnotPrimary runs the primary until the benchmark ends. Its
// secondary is at secondaryAddr and uses testKeyName.
func startKnotPrimary(b *testing.B, secondaryAddr string) *knotPrimary {
	b.Helper()
	knotd, err := exec.LookPath("knotd")
	if err != nil {
		b.Skip("knotd not found: install the Debian package knot (make interop does)")
	}
	knotc, err := exec.LookPath("knotc")
	if err != nil {
		b.Skip("knotc not found: install the Debian package knot (make interop does)")
	}
	dir := b.TempDir()
	port := interopFreePort(b)
	host, secPort, err := net.SplitHostPort(secondaryAddr)
	if err != nil {
		b.Fatal(err)
	}
	zoneFile := filepath.Join(dir, "dhp.test.zone")
	zone := "$ORIGIN dhp.test.\n$TTL 300\n@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 300\n@ 3600 IN NS ns1\n" +
		"alice 300 IN TLSA " + aliceTLSA + "\n_atproto.alice 300 IN TXT \"did=" + aliceDID + "\"\n"
	if err := os.WriteFile(zoneFile, []byte(zone), 0o644); err != nil {
		b.Fatal(err)
	}

	var conf strings.Builder
	fmt.Fprintf(&conf, "server:\n    rundir: %q\n    listen: 127.0.0.1@%d\n", dir, port)
	fmt.Fprintf(&conf, "log:\n  - target: stderr\n    any: warning\n")
	fmt.Fprintf(&conf, "database:\n    storage: %q\n", dir)
	fmt.Fprintf(&conf, "key:\n  - id: %s\n    algorithm: hmac-sha256\n    secret: %s\n", testKeyName, testSecret)
	fmt.Fprintf(&conf, "remote:\n  - id: secondary\n    address: %s@%s\n    key: %s\n", host, secPort, testKeyName)
	fmt.Fprintf(&conf, "acl:\n  - id: transfer\n    address: %s\n    key: %s\n    action: transfer\n", host, testKeyName)
	fmt.Fprintf(&conf, "policy:\n  - id: nsec3\n    algorithm: ecdsap256sha256\n    nsec3: on\n    nsec3-iterations: 0\n    nsec3-salt-length: 0\n")
	fmt.Fprintf(&conf, "template:\n  - id: default\n    storage: %q\n    zonefile-sync: -1\n    zonefile-load: difference-no-serial\n    journal-content: all\n", dir)
	fmt.Fprintf(&conf, "zone:\n  - domain: %q\n    file: %q\n    dnssec-signing: on\n    dnssec-policy: nsec3\n    notify: secondary\n    acl: transfer\n", testZone, zoneFile)
	confPath := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		b.Fatal(err)
	}

	cmd := exec.Command(knotd, "-c", confPath)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	p := &knotPrimary{addr: fmt.Sprintf("127.0.0.1:%d", port), conf: confPath, knotc: knotc}
	waitFor(b, p.addr, testZone, dns.TypeDNSKEY, func(r *dns.Msg) bool { return len(rrsOfType(r.Answer, dns.TypeDNSKEY)) > 0 })
	return p
}

// stage opens a zone transaction on the primary and adds the handle's
// TLSA and TXT records to it.
func (p *knotPrimary) stage(b *testing.B, handle string) {
	b.Helper()
	label := strings.TrimSuffix(handle, "."+testZone)
	p.run(b, "zone-begin", testZone)
	p.run(b, "zone-set", testZone, label, "300", "TLSA", aliceTLSA)
	p.run(b, "zone-set", testZone, "_atproto."+label, "300", "TXT", `"did=`+aliceDID+`"`)
}

// commit commits the staged change: knotd signs it and notifies the
// secondary.
func (p *knotPrimary) commit(b *testing.B) {
	b.Helper()
	p.run(b, "zone-commit", testZone)
}

func (p *knotPrimary) run(b *testing.B, args ...string) {
	b.Helper()
	out, err := exec.Command(p.knotc, append([]string{"-c", p.conf}, args...)...).CombinedOutput()
	if err != nil {
		b.Fatalf("knotc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
