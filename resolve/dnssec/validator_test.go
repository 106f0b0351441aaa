package dnssec

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/internal/dnstest"
)

type validateCase struct {
	name  string
	qname string
	qtype uint16

	build   worldOptions                          // changes before the parents are signed
	after   func(t *testing.T, w *world)          // changes after signing
	resp    func(t *testing.T, w *world) *dns.Msg // default: the server's answer
	anchors func(w *world) []dns.RR               // default: the root's DS

	want   Status
	reason string // substring of Reason; {kind} stands for NSEC or NSEC3
}

func validateCases() []validateCase {
	return []validateCase{
		{name: "secure TLSA", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			want: Secure, reason: "alice.dhp.test./TLSA verified with a key of dhp.test. (chain of trust from anchor .)"},
		{name: "secure TXT", qname: "_atproto.alice.dhp.test.", qtype: dns.TypeTXT,
			want: Secure, reason: "_atproto.alice.dhp.test./TXT verified"},
		{name: "secure CNAME left to the caller", qname: "www.dhp.test.", qtype: dns.TypeTLSA,
			want: Secure, reason: "www.dhp.test./CNAME verified"},
		{name: "secure CNAME chain in one response", qname: "www.dhp.test.", qtype: dns.TypeTLSA,
			resp: func(t *testing.T, w *world) *dns.Msg {
				m := w.query(t, "www.dhp.test.", dns.TypeTLSA)
				m.Answer = append(m.Answer, w.query(t, "alice.dhp.test.", dns.TypeTLSA).Answer...)
				return m
			},
			want: Secure, reason: "www.dhp.test./CNAME verified"},
		{name: "secure wildcard expansion", qname: "x.wild.dhp.test.", qtype: dns.TypeTXT,
			want: Secure, reason: "expanded from wildcard *.wild.dhp.test."},
		{name: "secure NXDOMAIN", qname: "bob.dhp.test.", qtype: dns.TypeTLSA,
			want: Secure, reason: "NXDOMAIN answer for bob.dhp.test. proven by {kind} records of dhp.test."},
		{name: "secure NODATA", qname: "alice.dhp.test.", qtype: dns.TypeTXT,
			want: Secure, reason: "NODATA answer for alice.dhp.test./TXT proven by {kind} records"},
		{name: "secure NODATA at empty non-terminal", qname: "ent.dhp.test.", qtype: dns.TypeTXT,
			want: Secure, reason: "NODATA answer for ent.dhp.test./TXT proven"},
		{name: "secure wildcard NODATA", qname: "x.wild.dhp.test.", qtype: dns.TypeTLSA,
			want: Secure, reason: "NODATA answer for x.wild.dhp.test./TLSA proven"},
		{name: "secure with DNSKEY anchor at dhp.test.", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			anchors: func(w *world) []dns.RR { return w.dhp.DNSKEYs()[:1] },
			want:    Secure, reason: "chain of trust from anchor dhp.test."},

		{name: "insecure delegation", qname: "alice.insecure.test.", qtype: dns.TypeTLSA,
			want: Insecure, reason: "no DS at insecure.test. ({kind} proof from test.): zone is unsigned"},
		{name: "insecure NXDOMAIN below unsigned delegation", qname: "bob.insecure.test.", qtype: dns.TypeTLSA,
			want: Insecure, reason: "no DS at insecure.test."},
		{name: "insecure referral to unsigned delegation", qname: "alice.unloaded.test.", qtype: dns.TypeTLSA,
			build: worldOptions{beforeParent: func(t testing.TB, w *world) {
				must(t, w.tld.Add("unloaded NS ns1.unloaded.test.", "ns1.unloaded A 127.0.0.3"))
			}},
			want: Insecure, reason: "no DS at unloaded.test."},

		{name: "bogus tampered TLSA", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			after: func(t *testing.T, w *world) {
				must(t, w.dhp.Tamper("alice.dhp.test.", dns.TypeTLSA, func(rr dns.RR) {
					rr.(*dns.TLSA).Certificate = strings.Repeat("00", 32)
				}))
			},
			want: Bogus, reason: "does not verify: the data or the signature was changed after signing"},
		{name: "bogus expired RRSIG", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			after: func(t *testing.T, w *world) {
				must(t, w.dhp.SignRRset("alice.dhp.test.", dns.TypeTLSA, dnstest.SignOptions{
					Inception: w.now.Add(-48 * time.Hour), Expiration: w.now.Add(-24 * time.Hour)}))
			},
			want: Bogus, reason: "RRSIG over alice.dhp.test./TLSA expired at"},
		{name: "bogus RRSIG not yet valid", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			after: func(t *testing.T, w *world) {
				must(t, w.dhp.SignRRset("alice.dhp.test.", dns.TypeTLSA, dnstest.SignOptions{
					Inception: w.now.Add(24 * time.Hour), Expiration: w.now.Add(48 * time.Hour)}))
			},
			want: Bogus, reason: "RRSIG over alice.dhp.test./TLSA is not valid before"},
		{name: "bogus wrong DS at parent", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			build: worldOptions{beforeParent: func(t testing.TB, w *world) {
				other := dnstest.MustZone(t, "dhp.test.")
				w.tld.Edit(func(rrs []dns.RR) []dns.RR {
					kept := rrs[:0]
					for _, rr := range rrs {
						if rr.Header().Rrtype != dns.TypeDS {
							kept = append(kept, rr)
						}
					}
					return append(kept, other.DS()...)
				})
			}},
			want: Bogus, reason: "DS for dhp.test. does not match any DNSKEY"},
		{name: "bogus missing RRSIG", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			after: func(t *testing.T, w *world) {
				must(t, w.dhp.RemoveRRSIGs("alice.dhp.test.", dns.TypeTLSA))
			},
			want: Bogus, reason: "alice.dhp.test./TLSA has no RRSIG, but alice.dhp.test. lies in signed zone dhp.test."},
		{name: "bogus NXDOMAIN without proof", qname: "bob.dhp.test.", qtype: dns.TypeTLSA,
			resp: func(t *testing.T, w *world) *dns.Msg {
				return withoutTypes(w.query(t, "bob.dhp.test.", dns.TypeTLSA), dns.TypeNSEC, dns.TypeNSEC3)
			},
			want: Bogus, reason: "NXDOMAIN answer for bob.dhp.test.: the authority section holds no NSEC or NSEC3 records signed by dhp.test."},
		{name: "bogus NXDOMAIN without authority records", qname: "bob.dhp.test.", qtype: dns.TypeTLSA,
			resp: func(t *testing.T, w *world) *dns.Msg {
				m := w.query(t, "bob.dhp.test.", dns.TypeTLSA)
				m.Ns = nil
				return m
			},
			want: Bogus, reason: "NXDOMAIN answer for bob.dhp.test. carries no signed NSEC or NSEC3 records, but bob.dhp.test. lies in signed zone dhp.test."},
		{name: "bogus NODATA without proof", qname: "alice.dhp.test.", qtype: dns.TypeTXT,
			resp: func(t *testing.T, w *world) *dns.Msg {
				return withoutTypes(w.query(t, "alice.dhp.test.", dns.TypeTXT), dns.TypeNSEC, dns.TypeNSEC3)
			},
			want: Bogus, reason: "NODATA answer for alice.dhp.test./TXT: the authority section holds no NSEC or NSEC3 records signed by dhp.test."},
		{name: "bogus NXDOMAIN replayed for existing name", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			resp: func(t *testing.T, w *world) *dns.Msg {
				m := w.query(t, "bob.dhp.test.", dns.TypeTLSA)
				m.Question[0].Name = "alice.dhp.test."
				return m
			},
			want: Bogus, reason: "NXDOMAIN answer for alice.dhp.test."},
		{name: "bogus NODATA replayed for existing type", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			resp: func(t *testing.T, w *world) *dns.Msg {
				return w.query(t, "alice.dhp.test.", dns.TypeTXT)
			},
			want: Bogus, reason: "lists type TLSA, so the RRset exists"},

		{name: "bogus CNAME target tampered", qname: "www.dhp.test.", qtype: dns.TypeTLSA,
			after: func(t *testing.T, w *world) {
				must(t, w.dhp.Tamper("alice.dhp.test.", dns.TypeTLSA, func(rr dns.RR) {
					rr.(*dns.TLSA).Usage = 3
				}))
			},
			resp: func(t *testing.T, w *world) *dns.Msg {
				m := w.query(t, "www.dhp.test.", dns.TypeTLSA)
				m.Answer = append(m.Answer, w.query(t, "alice.dhp.test.", dns.TypeTLSA).Answer...)
				return m
			},
			want: Bogus, reason: "RRSIG over alice.dhp.test./TLSA by key tag"},
		{name: "bogus wildcard expansion without proof", qname: "x.wild.dhp.test.", qtype: dns.TypeTXT,
			resp: func(t *testing.T, w *world) *dns.Msg {
				return withoutTypes(w.query(t, "x.wild.dhp.test.", dns.TypeTXT), dns.TypeNSEC, dns.TypeNSEC3)
			},
			want: Bogus, reason: "answer for x.wild.dhp.test. was expanded from wildcard *.wild.dhp.test., but"},
		{name: "bogus wildcard replayed below a closer name", qname: "b.y.wild.dhp.test.", qtype: dns.TypeTXT,
			resp: func(t *testing.T, w *world) *dns.Msg {
				// The *.wild expansion cannot answer b.y.wild.dhp.test.,
				// because y.wild.dhp.test. exists and is the closest
				// encloser. The signature still verifies, so only the
				// denial proof can catch the replay.
				m := w.query(t, "x.wild.dhp.test.", dns.TypeTXT)
				for _, rr := range m.Answer {
					rr.Header().Name = "b.y.wild.dhp.test."
				}
				m.Ns = w.query(t, "b.y.wild.dhp.test.", dns.TypeTXT).Ns
				return m
			},
			want: Bogus, reason: "answer for b.y.wild.dhp.test. was expanded from wildcard *.wild.dhp.test., but"},
		{name: "indeterminate name under no anchor", qname: "alice.insecure.test.", qtype: dns.TypeTLSA,
			anchors: func(w *world) []dns.RR { return w.dhp.DS() },
			want:    Indeterminate, reason: "no trust anchor covers alice.insecure.test."},
		{name: "indeterminate chain fetch SERVFAIL", qname: "alice.dhp.test.", qtype: dns.TypeTLSA,
			after: func(t *testing.T, w *world) {
				w.server.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool {
					if r.Question[0].Qtype != dns.TypeDNSKEY {
						return false
					}
					_ = rw.WriteMsg(new(dns.Msg).SetRcode(r, dns.RcodeServerFailure))
					return true
				})
			},
			want: Indeterminate, reason: "fetching ./DNSKEY failed: rcode SERVFAIL"},
		{name: "indeterminate CNAME loop", qname: "loop1.dhp.test.", qtype: dns.TypeTLSA,
			resp: func(t *testing.T, w *world) *dns.Msg {
				m := w.query(t, "loop1.dhp.test.", dns.TypeTLSA)
				m.Answer = append(m.Answer, w.query(t, "loop2.dhp.test.", dns.TypeTLSA).Answer...)
				return m
			},
			want: Indeterminate, reason: "CNAME loop"},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"NSEC", "NSEC3"} {
		for _, tc := range validateCases() {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				tc.build.sign = dnstest.SignOptions{NSEC3: kind == "NSEC3"}
				w := newWorld(t, tc.build)
				if tc.after != nil {
					tc.after(t, w)
				}
				v := w.validator()
				if tc.anchors != nil {
					v.Anchors = tc.anchors(w)
				}
				resp := w.query(t, tc.qname, tc.qtype)
				if tc.resp != nil {
					resp = tc.resp(t, w)
				}

				got := v.Validate(context.Background(), tc.qname, tc.qtype, resp)
				t.Logf("%s", got)
				if got.Status != tc.want {
					t.Errorf("status = %s, want %s (reason: %s)", got.Status, tc.want, got.Reason)
				}
				if want := strings.ReplaceAll(tc.reason, "{kind}", kind); !strings.Contains(got.Reason, want) {
					t.Errorf("reason = %q, want it to contain %q", got.Reason, want)
				}
			})
		}
	}
}

func TestValidateNSEC3Iterations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		iterations uint16
		want       Status
	}{
		{"zero iterations", 0, Secure},
		{"at the limit", MaxNSEC3Iterations, Secure},
		{"above the limit", MaxNSEC3Iterations + 1, Insecure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{sign: dnstest.SignOptions{NSEC3: true, Iterations: tc.iterations, Salt: "aabbccdd"}})
			resp := w.query(t, "bob.dhp.test.", dns.TypeTLSA)
			got := w.validator().Validate(context.Background(), "bob.dhp.test.", dns.TypeTLSA, resp)
			if got.Status != tc.want {
				t.Errorf("status = %s, want %s (reason: %s)", got.Status, tc.want, got.Reason)
			}
		})
	}
}

func TestValidateCachesChain(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	v := w.validator()
	resp := w.query(t, "alice.dhp.test.", dns.TypeTLSA)

	before := w.server.Queries()
	if got := v.Validate(context.Background(), "alice.dhp.test.", dns.TypeTLSA, resp); got.Status != Secure {
		t.Fatalf("first validation: %s", got)
	}
	first := w.server.Queries() - before
	if first == 0 {
		t.Fatal("first validation sent no queries; the chain cannot have been built")
	}

	before = w.server.Queries()
	if got := v.Validate(context.Background(), "alice.dhp.test.", dns.TypeTLSA, resp); got.Status != Secure {
		t.Fatalf("second validation: %s", got)
	}
	if n := w.server.Queries() - before; n != 0 {
		t.Errorf("second validation sent %d queries, want 0 from the cache", n)
	}

	// Past the DNSKEY TTL the chain is fetched again.
	w.now = w.now.Add(2 * time.Hour)
	before = w.server.Queries()
	if got := v.Validate(context.Background(), "alice.dhp.test.", dns.TypeTLSA, resp); got.Status != Secure {
		t.Fatalf("validation after TTL: %s", got)
	}
	if n := w.server.Queries() - before; n != first {
		t.Errorf("validation after the TTL sent %d queries, want %d", n, first)
	}
}

func TestValidateConcurrent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{sign: dnstest.SignOptions{NSEC3: true}})
	v := w.validator()
	queries := []struct {
		name  string
		qtype uint16
		want  Status
	}{
		{"alice.dhp.test.", dns.TypeTLSA, Secure},
		{"_atproto.alice.dhp.test.", dns.TypeTXT, Secure},
		{"bob.dhp.test.", dns.TypeTLSA, Secure},
		{"alice.insecure.test.", dns.TypeTLSA, Insecure},
	}
	resps := make([]*dns.Msg, len(queries))
	for i, q := range queries {
		resps[i] = w.query(t, q.name, q.qtype)
	}

	var wg sync.WaitGroup
	for range 4 {
		for i, q := range queries {
			wg.Go(func() {
				if got := v.Validate(context.Background(), q.name, q.qtype, resps[i]); got.Status != q.want {
					t.Errorf("%s/%s: %s, want %s", q.name, dns.TypeToString[q.qtype], got, q.want)
				}
			})
		}
	}
	wg.Wait()
}

func TestValidateTimeout(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	resp := w.query(t, "alice.dhp.test.", dns.TypeTLSA)
	w.server.SetHandler(func(dns.ResponseWriter, *dns.Msg) bool { return true })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	got := w.validator().Validate(ctx, "alice.dhp.test.", dns.TypeTLSA, resp)
	if got.Status != Indeterminate || !strings.Contains(got.Reason, "fetching ./DNSKEY failed") {
		t.Errorf("result = %s, want indeterminate after fetching ./DNSKEY failed", got)
	}
}

func TestValidateRcode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	resp := new(dns.Msg).SetRcode(new(dns.Msg).SetQuestion("alice.dhp.test.", dns.TypeTLSA), dns.RcodeServerFailure)
	got := w.validator().Validate(context.Background(), "alice.dhp.test.", dns.TypeTLSA, resp)
	if got.Status != Indeterminate || !strings.Contains(got.Reason, "rcode SERVFAIL") {
		t.Errorf("result = %s, want indeterminate naming rcode SERVFAIL", got)
	}
}

func TestStatusString(t *testing.T) {
	t.Parallel()
	want := map[Status]string{Indeterminate: "indeterminate", Secure: "secure", Insecure: "insecure", Bogus: "bogus"}
	for s, w := range want {
		if s.String() != w {
			t.Errorf("Status(%d).String() = %q, want %q", int(s), s.String(), w)
		}
	}
}

func TestValidateSignatureBudget(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	resp := w.query(t, "alice.dhp.test.", dns.TypeTLSA)

	// Hundreds of copies of the RRSIG with broken signatures, all naming
	// the real key: each one costs a verification.
	_, sigs := rrsetOf(resp.Answer, "alice.dhp.test.", dns.TypeTLSA)
	for i := range 2 * maxSignatureChecks {
		bad := dns.Copy(sigs[0]).(*dns.RRSIG)
		bad.Signature = strings.Repeat("A", 84) + fmt.Sprintf("%04d", i)
		resp.Answer = append([]dns.RR{bad}, resp.Answer...)
	}

	got := w.validator().Validate(context.Background(), "alice.dhp.test.", dns.TypeTLSA, resp)
	if got.Status != Bogus {
		t.Errorf("status = %s, want bogus (reason: %s)", got.Status, got.Reason)
	}
	if !strings.Contains(got.Reason, "validation stopped after") {
		t.Errorf("reason = %q, want it to name the signature budget", got.Reason)
	}
}

func TestValidateOptOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{sign: dnstest.SignOptions{NSEC3: true, OptOut: true}})
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		want   Status
		reason string
	}{
		{"signed data stays secure", "alice.dhp.test.", dns.TypeTLSA, Secure, "verified with a key of dhp.test."},
		{"unsigned delegation", "alice.insecure.test.", dns.TypeTLSA, Insecure, "no DS at insecure.test. (opt-out NSEC3 from test.)"},
		{"NXDOMAIN in opt-out span", "bob.dhp.test.", dns.TypeTLSA, Insecure, "rests on an opt-out NSEC3 record of dhp.test."},
		{"NODATA with matching NSEC3", "alice.dhp.test.", dns.TypeTXT, Secure, "proven by NSEC3 records"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := w.query(t, tc.qname, tc.qtype)
			got := w.validator().Validate(context.Background(), tc.qname, tc.qtype, resp)
			if got.Status != tc.want {
				t.Errorf("status = %s, want %s (reason: %s)", got.Status, tc.want, got.Reason)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", got.Reason, tc.reason)
			}
		})
	}
}
