//go:build interop

package provider

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/interop"
)

// BenchmarkInteropServeSecondaryDelay measures, through the whole
// provider, how long a new handle takes to become visible. Each sample
// runs from the start of Service.CreateIdentity to the first answer that
// holds the handle's TLSA record, on the provider's own DNS server (the
// baseline) and on a Knot secondary that takes the change over NOTIFY and
// IXFR. CreateIdentity runs on the Service that runs Serve, so Serve
// sends NOTIFY as soon as the change commits, without waiting for
// NotifyPollInterval. Run with -benchtime Nx for N samples.
func BenchmarkInteropServeSecondaryDelay(b *testing.B) {
	ctx := context.Background()
	kek := make([]byte, 32)
	secret := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		b.Fatal(err)
	}
	if _, err := rand.Read(secret); err != nil {
		b.Fatal(err)
	}
	b.Setenv("DNSHANDLE_KEK", hex.EncodeToString(kek))
	tsigSecret := base64.StdEncoding.EncodeToString(secret)
	knotPort := freeBenchPort(b)
	cfg := &Config{
		DataDir: b.TempDir(),
		DNS: DNSConfig{
			Listen:      "127.0.0.1:0",
			Zones:       []ZoneConfig{{Name: "dhp.test"}},
			TSIG:        []TSIGConfig{{Name: "transfer.dhp.test.", Secret: tsigSecret}},
			Secondaries: []SecondaryConfig{{Addr: fmt.Sprintf("127.0.0.1:%d", knotPort), TSIG: "transfer.dhp.test."}},
		},
		HTTP: HTTPConfig{Listen: "127.0.0.1:0"},
		ACME: ACMEConfig{Listen: "127.0.0.1:0"},
	}
	if err := cfg.Normalize(); err != nil {
		b.Fatal(err)
	}
	svc, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	if _, err := svc.EnsureZones(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateAccount(ctx, "bench", "benchmark password"); err != nil {
		b.Fatal(err)
	}

	serveCtx, stop := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- svc.Serve(serveCtx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(dnsAddr, _ string) { ready <- dnsAddr })
	}()
	b.Cleanup(func() { stop(); <-done })
	var primary string
	select {
	case primary = <-ready:
	case err := <-done:
		b.Fatalf("Serve: %v", err)
	}
	secondary := interop.StartKnotSecondary(b, interop.SecondaryConfig{
		Zone: "dhp.test.", Primary: primary, TSIGName: "transfer.dhp.test.", TSIGSecret: tsigSecret, Port: knotPort,
	})
	pollAnswer(b, secondary.Addr, "dhp.test.", dns.TypeSOA)

	var onPrimary, onSecondary []time.Duration
	i := 0
	for b.Loop() {
		h := handle.Handle(fmt.Sprintf("p%d.dhp.test", i))
		i++
		start := time.Now()
		if _, err := svc.CreateIdentity(ctx, "bench", h, IdentityOptions{}); err != nil {
			b.Fatal(err)
		}
		onPrimary = append(onPrimary, pollAnswer(b, primary, h.String()+".", dns.TypeTLSA).Sub(start))
		onSecondary = append(onSecondary, pollAnswer(b, secondary.Addr, h.String()+".", dns.TypeTLSA).Sub(start))
	}
	b.StopTimer()
	reportPercentiles(b, "primary", onPrimary)
	reportPercentiles(b, "secondary", onSecondary)
}

// pollAnswer queries addr over UDP every millisecond until it answers
// with a record of qtype at name, and returns the time of that answer.
func pollAnswer(b *testing.B, addr, name string, qtype uint16) time.Time {
	b.Helper()
	c := &dns.Client{Timeout: 20 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m.Id = dns.Id()
		r, _, err := c.Exchange(m, addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && slices.ContainsFunc(r.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == qtype }) {
			return time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatalf("%s %s did not appear at %s within 30 seconds", name, dns.TypeToString[qtype], addr)
	return time.Time{}
}

// reportPercentiles reports the 50th, 90th and 95th percentile and the
// maximum of delays in milliseconds.
func reportPercentiles(b *testing.B, who string, delays []time.Duration) {
	if len(delays) == 0 {
		return
	}
	slices.Sort(delays)
	at := func(p float64) float64 {
		return float64(delays[min(int(p*float64(len(delays))), len(delays)-1)].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.5), who+"-p50-ms")
	b.ReportMetric(at(0.9), who+"-p90-ms")
	b.ReportMetric(at(0.95), who+"-p95-ms")
	b.ReportMetric(at(1), who+"-max-ms")
}

// freeBenchPort returns a loopback port that was free for UDP and TCP a
// moment ago.
func freeBenchPort(b *testing.B) int {
	b.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	b.Fatal("no free loopback port")
	return 0
}
