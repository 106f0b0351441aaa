//go:build interop

package dnsserver

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnshandle/dnshandle/internal/interop"
	"github.com/dnshandle/dnshandle/resolve/dnssec"
)

// interopFreePort returns a loopback port that was free for UDP and TCP a
// moment ago.
func interopFreePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

// waitFor queries addr until check accepts the response or 30 seconds
// pass, and returns how long it took.
func waitFor(t testing.TB, addr, name string, qtype uint16, check func(*dns.Msg) bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	for time.Now().Before(deadline) {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.SetEdns0(1232, true)
		r, _, err := c.Exchange(m, addr)
		if err == nil && check(r) {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s %s at %s did not reach the expected state within 30s", name, dns.TypeToString[qtype], addr)
	return 0
}

func soaSerialIs(serial uint32) func(*dns.Msg) bool {
	return func(r *dns.Msg) bool {
		for _, rr := range r.Answer {
			if soa, ok := rr.(*dns.SOA); ok && soa.Serial == serial {
				return true
			}
		}
		return false
	}
}

func hasType(qtype uint16) func(*dns.Msg) bool {
	return func(r *dns.Msg) bool {
		return r.Rcode == dns.RcodeSuccess && len(rrsOfType(r.Answer, qtype)) > 0
	}
}

// TestInteropKnotSecondary has knotd transfer the zone over AXFR with TSIG,
// validate it (knotd's dnssec-validation checks every signature and the
// NSEC3 chain), then take a new handle over IXFR after a NOTIFY.
func TestInteropKnotSecondary(t *testing.T) {
	ctx := context.Background()
	st, signer := newStoreAndSigner(t)
	replace(t, st, signer, handleRRsets(t, "alice.dhp.test."))
	replace(t, st, signer, handleRRsets(t, "a.b.dhp.test."))

	knotPort := interopFreePort(t)
	reg := prometheus.NewRegistry()
	srv, err := NewServer(st, Config{
		Addr:        "127.0.0.1:0",
		Zones:       []string{testZone},
		TSIG:        map[string]string{testKeyName: testSecret},
		Secondaries: []Secondary{{Addr: fmt.Sprintf("127.0.0.1:%d", knotPort), TSIGName: testKeyName}},
		Metrics:     reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(serveCtx) }()
	t.Cleanup(func() { stop(); <-done })

	knotStart := time.Now()
	knot := interop.StartKnotSecondary(t, interop.SecondaryConfig{
		Zone:       testZone,
		Primary:    srv.Addr(),
		TSIGName:   testKeyName,
		TSIGSecret: testSecret,
		Port:       knotPort,
	})
	serial, err := st.ZoneSerial(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, knot.Addr, testZone, dns.TypeSOA, soaSerialIs(serial))
	t.Logf("knotd served serial %d %v after its start began (process start and AXFR)", serial, time.Since(knotStart))
	if got := waitCounter(t, srv.metrics.transfers, 1, "AXFR", transferFull); got < 1 {
		t.Errorf("full AXFR counted %v times, want at least 1", got)
	}

	// A new handle reaches the secondary through NOTIFY and IXFR.
	newSerial := replace(t, st, signer, handleRRsets(t, "bob.dhp.test."))
	start := time.Now()
	if err := srv.Notify(ctx, testZone); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	waitFor(t, knot.Addr, "bob.dhp.test.", dns.TypeTLSA, hasType(dns.TypeTLSA))
	delay := time.Since(start)
	t.Logf("new handle visible on knotd %v after Notify (serial %d)", delay, newSerial)
	if got := waitCounter(t, srv.metrics.transfers, 1, "IXFR", transferIncremental); got < 1 {
		t.Errorf("incremental IXFR counted %v times, want at least 1", got)
	}

	// The secondary's answers validate against the zone's DS.
	ds, err := signer.DS(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	anchors := []dns.RR{ds[0]}
	v := &dnssec.Validator{Anchors: anchors, Exchanger: exchanger{knot.Addr}}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"bob.dhp.test.", dns.TypeTLSA},
		{"_atproto.bob.dhp.test.", dns.TypeTXT},
		{"nobody.dhp.test.", dns.TypeTLSA},
		{"b.dhp.test.", dns.TypeTXT},
	} {
		r := query(t, knot.Addr, "udp", q.name, q.qtype)
		if res := v.Validate(ctx, q.name, q.qtype, r); res.Status != dnssec.Secure {
			t.Errorf("knotd answer for %s %s: %s\n%s", q.name, dns.TypeToString[q.qtype], res, r)
		}
	}

	// unbound, anchored at the DS, validates the secondary's answers.
	unbound := interop.StartUnboundForZone(t, testZone, knot.Addr, anchors)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"bob.dhp.test.", dns.TypeTLSA}, {"_atproto.bob.dhp.test.", dns.TypeTXT}} {
		r := query(t, unbound.Addr, "udp", q.name, q.qtype)
		if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
			t.Errorf("unbound via knotd %s %s: rcode %s AD %v, want NOERROR with AD:\n%s", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
		}
	}
}

// TestInteropUnboundValidates has unbound, anchored at the zone's DS,
// resolve a handle's records from the server and set AD.
func TestInteropUnboundValidates(t *testing.T) {
	w := newWorld(t, Config{})
	w.addHandle("a.b.dhp.test.")
	ds, err := w.signer.DS(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	unbound := interop.StartUnboundForZone(t, testZone, w.addr, []dns.RR{ds[0]})

	cases := []struct {
		name  string
		qname string
		qtype uint16
		rcode int
	}{
		{"TLSA", "alice.dhp.test.", dns.TypeTLSA, dns.RcodeSuccess},
		{"TXT", "_atproto.alice.dhp.test.", dns.TypeTXT, dns.RcodeSuccess},
		{"NXDOMAIN", "nobody.dhp.test.", dns.TypeTLSA, dns.RcodeNameError},
		{"NODATA", "alice.dhp.test.", dns.TypeAAAA, dns.RcodeSuccess},
		{"empty non-terminal", "b.dhp.test.", dns.TypeTXT, dns.RcodeSuccess},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := query(t, unbound.Addr, "udp", tc.qname, tc.qtype)
			if r.Rcode != tc.rcode || !r.AuthenticatedData {
				t.Errorf("rcode %s AD %v, want %s with AD:\n%s", dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[tc.rcode], r)
			}
		})
	}
}
