package dnstest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const tlsaData = "2 1 1 8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1"

// world builds "." -> "test." -> "dhp.test." signed with opts, plus the
// unsigned delegation "insecure.test." that no loaded zone serves.
func world(t *testing.T, opts SignOptions) (*Server, *Zone, *Zone, *Zone) {
	t.Helper()
	root := MustZone(t, ".")
	tld := MustZone(t, "test.",
		"insecure NS ns1.insecure.test.",
		"ns1.insecure A 127.0.0.2")
	dhp := MustZone(t, "dhp.test.",
		"alice IN TLSA "+tlsaData,
		`_atproto.alice IN TXT "did=did:plc:abcdefghijklmnopqrstuvwx"`,
		"www IN CNAME alice",
		"*.wild IN TXT \"wildcard\"",
		"deep.ent.sub IN TXT \"below an empty non-terminal\"")
	if err := SignChain(opts, root, tld, dhp); err != nil {
		t.Fatal(err)
	}
	return Start(t, root, tld, dhp), root, tld, dhp
}

func exchange(t *testing.T, s *Server, name string, qtype uint16, do bool, network string) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	if do {
		q.SetEdns0(4096, true)
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(q, s.Addr)
	if err != nil {
		t.Fatalf("query %s/%s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return resp
}

func types(rrs []dns.RR) string {
	var out []string
	for _, rr := range rrs {
		s := dns.TypeToString[rr.Header().Rrtype]
		if sig, ok := rr.(*dns.RRSIG); ok {
			s += "(" + dns.TypeToString[sig.TypeCovered] + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestServerAnswers(t *testing.T) {
	for _, nsec3 := range []bool{false, true} {
		denial := "NSEC"
		if nsec3 {
			denial = "NSEC3"
		}
		t.Run(denial, func(t *testing.T) {
			t.Parallel()
			s, _, _, _ := world(t, SignOptions{NSEC3: nsec3})

			tests := []struct {
				name   string
				qname  string
				qtype  uint16
				do     bool
				rcode  int
				answer string
				ns     string
			}{
				{"tlsa with DO", "alice.dhp.test.", dns.TypeTLSA, true, dns.RcodeSuccess, "TLSA RRSIG(TLSA)", ""},
				{"tlsa without DO", "alice.dhp.test.", dns.TypeTLSA, false, dns.RcodeSuccess, "TLSA", ""},
				{"txt", "_atproto.alice.dhp.test.", dns.TypeTXT, true, dns.RcodeSuccess, "TXT RRSIG(TXT)", ""},
				{"cname not followed", "www.dhp.test.", dns.TypeTLSA, true, dns.RcodeSuccess, "CNAME RRSIG(CNAME)", ""},
				{"ds from parent", "dhp.test.", dns.TypeDS, true, dns.RcodeSuccess, "DS RRSIG(DS)", ""},
				{"dnskey", "dhp.test.", dns.TypeDNSKEY, true, dns.RcodeSuccess, "DNSKEY DNSKEY RRSIG(DNSKEY)", ""},
				{"nodata", "alice.dhp.test.", dns.TypeTXT, true, dns.RcodeSuccess, "",
					"SOA RRSIG(SOA) " + denial + " RRSIG(" + denial + ")"},
				{"nodata without DO", "alice.dhp.test.", dns.TypeTXT, false, dns.RcodeSuccess, "", "SOA"},
				{"nodata at empty non-terminal", "ent.sub.dhp.test.", dns.TypeTXT, true, dns.RcodeSuccess, "",
					"SOA RRSIG(SOA) " + denial + " RRSIG(" + denial + ")"},
				{"wildcard expansion", "x.wild.dhp.test.", dns.TypeTXT, true, dns.RcodeSuccess, "TXT RRSIG(TXT)",
					denial + " RRSIG(" + denial + ")"},
				{"no ds at insecure delegation", "insecure.test.", dns.TypeDS, true, dns.RcodeSuccess, "",
					"SOA RRSIG(SOA) " + denial + " RRSIG(" + denial + ")"},
				{"referral to insecure delegation", "a.insecure.test.", dns.TypeA, true, dns.RcodeSuccess, "",
					"NS " + denial + " RRSIG(" + denial + ")"},
				{"outside every zone", "example.", dns.TypeA, true, dns.RcodeNameError, "", ""},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					resp := exchange(t, s, tc.qname, tc.qtype, tc.do, "udp")
					if resp.Rcode != tc.rcode {
						t.Fatalf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
					}
					if got := types(resp.Answer); got != tc.answer {
						t.Errorf("answer = %q, want %q", got, tc.answer)
					}
					if tc.ns != "" {
						if got := types(resp.Ns); got != tc.ns {
							t.Errorf("authority = %q, want %q", got, tc.ns)
						}
					}
				})
			}
		})
	}
}

func TestServerNXDOMAIN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  SignOptions
		proof string
	}{
		// The NSEC that covers the name also covers the wildcard here.
		{"nsec", SignOptions{}, "SOA RRSIG(SOA) NSEC RRSIG(NSEC)"},
		{"nsec3", SignOptions{NSEC3: true}, "SOA RRSIG(SOA) NSEC3 RRSIG(NSEC3)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _, _, _ := world(t, tc.opts)
			resp := exchange(t, s, "bob.dhp.test.", dns.TypeTLSA, true, "udp")
			if resp.Rcode != dns.RcodeNameError {
				t.Fatalf("rcode = %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
			}
			got := types(resp.Ns)
			if !strings.HasPrefix(got, tc.proof) {
				t.Errorf("authority = %q, want it to start with %q", got, tc.proof)
			}
			for _, rr := range resp.Ns {
				if sig, ok := rr.(*dns.RRSIG); ok && sig.SignerName != "dhp.test." {
					t.Errorf("RRSIG signer = %s, want dhp.test.", sig.SignerName)
				}
			}
		})
	}
}

func TestSignaturesVerify(t *testing.T) {
	t.Parallel()
	s, root, _, dhp := world(t, SignOptions{NSEC3: true})

	ds := root.DS()[0].(*dns.DS)
	keys := exchange(t, s, ".", dns.TypeDNSKEY, true, "udp")
	var ksk *dns.DNSKEY
	for _, rr := range keys.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok && k.Flags&dns.SEP != 0 {
			ksk = k
		}
	}
	if ksk == nil || !strings.EqualFold(ksk.ToDS(dns.SHA256).Digest, ds.Digest) {
		t.Fatalf("root KSK %v does not match the anchor DS %v", ksk, ds)
	}

	zsk := dhp.DNSKEYs()[1].(*dns.DNSKEY)
	resp := exchange(t, s, "alice.dhp.test.", dns.TypeTLSA, true, "udp")
	tlsa, sig := splitSig(t, resp.Answer)
	if err := sig.Verify(zsk, tlsa); err != nil {
		t.Fatalf("RRSIG over TLSA does not verify with the ZSK: %v", err)
	}

	if err := dhp.Tamper("alice.dhp.test.", dns.TypeTLSA, func(rr dns.RR) {
		rr.(*dns.TLSA).Certificate = strings.Repeat("00", 32)
	}); err != nil {
		t.Fatal(err)
	}
	resp = exchange(t, s, "alice.dhp.test.", dns.TypeTLSA, true, "udp")
	tlsa, sig = splitSig(t, resp.Answer)
	if err := sig.Verify(zsk, tlsa); err == nil {
		t.Fatal("RRSIG over tampered TLSA still verifies")
	}

	if err := dhp.RemoveRRSIGs("alice.dhp.test.", dns.TypeTLSA); err != nil {
		t.Fatal(err)
	}
	resp = exchange(t, s, "alice.dhp.test.", dns.TypeTLSA, true, "udp")
	if got := types(resp.Answer); got != "TLSA" {
		t.Errorf("answer after RemoveRRSIGs = %q, want %q", got, "TLSA")
	}
}

func splitSig(t *testing.T, rrs []dns.RR) ([]dns.RR, *dns.RRSIG) {
	t.Helper()
	var set []dns.RR
	var sig *dns.RRSIG
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok {
			sig = s
		} else {
			set = append(set, rr)
		}
	}
	if sig == nil || len(set) == 0 {
		t.Fatalf("answer %q lacks an RRset with its RRSIG", types(rrs))
	}
	return set, sig
}

func TestServerTruncation(t *testing.T) {
	t.Parallel()
	var txts []string
	for i := range 30 {
		txts = append(txts, fmt.Sprintf(`big TXT "%02d %s"`, i, strings.Repeat("x", 200)))
	}
	z := MustZone(t, "big.test.", txts...)
	if err := z.Sign(SignOptions{}); err != nil {
		t.Fatal(err)
	}
	s := Start(t, z)

	udp := exchange(t, s, "big.big.test.", dns.TypeTXT, false, "udp")
	if !udp.Truncated {
		t.Errorf("UDP answer without EDNS0 has TC clear, %d records", len(udp.Answer))
	}
	tcp := exchange(t, s, "big.big.test.", dns.TypeTXT, true, "tcp")
	if tcp.Truncated || len(tcp.Answer) != 31 {
		t.Errorf("TCP answer: TC=%v with %d records, want 30 TXT and 1 RRSIG", tcp.Truncated, len(tcp.Answer))
	}

	full, err := s.Exchange(context.Background(), "big.big.test.", dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Answer) != 31 {
		t.Errorf("Exchange returned %d records, want 31 after TCP fallback", len(full.Answer))
	}
	if n := s.QueryCount("BIG.big.test.", dns.TypeTXT); n != 4 {
		t.Errorf("QueryCount = %d, want 4", n)
	}
}

func TestServerHandler(t *testing.T) {
	t.Parallel()
	s, _, _, _ := world(t, SignOptions{})

	s.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool {
		if r.Question[0].Qtype != dns.TypeTLSA {
			return false
		}
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		_ = w.WriteMsg(m)
		return true
	})
	if resp := exchange(t, s, "alice.dhp.test.", dns.TypeTLSA, true, "udp"); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("overridden rcode = %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	if resp := exchange(t, s, "_atproto.alice.dhp.test.", dns.TypeTXT, true, "udp"); resp.Rcode != dns.RcodeSuccess {
		t.Errorf("rcode for a query the handler passed on = %s, want NOERROR", dns.RcodeToString[resp.Rcode])
	}

	s.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool { return true })
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	q := new(dns.Msg).SetQuestion("alice.dhp.test.", dns.TypeTLSA)
	if _, _, err := c.Exchange(q, s.Addr); err == nil {
		t.Error("query dropped by the handler got an answer")
	}

	s.SetHandler(nil)
	if resp := exchange(t, s, "alice.dhp.test.", dns.TypeTLSA, true, "udp"); resp.Rcode != dns.RcodeSuccess {
		t.Errorf("rcode after SetHandler(nil) = %s, want NOERROR", dns.RcodeToString[resp.Rcode])
	}
	if s.Queries() != 4 {
		t.Errorf("Queries = %d, want 4", s.Queries())
	}
}

func TestWriteFiles(t *testing.T) {
	t.Parallel()
	_, root, tld, dhp := world(t, SignOptions{NSEC3: true})
	dir := t.TempDir()

	for _, z := range []*Zone{root, tld, dhp} {
		path := filepath.Join(dir, strings.TrimSuffix(z.Origin, ".")+"zone")
		if err := z.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zp := dns.NewZoneParser(f, "", path)
		n := 0
		for _, ok := zp.Next(); ok; _, ok = zp.Next() {
			n++
		}
		_ = f.Close()
		if err := zp.Err(); err != nil {
			t.Fatalf("zone file %s does not parse: %v", path, err)
		}
		if n != len(z.RRs) {
			t.Errorf("zone file %s holds %d records, want %d", path, n, len(z.RRs))
		}
	}

	anchors := filepath.Join(dir, "anchors")
	if err := WriteAnchorFile(anchors, root); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(anchors)
	if err != nil {
		t.Fatal(err)
	}
	if want := root.DS()[0].String() + "\n"; string(text) != want {
		t.Errorf("anchor file = %q, want %q", text, want)
	}
}

func TestNewZoneErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rr   string
	}{
		{"outside origin", "www.other.example. A 192.0.2.1"},
		{"bad syntax", "www IN A not-an-address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewZone("dhp.test.", tc.rr); err == nil {
				t.Errorf("NewZone accepted %q", tc.rr)
			}
		})
	}
}
