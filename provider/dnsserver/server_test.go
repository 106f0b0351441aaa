package dnsserver

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/resolve/dnssec"
)

// TestAnswersValidate checks every kind of answer with the project's own
// validator, anchored at the zone's DS: each must come out Secure.
func TestAnswersValidate(t *testing.T) {
	w := newWorld(t, Config{})
	w.addHandle("a.b.dhp.test.") // b.dhp.test. becomes an empty non-terminal
	v := w.validator(time.Now())

	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer int // records in the answer section, signatures included
	}{
		{name: "TLSA", qname: "alice.dhp.test.", qtype: dns.TypeTLSA, rcode: dns.RcodeSuccess, answer: 2},
		{name: "TXT", qname: "_atproto.alice.dhp.test.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, answer: 2},
		{name: "DNSKEY", qname: testZone, qtype: dns.TypeDNSKEY, rcode: dns.RcodeSuccess, answer: 3},
		{name: "SOA", qname: testZone, qtype: dns.TypeSOA, rcode: dns.RcodeSuccess, answer: 2},
		{name: "mixed case", qname: "ALICE.Dhp.Test.", qtype: dns.TypeTLSA, rcode: dns.RcodeSuccess, answer: 2},
		{name: "NXDOMAIN", qname: "nobody.dhp.test.", qtype: dns.TypeTLSA, rcode: dns.RcodeNameError},
		{name: "NXDOMAIN below handle", qname: "x.y.alice.dhp.test.", qtype: dns.TypeTXT, rcode: dns.RcodeNameError},
		{name: "NXDOMAIN below empty non-terminal", qname: "c.b.dhp.test.", qtype: dns.TypeTXT, rcode: dns.RcodeNameError},
		{name: "NODATA", qname: "alice.dhp.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess},
		{name: "NODATA at apex", qname: testZone, qtype: dns.TypeTXT, rcode: dns.RcodeSuccess},
		{name: "NODATA DS at handle", qname: "alice.dhp.test.", qtype: dns.TypeDS, rcode: dns.RcodeSuccess},
		{name: "empty non-terminal NODATA", qname: "b.dhp.test.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess},
		{name: "handle below empty non-terminal", qname: "a.b.dhp.test.", qtype: dns.TypeTLSA, rcode: dns.RcodeSuccess, answer: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := query(t, w.addr, "udp", tc.qname, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s:\n%s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
			}
			if !r.Authoritative {
				t.Errorf("AA not set")
			}
			if r.RecursionAvailable {
				t.Errorf("RA set")
			}
			if len(r.Answer) != tc.answer {
				t.Errorf("%d answer records, want %d:\n%s", len(r.Answer), tc.answer, r)
			}
			if tc.answer == 0 && len(rrsOfType(r.Ns, dns.TypeSOA)) != 1 {
				t.Errorf("negative answer without the SOA in authority:\n%s", r)
			}
			res := v.Validate(context.Background(), tc.qname, tc.qtype, r)
			if res.Status != dnssec.Secure {
				t.Errorf("validation: %s\n%s", res, r)
			}
		})
	}
}

func TestAnswerWithoutDO(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	m := new(dns.Msg)
	m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
	r := exchange(t, w.addr, "udp", m)
	if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeTLSA {
		t.Errorf("answer without DO = %v, want the TLSA alone", r.Answer)
	}
	if r.IsEdns0() != nil {
		t.Errorf("response carries OPT although the query had none")
	}

	m.SetQuestion("nobody.dhp.test.", dns.TypeTLSA)
	r = exchange(t, w.addr, "udp", m)
	if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Errorf("NXDOMAIN without DO: rcode %s, authority %v, want NXDOMAIN and the SOA alone", dns.RcodeToString[r.Rcode], r.Ns)
	}
	if soa, ok := r.Ns[0].(*dns.SOA); !ok || soa.Hdr.Ttl != negativeTTL {
		t.Errorf("authority %v, want the SOA with TTL %d (RFC 2308)", r.Ns[0], negativeTTL)
	}
}

func TestRefusedOutsideZones(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	for _, name := range []string{"example.com.", "test.", ".", "dhp.test.evil."} {
		r := query(t, w.addr, "udp", name, dns.TypeA)
		if r.Rcode != dns.RcodeRefused {
			t.Errorf("%s: rcode %s, want REFUSED", name, dns.RcodeToString[r.Rcode])
		}
		if r.Authoritative {
			t.Errorf("%s: AA set on REFUSED", name)
		}
	}
}

func TestTruncatedOverUDPFullOverTCP(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	var big []dns.RR
	for i := range 20 {
		big = append(big, mustRR(t, "big.dhp.test. 300 IN TXT \""+strings.Repeat(string(rune('a'+i)), 100)+"\""))
	}
	replace(t, w.st, w.signer, map[RRsetKey][]dns.RR{{Name: "big.dhp.test.", Type: dns.TypeTXT}: big})
	if err := w.server.Notify(context.Background(), testZone); err != nil {
		t.Fatal(err)
	}

	m := new(dns.Msg)
	m.SetQuestion("big.dhp.test.", dns.TypeTXT)
	m.SetEdns0(1232, true)
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, w.addr)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP answer: TC %v with %d records, want TC and an empty answer", r.Truncated, len(r.Answer))
	}
	if r.IsEdns0() == nil {
		t.Errorf("truncated answer lost its OPT record")
	}

	r = query(t, w.addr, "tcp", "big.dhp.test.", dns.TypeTXT)
	if r.Truncated || len(rrsOfType(r.Answer, dns.TypeTXT)) != 20 {
		t.Errorf("TCP answer: TC %v with %d TXT records, want 20", r.Truncated, len(rrsOfType(r.Answer, dns.TypeTXT)))
	}
	res := w.validator(time.Now()).Validate(context.Background(), "big.dhp.test.", dns.TypeTXT, r)
	if res.Status != dnssec.Secure {
		t.Errorf("TCP answer validation: %s", res)
	}
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	cases := []struct {
		name  string
		build func() *dns.Msg
		rcode int
	}{
		{name: "no question", rcode: dns.RcodeFormatError, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.Id = dns.Id()
			return m
		}},
		{name: "two questions", rcode: dns.RcodeFormatError, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}},
		{name: "UPDATE", rcode: dns.RcodeNotImplemented, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetUpdate(testZone)
			return m
		}},
		{name: "STATUS", rcode: dns.RcodeNotImplemented, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
			m.Opcode = dns.OpcodeStatus
			return m
		}},
		{name: "class CH", rcode: dns.RcodeRefused, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("version.bind.", dns.TypeTXT)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}},
		{name: "EDNS version 1", rcode: dns.RcodeBadVers, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
			m.SetEdns0(1232, true)
			m.IsEdns0().SetVersion(1)
			return m
		}},
		{name: "two OPT records", rcode: dns.RcodeFormatError, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
			m.SetEdns0(1232, true)
			m.SetEdns0(1232, true)
			m.Extra = append(m.Extra, dns.Copy(m.Extra[0]))
			return m
		}},
		{name: "oversize query", rcode: dns.RcodeFormatError, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
			m.SetEdns0(4096, true)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_PADDING{Padding: make([]byte, 1400)})
			return m
		}},
		{name: "query type OPT", rcode: dns.RcodeFormatError, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("alice.dhp.test.", dns.TypeOPT)
			return m
		}},
		{name: "AXFR over UDP", rcode: dns.RcodeRefused, build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetAxfr(testZone)
			return m
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := exchange(t, w.addr, "tcp", tc.build())
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s:\n%s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
			}
			if tc.rcode == dns.RcodeBadVers {
				opt := r.IsEdns0()
				if opt == nil || opt.Version() != 0 {
					t.Errorf("BADVERS response OPT = %v, want version 0", opt)
				}
			}
		})
	}
}

// TestEDNSEcho checks RFC 6891 on a normal answer: the response carries
// one OPT of version 0 with the server's buffer size and the DO bit of
// the query.
func TestEDNSEcho(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{MaxUDPSize: 1400})
	for _, do := range []bool{false, true} {
		m := new(dns.Msg)
		m.SetQuestion("alice.dhp.test.", dns.TypeTLSA)
		m.SetEdns0(4096, do)
		r := exchange(t, w.addr, "udp", m)
		opt := r.IsEdns0()
		if opt == nil {
			t.Fatalf("DO %v: response has no OPT", do)
		}
		if opt.Version() != 0 || opt.UDPSize() != 1400 || opt.Do() != do {
			t.Errorf("DO %v: OPT version %d size %d DO %v, want 0, 1400, %v", do, opt.Version(), opt.UDPSize(), opt.Do(), do)
		}
	}
}

// TestServesAfterGarbage sends malformed datagrams and checks that the
// server still answers.
func TestServesAfterGarbage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	conn, err := net.Dial("udp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, junk := range [][]byte{
		{},
		{0x12},
		{0x12, 0x34, 0x01, 0x00, 0x00, 0x01},
		[]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"), // compression loop
		make([]byte, 3000),
	} {
		if _, err := conn.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	r := query(t, w.addr, "udp", "alice.dhp.test.", dns.TypeTLSA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("after garbage: rcode %s, answer %v", dns.RcodeToString[r.Rcode], r.Answer)
	}
}

func TestNewChangeVisibleAfterNotify(t *testing.T) {
	t.Parallel()
	// A long refresh interval shows that Notify, not the timer, makes the
	// change visible.
	w := newWorld(t, Config{SerialRefresh: time.Hour})
	r := query(t, w.addr, "udp", "bob.dhp.test.", dns.TypeTLSA)
	if r.Rcode != dns.RcodeNameError {
		t.Fatalf("bob before adding: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	serial := w.addHandle("bob.dhp.test.")

	r = query(t, w.addr, "udp", "bob.dhp.test.", dns.TypeTLSA)
	if r.Rcode != dns.RcodeSuccess || len(rrsOfType(r.Answer, dns.TypeTLSA)) != 1 {
		t.Fatalf("bob after Notify: rcode %s, answer %v", dns.RcodeToString[r.Rcode], r.Answer)
	}
	soa := query(t, w.addr, "udp", testZone, dns.TypeSOA)
	if got := soa.Answer[0].(*dns.SOA).Serial; got != serial {
		t.Errorf("served serial %d, want %d", got, serial)
	}
}
