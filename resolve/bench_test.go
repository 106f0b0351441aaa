package resolve

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

// BenchmarkCacheHit measures Resolve on cached handles from parallel
// goroutines (run with -cpu to set how many). hits/s counts RRsets, two per
// Resolve.
func BenchmarkCacheHit(b *testing.B) {
	w := testWorld(b)
	srv := w.start(b)
	r := newTestResolver(b, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})
	ctx := context.Background()
	handles := []handle.Handle{"alice.test", "carol.nsec3.test", "cname.test", "notlsa.test", "nobody.test",
		"nobody.nsec3.test", "notlsa.nsec3.test", "big.test"}
	for _, h := range handles {
		if _, err := r.Resolve(ctx, h); err != nil {
			b.Fatalf("warm up %s: %v", h, err)
		}
	}
	before := r.Stats()

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var res Result
		i := 0
		for pb.Next() {
			if err := r.ResolveInto(ctx, handles[i%len(handles)], &res); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.StopTimer()

	st := r.Stats()
	if st.Misses != before.Misses {
		b.Fatalf("%d cache misses during the benchmark", st.Misses-before.Misses)
	}
	seconds := b.Elapsed().Seconds()
	b.ReportMetric(float64(st.Hits-before.Hits)/seconds, "hits/s")
	b.ReportMetric(float64(b.N)/seconds, "resolves/s")
}

var (
	benchServerOnce sync.Once
	benchServerAddr string
	benchServerErr  error
)

// benchServer starts, once per test binary, a loopback UDP server that
// answers every query with one TXT record. It stays up until the process
// ends, so the baseline and the resolver query the very same server.
func benchServer(b *testing.B) string {
	b.Helper()
	benchServerOnce.Do(func() {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			benchServerErr = err
			return
		}
		txt, err := dns.NewRR(`_atproto.alice.test. 300 IN TXT "did=` + didAlice + `"`)
		if err != nil {
			benchServerErr = err
			return
		}
		handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Answer = []dns.RR{txt}
			if opt := r.IsEdns0(); opt != nil {
				m.SetEdns0(EDNSBufferSize, opt.Do())
			}
			_ = w.WriteMsg(m)
		})
		started := make(chan struct{})
		srv := &dns.Server{PacketConn: pc, Handler: handler, NotifyStartedFunc: func() { close(started) }}
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		benchServerAddr = pc.LocalAddr().String()
	})
	if benchServerErr != nil {
		b.Fatal(benchServerErr)
	}
	return benchServerAddr
}

// bareExchange is the baseline: one miekg client exchange of the query the
// resolver sends, EDNS0 with DO and a 1232-byte buffer.
func bareExchange(b *testing.B, client *dns.Client, addr string) {
	m := new(dns.Msg)
	m.SetQuestion("_atproto.alice.test.", dns.TypeTXT)
	m.SetEdns0(EDNSBufferSize, true)
	resp, _, err := client.Exchange(m, addr)
	if err != nil || len(resp.Answer) != 1 {
		b.Fatalf("bare exchange: %v", err)
	}
}

// BenchmarkBareExchange is the baseline of BenchmarkColdLookup.
func BenchmarkBareExchange(b *testing.B) {
	addr := benchServer(b)
	client := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		bareExchange(b, client, addr)
	}
}

// BenchmarkColdLookup measures one uncached RRset lookup through the
// resolver (singleflight, exchange, answer parsing, TXT attributes, entry
// building) against the same server as BenchmarkBareExchange. Each
// iteration also times one bare exchange, alternating the order, so
// cold/bare compares both under the same machine load.
func BenchmarkColdLookup(b *testing.B) {
	addr := benchServer(b)
	r := newTestResolver(b, Config{Servers: []string{addr}, Policy: AcceptInsecure, Cache: CacheConfig{Disabled: true}})
	client := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	ctx := context.Background()
	cold := func() {
		e, _, err := r.lookupEntry(ctx, "alice.test", dns.TypeTXT, nil)
		if err != nil || e.atproto.DID != didAlice {
			b.Fatalf("cold lookup: %v", err)
		}
	}

	var bareTime, coldTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if i%2 == 0 {
			bareExchange(b, client, addr)
		} else {
			cold()
		}
		t1 := time.Now()
		if i%2 == 0 {
			cold()
		} else {
			bareExchange(b, client, addr)
		}
		t2 := time.Now()
		if i%2 == 0 {
			bareTime += t1.Sub(t0)
			coldTime += t2.Sub(t1)
		} else {
			coldTime += t1.Sub(t0)
			bareTime += t2.Sub(t1)
		}
	}
	b.ReportMetric(float64(coldTime.Nanoseconds())/float64(b.N), "cold-ns/op")
	b.ReportMetric(float64(bareTime.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(coldTime)/float64(bareTime), "cold/bare")
}

// BenchmarkDNSOverTLS measures one uncached TXT lookup over DNS over TLS
// on loopback with connection reuse, against the baseline of a new
// connection for each lookup (the idle connection closed first), as the
// resolver did before it kept connections. The TLS session cache makes
// the baseline's handshakes resumptions.
func BenchmarkDNSOverTLS(b *testing.B) {
	addr, pool, _ := startDoT(b, 0)
	r, err := New(Config{
		Servers:   []string{"tls://" + addr},
		Policy:    AcceptInsecure,
		TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Cache:     CacheConfig{Disabled: true},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var reuse, fresh time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		if _, err := r.ResolveATProto(ctx, "alice.test"); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		r.CloseIdleConnections()
		if _, err := r.ResolveATProto(ctx, "alice.test"); err != nil {
			b.Fatal(err)
		}
		reuse += mid.Sub(start)
		fresh += time.Since(mid)
		n++
	}
	b.ReportMetric(float64(reuse.Microseconds())/float64(n), "reuse-us/op")
	b.ReportMetric(float64(fresh.Microseconds())/float64(n), "new-conn-us/op")
	b.ReportMetric(fresh.Seconds()/reuse.Seconds(), "new/reuse")
}
