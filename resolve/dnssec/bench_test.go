package dnssec

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkValidateCachedTLSA measures Validate on a signed TLSA answer
// whose chain of trust is already cached, against the baseline of one bare
// RRSIG.Verify over the same RRset (the cryptographic floor). ns/op covers
// both; the custom metrics separate them.
func BenchmarkValidateCachedTLSA(b *testing.B) {
	ctx := context.Background()
	w := newWorld(b, worldOptions{})
	v := w.validator()
	resp := w.query(b, "alice.dhp.test.", dns.TypeTLSA)
	if r := v.Validate(ctx, "alice.dhp.test.", dns.TypeTLSA, resp); r.Status != Secure {
		b.Fatalf("warm-up validation: %s", r)
	}

	zsk := w.dhp.DNSKEYs()[1].(*dns.DNSKEY)
	set, sigs := rrsetOf(resp.Answer, "alice.dhp.test.", dns.TypeTLSA)
	if len(sigs) != 1 {
		b.Fatalf("answer holds %d RRSIGs over the TLSA RRset, want 1", len(sigs))
	}

	var verify, validate time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		if err := sigs[0].Verify(zsk, set); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if r := v.Validate(ctx, "alice.dhp.test.", dns.TypeTLSA, resp); r.Status != Secure {
			b.Fatal(r)
		}
		verify += mid.Sub(start)
		validate += time.Since(mid)
		n++
	}
	b.ReportMetric(float64(verify.Nanoseconds())/float64(n), "baseline-rrsig-verify-ns/op")
	b.ReportMetric(float64(validate.Nanoseconds())/float64(n), "validate-ns/op")
	b.ReportMetric(float64(validate)/float64(verify), "validate/baseline")
}
