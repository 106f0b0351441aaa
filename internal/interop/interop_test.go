//go:build interop

package interop

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/internal/dnstest"
)

// signedWorld builds the signed chain . -> test. -> dhp.test. with one
// handle's TLSA and TXT records.
func signedWorld(t *testing.T) (root, tld, dhp *dnstest.Zone) {
	t.Helper()
	root = dnstest.MustZone(t, ".")
	tld = dnstest.MustZone(t, "test.")
	dhp = dnstest.MustZone(t, "dhp.test.",
		"alice.dhp.test. 300 IN TLSA 2 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		`_atproto.alice.dhp.test. 300 IN TXT "did=did:plc:ewvi7nxzyoun6zhxrhs64oiz"`)
	if err := dnstest.SignChain(dnstest.SignOptions{}, root, tld, dhp); err != nil {
		t.Fatal(err)
	}
	return root, tld, dhp
}

func query(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s/%s at %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return r
}

func TestInteropKnotServesSignedZone(t *testing.T) {
	root, tld, dhp := signedWorld(t)
	knot := StartKnot(t, root, tld, dhp)

	r := query(t, knot.Addr, "alice.dhp.test.", dns.TypeTLSA)
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		t.Fatalf("knot answer: rcode %s, AA %v, want NOERROR and AA", dns.RcodeToString[r.Rcode], r.Authoritative)
	}
	var sigs int
	for _, rr := range r.Answer {
		if _, ok := rr.(*dns.RRSIG); ok {
			sigs++
		}
	}
	if sigs == 0 {
		t.Errorf("knot answer carries no RRSIG:\n%s", r)
	}
}

func TestInteropUnboundValidates(t *testing.T) {
	root, tld, dhp := signedWorld(t)
	knot := StartKnot(t, root, tld, dhp)
	unbound := StartUnbound(t, knot.Addr, root)

	for _, qtype := range []uint16{dns.TypeTLSA, dns.TypeTXT} {
		name := "alice.dhp.test."
		if qtype == dns.TypeTXT {
			name = "_atproto.alice.dhp.test."
		}
		r := query(t, unbound.Addr, name, qtype)
		if r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s/%s: rcode %s, want NOERROR", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode])
		}
		if !r.AuthenticatedData {
			t.Errorf("%s/%s: AD not set, want a validated answer:\n%s", name, dns.TypeToString[qtype], r)
		}
	}
}

func TestInteropUnboundRejectsTampered(t *testing.T) {
	root, tld, dhp := signedWorld(t)
	if err := dhp.Tamper("alice.dhp.test.", dns.TypeTLSA, func(rr dns.RR) {
		rr.(*dns.TLSA).Certificate = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	}); err != nil {
		t.Fatal(err)
	}
	knot := StartKnot(t, root, tld, dhp)
	unbound := StartUnbound(t, knot.Addr, root)

	r := query(t, unbound.Addr, "alice.dhp.test.", dns.TypeTLSA)
	if r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL for a bogus answer:\n%s", dns.RcodeToString[r.Rcode], r)
	}
	var ede *dns.EDNS0_EDE
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				ede = e
			}
		}
	}
	if ede == nil {
		t.Fatalf("SERVFAIL carries no extended DNS error:\n%s", r)
	}
	if ede.InfoCode < dns.ExtendedErrorCodeDNSBogus || ede.InfoCode > dns.ExtendedErrorCodeNSECMissing {
		t.Errorf("extended DNS error %d (%s), want a DNSSEC failure code", ede.InfoCode, ede.ExtraText)
	}
}
