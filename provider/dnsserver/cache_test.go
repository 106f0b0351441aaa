package dnsserver

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestZoneCacheStaysBounded(t *testing.T) {
	t.Parallel()
	var epoch atomic.Uint64
	c := newZoneCache(64)
	for i := range 1000 {
		if c.put(fmt.Sprintf("h%d.dhp.test.", i), &nameData{}, 0, &epoch, true) == nil {
			t.Fatalf("put %d refused at the current epoch", i)
		}
	}
	if n := c.len(); n > 64 {
		t.Fatalf("cache holds %d names, want at most 64", n)
	}
	if c.get("h999.dhp.test.") == nil {
		t.Error("the name stored last was evicted")
	}
}

func TestZoneCacheKeepsReferencedNames(t *testing.T) {
	t.Parallel()
	var epoch atomic.Uint64
	c := newZoneCache(2 * cacheShards) // two names per shard

	// Three names of one shard: the third evicts the one not read since
	// it was stored.
	var names []string
	for i := 0; len(names) < 3; i++ {
		n := fmt.Sprintf("h%d.dhp.test.", i)
		if len(names) == 0 || c.shard(n) == c.shard(names[0]) {
			names = append(names, n)
		}
	}
	c.put(names[0], &nameData{}, 0, &epoch, true)
	c.put(names[1], &nameData{}, 0, &epoch, true)
	c.get(names[0])
	c.put(names[2], &nameData{}, 0, &epoch, true)

	if c.get(names[0]) == nil {
		t.Error("the name read after it was stored was evicted")
	}
	if c.get(names[1]) != nil {
		t.Error("the name never read was kept")
	}
	if c.get(names[2]) == nil {
		t.Error("the new name was not stored")
	}
}

func TestZoneCacheRefusesOldEpoch(t *testing.T) {
	t.Parallel()
	var epoch atomic.Uint64
	c := newZoneCache(100)
	read := epoch.Load()
	epoch.Add(1) // a change lands between the store read and the put
	if c.put("alice.dhp.test.", &nameData{}, read, &epoch, true) != nil {
		t.Fatal("put accepted data read before the change")
	}
	c.preds.put("abc", "abc.dhp.test.", read, &epoch)
	if _, ok := c.preds.get("abc"); ok {
		t.Fatal("predecessor cache accepted data read before the change")
	}

	e := c.put("alice.dhp.test.", &nameData{}, epoch.Load(), &epoch, true)
	if e == nil {
		t.Fatal("put refused data of the current epoch")
	}
	c.addAnswer(e, packedAnswer{qtype: dns.TypeTLSA, msg: []byte{1}}, read, &epoch)
	if e.answers.Load() != nil {
		t.Fatal("addAnswer accepted an answer built before the change")
	}
}

func TestZoneCacheAnswers(t *testing.T) {
	t.Parallel()
	var epoch atomic.Uint64
	c := newZoneCache(100)
	e := c.put("alice.dhp.test.", &nameData{}, 0, &epoch, true)
	c.addAnswer(e, packedAnswer{qtype: dns.TypeTLSA, msg: []byte{1}}, 0, &epoch)
	c.addAnswer(e, packedAnswer{qtype: dns.TypeTLSA, do: true, msg: []byte{2}}, 0, &epoch)
	c.addAnswer(e, packedAnswer{qtype: dns.TypeTLSA, msg: []byte{3}}, 0, &epoch)
	list := *e.answers.Load()
	if len(list) != 2 {
		t.Fatalf("%d answers, want 2 (the second plain TLSA answer replaces the first)", len(list))
	}
	for _, a := range list {
		if !a.do && a.msg[0] != 3 {
			t.Errorf("plain TLSA answer %v, want the newer one", a.msg)
		}
	}

	c.remove("alice.dhp.test.")
	if c.get("alice.dhp.test.") != nil || c.len() != 0 {
		t.Fatal("remove left the name in the cache")
	}
	c.addAnswer(e, packedAnswer{qtype: dns.TypeA, msg: []byte{4}}, 0, &epoch)
	if len(*e.answers.Load()) != 2 {
		t.Error("addAnswer changed an entry that left the cache")
	}
}

func TestZoneCacheConcurrentUse(t *testing.T) {
	t.Parallel()
	var epoch atomic.Uint64
	c := newZoneCache(50)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				name := fmt.Sprintf("h%d.dhp.test.", (i*7+g)%200)
				if e := c.get(name); e != nil {
					c.addAnswer(e, packedAnswer{qtype: uint16(i % 3), msg: []byte{byte(i)}}, epoch.Load(), &epoch)
					continue
				}
				c.put(name, &nameData{}, epoch.Load(), &epoch, true)
				if i%100 == 0 {
					c.remove(name)
				}
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > 64 {
		t.Fatalf("cache holds %d names after concurrent use, want at most 64", n)
	}
}

func TestJournalGapEmptiesCache(t *testing.T) {
	t.Parallel()
	srv, w := fastServer(t)
	w.st.SetJournalLimit(1)
	serveUDP(t, srv, packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 0, false))
	z := srv.zoneSet.byName[testZone]
	before := z.cache.Load()
	if before.get("alice.dhp.test.") == nil {
		t.Fatal("alice not cached after a query")
	}

	// Two steps with a journal that keeps one: the step from the cached
	// serial is gone, so the tracker cannot tell what changed.
	w.addHandle("bob.dhp.test.")
	w.addHandle("carol.dhp.test.")
	if err := srv.Notify(context.Background(), testZone); err != nil {
		t.Fatal(err)
	}
	if z.cache.Load() == before || z.cache.Load().len() != 0 {
		t.Fatal("cache kept its names across a journal gap")
	}
}

func TestWarmUpLoadsNames(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	st, signer := newStoreAndSigner(t)
	w := &world{t: t, st: st, signer: signer}
	for i := range 20 {
		w.addHandle(fmt.Sprintf("h%d.dhp.test.", i))
	}
	srv, err := NewServer(st, Config{Addr: "127.0.0.1:0", Zones: []string{testZone}, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	}()

	waitWarm(t, srv)
	cache := srv.zoneSet.byName[testZone].cache.Load()
	for _, name := range []string{"dhp.test.", "h0.dhp.test.", "_atproto.h19.dhp.test."} {
		if cache.get(name) == nil {
			t.Errorf("%s not loaded", name)
		}
	}
	if got, want := cache.len(), 1+2*20; got != want {
		t.Errorf("%d names loaded, want %d: the apex and two names a handle, no NSEC3 owners", got, want)
	}
}

func TestWarmUpStopsWhenFull(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	w := &world{t: t, st: st, signer: signer}
	for i := range 60 {
		w.addHandle(fmt.Sprintf("h%d.dhp.test.", i))
	}
	srv, err := NewServer(st, Config{Zones: []string{testZone}, CacheSize: cacheShards})
	if err != nil {
		t.Fatal(err)
	}
	n, err := srv.warmZone(context.Background(), srv.zoneSet.byName[testZone])
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.zoneSet.byName[testZone].cache.Load().len(); got > cacheShards || n > 121 {
		t.Fatalf("warm-up stored %d names, cache holds %d, want at most %d", n, got, cacheShards)
	}
}

// waitWarm waits until the server reports its warm-up done.
func waitWarm(t *testing.T, srv *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var m dto.Metric
		if err := srv.metrics.warmup.WithLabelValues(testZone).Write(&m); err == nil && m.GetGauge().GetValue() > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("warm-up did not finish within 10 seconds")
}

func TestUDPEngineSockets(t *testing.T) {
	t.Parallel()
	srv, _ := fastServer(t)
	for _, tc := range []struct {
		addr     string
		wildcard bool
	}{{"127.0.0.1:0", false}, {"[::1]:0", false}, {"[::]:0", true}, {"0.0.0.0:0", true}} {
		network := "udp"
		if tc.addr == "0.0.0.0:0" {
			network = "udp4"
		}
		conn, err := net.ListenPacket(network, tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		e := newUDPEngine(srv, conn)
		conn.Close()
		if e == nil {
			t.Errorf("no engine for a socket bound to %s", tc.addr)
			continue
		}
		if got := e.oobSize > 0; got != tc.wildcard {
			t.Errorf("engine for %s requests control messages: %v, want %v", tc.addr, got, tc.wildcard)
		}
	}
}

// A server on [::] must answer each request from the address it came to:
// the client's connected socket drops a reply from any other address, so
// a wrong source shows as a timeout. The socket listens on every address,
// but the test sends to loopback addresses only.
func TestUDPEngineWildcardSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		listen string
		hosts  []string
	}{
		{"[::]:0", []string{"127.0.0.1", "127.0.0.2", "::1"}},
		{"0.0.0.0:0", []string{"127.0.0.1", "127.0.0.2"}},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			t.Parallel()
			checkWildcardSource(t, tc.listen, tc.hosts)
		})
	}
}

// A server on 0.0.0.0 listens on IPv4 only.
func TestListenIPv4Only(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{Addr: "0.0.0.0:0"})
	_, port, err := net.SplitHostPort(w.addr)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(m, net.JoinHostPort("::1", port)); err == nil {
		t.Error("the server on 0.0.0.0 answered at ::1")
	}
	if _, _, err := c.Exchange(m, net.JoinHostPort("127.0.0.1", port)); err != nil {
		t.Errorf("the server on 0.0.0.0 at 127.0.0.1: %v", err)
	}
}

// checkWildcardSource queries a server listening on listen at each of
// hosts over connected sockets.
func checkWildcardSource(t *testing.T, listen string, hosts []string) {
	w := newWorld(t, Config{Addr: listen})
	waitWarm(t, w.server)
	_, port, err := net.SplitHostPort(w.addr)
	if err != nil {
		t.Fatal(err)
	}

	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for _, host := range hosts {
		target := net.JoinHostPort(host, port)
		for _, qu := range []struct {
			name  string
			qtype uint16
			rcode int
		}{
			// Asked twice: the second answer comes from the fast path.
			{"alice.dhp.test.", dns.TypeTLSA, dns.RcodeSuccess},
			{"alice.dhp.test.", dns.TypeTLSA, dns.RcodeSuccess},
			// ServeDNS answers a name outside the zones.
			{"example.com.", dns.TypeA, dns.RcodeRefused},
		} {
			m := new(dns.Msg)
			m.SetQuestion(qu.name, qu.qtype)
			r, _, err := c.Exchange(m, target)
			if err != nil {
				t.Errorf("%s %s at %s: %v", qu.name, dns.TypeToString[qu.qtype], target, err)
				continue
			}
			if r.Rcode != qu.rcode {
				t.Errorf("%s %s at %s: rcode %s, want %s", qu.name, dns.TypeToString[qu.qtype], target,
					dns.RcodeToString[r.Rcode], dns.RcodeToString[qu.rcode])
			}
		}
	}
}

func TestUDPEngineUnderLoad(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	w.addHandle("bob.dhp.test.")
	questions := []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"alice.dhp.test.", dns.TypeTLSA, dns.RcodeSuccess},
		{"bob.dhp.test.", dns.TypeTLSA, dns.RcodeSuccess},
		{"_atproto.bob.dhp.test.", dns.TypeTXT, dns.RcodeSuccess},
		{"nobody.dhp.test.", dns.TypeTLSA, dns.RcodeNameError},
		{"example.com.", dns.TypeA, dns.RcodeRefused},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			c := &dns.Client{Timeout: 5 * time.Second}
			for i := range 200 {
				qu := questions[(i+g)%len(questions)]
				m := new(dns.Msg)
				m.SetQuestion(qu.name, qu.qtype)
				if i%2 == 0 {
					m.SetEdns0(1232, true)
				}
				r, _, err := c.Exchange(m, w.addr)
				if err != nil {
					errs <- err
					return
				}
				if r.Id != m.Id || r.Rcode != qu.rcode || (qu.rcode == dns.RcodeSuccess && len(r.Answer) == 0) {
					errs <- fmt.Errorf("%s %s: ID %d rcode %s answer %v", qu.name, dns.TypeToString[qu.qtype], r.Id, dns.RcodeToString[r.Rcode], r.Answer)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
