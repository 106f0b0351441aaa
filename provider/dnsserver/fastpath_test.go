package dnsserver

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// packQuery packs a query for name and qtype; ednsSize 0 means no OPT.
func packQuery(t testing.TB, name string, qtype uint16, ednsSize uint16, do bool) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if ednsSize > 0 {
		m.SetEdns0(ednsSize, do)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFastQueryAccepts(t *testing.T) {
	t.Parallel()
	withCookie := func() []byte {
		m := new(dns.Msg)
		m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
		m.SetEdns0(4096, true)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef"})
		b, _ := m.Pack()
		return b
	}
	cases := []struct {
		name  string
		msg   []byte
		qname string
		qtype uint16
		edns  bool
		do    bool
		size  int
	}{
		{"plain", packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 0, false), "alice.dhp.test.", dns.TypeTLSA, false, false, 512},
		{"EDNS with DO", packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 4096, true), "alice.dhp.test.", dns.TypeTLSA, true, true, DefaultMaxUDPSize},
		{"EDNS without DO", packQuery(t, "_atproto.alice.dhp.test.", dns.TypeTXT, 1232, false), "_atproto.alice.dhp.test.", dns.TypeTXT, true, false, 1232},
		{"small EDNS buffer", packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 100, false), "alice.dhp.test.", dns.TypeTLSA, true, false, 512},
		{"upper case", packQuery(t, "ALICE.Dhp.TEST.", dns.TypeA, 0, false), "alice.dhp.test.", dns.TypeA, false, false, 512},
		{"cookie option", withCookie(), "alice.dhp.test.", dns.TypeTLSA, true, true, DefaultMaxUDPSize},
		{"root name", packQuery(t, ".", dns.TypeNS, 0, false), ".", dns.TypeNS, false, false, 512},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var q fastQuery
			if !parseFastQuery(tc.msg, DefaultMaxUDPSize, &q) {
				t.Fatal("parseFastQuery rejected the query")
			}
			if got := string(appendPresentation(nil, q.qname)); got != tc.qname {
				t.Errorf("name %q, want %q", got, tc.qname)
			}
			if q.qtype != tc.qtype || q.edns != tc.edns || q.do != tc.do || q.size != tc.size {
				t.Errorf("type %d EDNS %v DO %v size %d, want %d %v %v %d", q.qtype, q.edns, q.do, q.size, tc.qtype, tc.edns, tc.do, tc.size)
			}
			if !q.rd {
				t.Error("RD bit of the query not read")
			}
		})
	}
}

func TestParseFastQueryRejects(t *testing.T) {
	t.Parallel()
	msg := func(edit func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
		edit(m)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	plain := packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 0, false)
	cases := []struct {
		name string
		msg  []byte
	}{
		{"response", msg(func(m *dns.Msg) { m.Response = true })},
		{"NOTIFY", msg(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify })},
		{"two questions", msg(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) })},
		{"answer section", msg(func(m *dns.Msg) { m.Answer = []dns.RR{mustRR(t, "alice.dhp.test. 300 IN A 192.0.2.1")} })},
		{"class CH", msg(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS })},
		{"AXFR", msg(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAXFR })},
		{"IXFR", msg(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeIXFR })},
		{"type OPT", msg(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeOPT })},
		{"type 0", msg(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeNone })},
		{"MAILB", msg(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeMAILB })},
		{"EDNS version 1", msg(func(m *dns.Msg) { m.SetEdns0(1232, true); m.IsEdns0().SetVersion(1) })},
		{"extended RCODE", func() []byte {
			b := packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 1232, true)
			b[len(b)-11+5] = 1 // the upper bits of the RCODE in the OPT TTL
			return b
		}()},
		{"client subnet option", msg(func(m *dns.Msg) {
			m.SetEdns0(1232, true)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{192, 0, 2, 0}}}
		})},
		{"NSID with data", msg(func(m *dns.Msg) {
			m.SetEdns0(1232, true)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "abcd"}}
		})},
		{"TSIG", msg(func(m *dns.Msg) { m.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix()) })},
		{"label with a space", msg(func(m *dns.Msg) { m.Question[0].Name = `al\032ice.dhp.test.` })},
		{"label with a dot", msg(func(m *dns.Msg) { m.Question[0].Name = `al\.ice.dhp.test.` })},
		{"compressed name", []byte("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01")},
		{"trailing byte", append(append([]byte(nil), plain...), 0)},
		{"cut short", plain[:len(plain)-2]},
		{"header only", plain[:headerSize]},
		{"empty", nil},
		{"oversize", append(append([]byte(nil), plain...), make([]byte, MaxQuerySize)...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var q fastQuery
			if parseFastQuery(tc.msg, DefaultMaxUDPSize, &q) {
				t.Fatalf("parseFastQuery accepted %x", tc.msg)
			}
		})
	}
}

// fastServer is a Server with a zone of two handles, used without its
// listeners: requests go to ServeDNS and answerFast directly.
func fastServer(t *testing.T) (*Server, *world) {
	t.Helper()
	st, signer := newStoreAndSigner(t)
	w := &world{t: t, st: st, signer: signer}
	w.addHandle("alice.dhp.test.")
	w.addHandle("b-2.dhp.test.")
	srv, err := NewServer(st, Config{Zones: []string{testZone}, TSIG: map[string]string{testKeyName: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, w
}

// serveUDP runs req through ServeDNS as a UDP request and returns the
// bytes written.
func serveUDP(t *testing.T, srv *Server, req []byte) []byte {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(req); err != nil {
		t.Fatal(err)
	}
	w := &fakeWriter{}
	srv.ServeDNS(w, m)
	if len(w.messages) != 1 {
		t.Fatalf("ServeDNS wrote %d messages, want 1", len(w.messages))
	}
	return w.messages[0]
}

// referenceAnswer returns the response ServeDNS builds for req, packed by
// miekg/dns without the fast path's help.
func referenceAnswer(t *testing.T, srv *Server, req []byte) []byte {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(req); err != nil {
		t.Fatal(err)
	}
	q := &request{w: &fakeWriter{}, req: m}
	srv.handle(context.Background(), q)
	b, err := q.resp.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFastPathMatchesServeDNS(t *testing.T) {
	t.Parallel()
	srv, _ := fastServer(t)
	questions := []struct {
		name  string
		qtype uint16
	}{
		{"alice.dhp.test.", dns.TypeTLSA},
		{"_atproto.alice.dhp.test.", dns.TypeTXT},
		{"b-2.dhp.test.", dns.TypeTLSA},
		{"alice.dhp.test.", dns.TypeA},     // NODATA
		{"alice.dhp.test.", dns.TypeANY},   // every RRset
		{"alice.dhp.test.", dns.TypeRRSIG}, // the signatures
		{"nobody.dhp.test.", dns.TypeTLSA}, // NXDOMAIN
		{"dhp.test.", dns.TypeSOA},
		{"dhp.test.", dns.TypeDNSKEY},
	}
	variants := []struct {
		name string
		size uint16
		do   bool
	}{{"no EDNS", 0, false}, {"EDNS", 1232, false}, {"EDNS DO", 1232, true}}

	for _, qu := range questions {
		for _, v := range variants {
			t.Run(qu.name+"/"+dns.TypeToString[qu.qtype]+"/"+v.name, func(t *testing.T) {
				req := packQuery(t, qu.name, qu.qtype, v.size, v.do)
				want := referenceAnswer(t, srv, req)
				if got := serveUDP(t, srv, req); !bytes.Equal(got, want) && !truncatedBoth(t, got, want) {
					t.Fatalf("ServeDNS wrote\n%x\nwant\n%x", got, want)
				}
				buf := make([]byte, DefaultMaxUDPSize)
				n := srv.answerFast(buf, req, time.Now())
				if len(want) > udpLimitOf(t, req) {
					if n != 0 {
						t.Fatalf("fast path answered with %d bytes where the answer needs truncating", n)
					}
					return
				}
				if n == 0 {
					t.Fatal("fast path did not answer after ServeDNS cached the answer")
				}
				if !bytes.Equal(buf[:n], want) {
					t.Fatalf("fast path wrote\n%x\nwant\n%x", buf[:n], want)
				}
			})
		}
	}
}

// truncatedBoth reports whether both responses are truncated, which they
// are when the answer exceeds the client's limit: ServeDNS then writes the
// empty TC response, and the reference is the full one.
func truncatedBoth(t *testing.T, got, want []byte) bool {
	t.Helper()
	g := new(dns.Msg)
	if err := g.Unpack(got); err != nil {
		t.Fatal(err)
	}
	return g.Truncated && len(want) > dns.MinMsgSize
}

func udpLimitOf(t *testing.T, req []byte) int {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(req); err != nil {
		t.Fatal(err)
	}
	return udpLimit(m)
}

func TestFastPathPatchesTheRequest(t *testing.T) {
	t.Parallel()
	srv, _ := fastServer(t)
	serveUDP(t, srv, packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 1232, true))

	m := new(dns.Msg)
	m.SetQuestion("AliCe.DHP.test.", dns.TypeTLSA)
	m.SetEdns0(1232, true)
	m.Id = 0xbeef
	m.RecursionDesired = false
	m.CheckingDisabled = true
	req, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, DefaultMaxUDPSize)
	n := srv.answerFast(buf, req, time.Now())
	if n == 0 {
		t.Fatal("fast path did not answer a cached question in other letter case")
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if r.Id != 0xbeef || r.RecursionDesired || !r.CheckingDisabled || !r.Response || !r.Authoritative {
		t.Errorf("header ID %#x RD %v CD %v QR %v AA %v, want 0xbeef, false, true, true, true", r.Id, r.RecursionDesired, r.CheckingDisabled, r.Response, r.Authoritative)
	}
	if r.Question[0].Name != "AliCe.DHP.test." {
		t.Errorf("question %q, want the request's letter case", r.Question[0].Name)
	}
	if len(rrsOfType(r.Answer, dns.TypeTLSA)) != 1 || len(rrsOfType(r.Answer, dns.TypeRRSIG)) != 1 {
		t.Errorf("answer %v, want the TLSA record and its RRSIG", r.Answer)
	}
	for _, rr := range r.Answer {
		if !strings.EqualFold(rr.Header().Name, "alice.dhp.test.") {
			t.Errorf("answer owner %q", rr.Header().Name)
		}
	}
}

func TestFastPathFollowsChanges(t *testing.T) {
	t.Parallel()
	srv, w := fastServer(t)
	ctx := context.Background()
	alice := packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 1232, true)
	bob := packQuery(t, "bob.dhp.test.", dns.TypeTLSA, 1232, true)
	serveUDP(t, srv, alice)
	serveUDP(t, srv, bob)
	buf := make([]byte, DefaultMaxUDPSize)
	now := time.Now()
	if srv.answerFast(buf, alice, now) == 0 || srv.answerFast(buf, bob, now) == 0 {
		t.Fatal("fast path did not answer cached questions")
	}

	// A new handle changes the SOA serial and the NSEC3 chain: the cached
	// NXDOMAIN for it is out of date, alice's answer is not.
	w.addHandle("bob.dhp.test.")
	if err := srv.Notify(ctx, testZone); err != nil {
		t.Fatal(err)
	}
	now = time.Now()
	if srv.answerFast(buf, bob, now) != 0 {
		t.Error("fast path sent the NXDOMAIN of a name that now exists")
	}
	if srv.answerFast(buf, alice, now) == 0 {
		t.Error("fast path dropped an answer that the change did not touch")
	}
	r := new(dns.Msg)
	if err := r.Unpack(serveUDP(t, srv, bob)); err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeSuccess || len(rrsOfType(r.Answer, dns.TypeTLSA)) != 1 {
		t.Fatalf("bob after the change: rcode %s, answer %v", dns.RcodeToString[r.Rcode], r.Answer)
	}

	// Changing alice's own records drops her cached answer.
	newTLSA := "3 1 1 0000000000000000000000000000000000000000000000000000000000000000"
	replace(t, w.st, w.signer, map[RRsetKey][]dns.RR{
		{Name: "alice.dhp.test.", Type: dns.TypeTLSA}: {mustRR(t, "alice.dhp.test. 300 IN TLSA "+newTLSA)},
	})
	if err := srv.Notify(ctx, testZone); err != nil {
		t.Fatal(err)
	}
	if srv.answerFast(buf, alice, time.Now()) != 0 {
		t.Error("fast path sent alice's old TLSA record after it changed")
	}
	if err := r.Unpack(serveUDP(t, srv, alice)); err != nil {
		t.Fatal(err)
	}
	tlsa := rrsOfType(r.Answer, dns.TypeTLSA)
	if len(tlsa) != 1 || tlsa[0].(*dns.TLSA).Usage != 3 {
		t.Fatalf("alice after the change: %v, want the new TLSA record", r.Answer)
	}
}

func TestFastPathWaitsForSerialRefresh(t *testing.T) {
	t.Parallel()
	srv, _ := fastServer(t)
	req := packQuery(t, "alice.dhp.test.", dns.TypeTLSA, 0, false)
	serveUDP(t, srv, req)
	buf := make([]byte, DefaultMaxUDPSize)
	if srv.answerFast(buf, req, time.Now()) == 0 {
		t.Fatal("fast path did not answer a cached question")
	}
	// Once the serial is older than the refresh interval, the request
	// goes to ServeDNS, which reads the serial again.
	if srv.answerFast(buf, req, time.Now().Add(DefaultSerialRefresh)) != 0 {
		t.Error("fast path answered with a serial due to be read again")
	}
	srv.zoneSet.forget(srv.zoneSet.byName[testZone])
	if srv.answerFast(buf, req, time.Now()) != 0 {
		t.Error("fast path answered after an incoming NOTIFY made the serial stale")
	}
}

func TestFastPathDeclinesOtherZones(t *testing.T) {
	t.Parallel()
	srv, _ := fastServer(t)
	req := packQuery(t, "alice.example.", dns.TypeTLSA, 0, false)
	serveUDP(t, srv, req)
	if n := srv.answerFast(make([]byte, DefaultMaxUDPSize), req, time.Now()); n != 0 {
		t.Fatalf("fast path answered a name outside the zones with %d bytes", n)
	}
}

// FuzzParseFastQuery checks that every request the fast path accepts is
// one that miekg/dns unpacks to the same question and EDNS settings, and
// that ServeDNS would cache.
func FuzzParseFastQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var q fastQuery
		if !parseFastQuery(data, DefaultMaxUDPSize, &q) {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(data); err != nil {
			t.Fatalf("fast path accepted a request miekg/dns rejects: %v", err)
		}
		if !fastRequest(m) {
			t.Fatalf("fast path accepted a request whose answer ServeDNS does not cache: %v", m)
		}
		if got := string(appendPresentation(nil, q.qname)); got != dns.CanonicalName(m.Question[0].Name) {
			t.Fatalf("name %q, miekg/dns read %q", got, m.Question[0].Name)
		}
		if q.id != m.Id || q.rd != m.RecursionDesired || q.cd != m.CheckingDisabled || q.qtype != m.Question[0].Qtype {
			t.Fatalf("header or type differs from miekg/dns: %+v against %v", q, m)
		}
		opt := m.IsEdns0()
		if q.edns != (opt != nil) || (opt != nil && q.do != opt.Do()) || udpLimit(m) != q.size {
			t.Fatalf("EDNS differs from miekg/dns: %+v against %v", q, opt)
		}
	})
}

func TestCachedAnswerStillTruncated(t *testing.T) {
	t.Parallel()
	srv, w := fastServer(t)
	var big []dns.RR
	for i := range 20 {
		big = append(big, mustRR(t, "big.dhp.test. 300 IN TXT \""+strings.Repeat(string(rune('a'+i)), 100)+"\""))
	}
	replace(t, w.st, w.signer, map[RRsetKey][]dns.RR{{Name: "big.dhp.test.", Type: dns.TypeTXT}: big})

	req := packQuery(t, "big.dhp.test.", dns.TypeTXT, 1232, true)
	for i := range 2 {
		r := new(dns.Msg)
		if err := r.Unpack(serveUDP(t, srv, req)); err != nil {
			t.Fatal(err)
		}
		if !r.Truncated || len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess {
			t.Fatalf("UDP answer %d: TC %v, %d records, rcode %s, want an empty TC response", i+1, r.Truncated, len(r.Answer), dns.RcodeToString[r.Rcode])
		}
	}
	// Over TCP the cached response goes out whole.
	m := new(dns.Msg)
	if err := m.Unpack(req); err != nil {
		t.Fatal(err)
	}
	tw := &fakeWriter{tcp: true}
	srv.ServeDNS(tw, m)
	r := new(dns.Msg)
	if err := r.Unpack(tw.messages[0]); err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(rrsOfType(r.Answer, dns.TypeTXT)) != 20 {
		t.Fatalf("TCP answer: TC %v with %d TXT records, want 20", r.Truncated, len(rrsOfType(r.Answer, dns.TypeTXT)))
	}
}
