package dnssec

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/internal/dnstest"
)

const aliceTLSA = "2 1 1 8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1"

// world is a signed test hierarchy on a loopback server:
//
//	.                 signed, its DS is the trust anchor
//	test.             signed, delegates dhp.test. (signed) and insecure.test. (no DS)
//	dhp.test.         signed: TLSA, TXT, CNAME, wildcard, empty non-terminal
//	insecure.test.    unsigned
type world struct {
	root, tld, dhp, insecure *dnstest.Zone

	server *dnstest.Server
	now    time.Time
	opts   dnstest.SignOptions
}

// worldOptions changes a world between signing and serving.
type worldOptions struct {
	sign dnstest.SignOptions

	// beforeParent runs after dhp.test. is signed and before test. is,
	// to change what test. publishes about dhp.test.
	beforeParent func(t testing.TB, w *world)
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	w := &world{now: time.Now(), opts: o.sign}
	w.root = dnstest.MustZone(t, ".")
	w.tld = dnstest.MustZone(t, "test.")
	w.dhp = dnstest.MustZone(t, "dhp.test.",
		"alice IN TLSA "+aliceTLSA,
		`_atproto.alice IN TXT "did=did:plc:abcdefghijklmnopqrstuvwx"`,
		"www IN CNAME alice",
		"loop1 IN CNAME loop2",
		"loop2 IN CNAME loop1",
		`*.wild IN TXT "from the wildcard"`,
		`a.y.wild IN TXT "blocks the wildcard below y.wild"`,
		`deep.ent IN TXT "below an empty non-terminal"`)
	w.insecure = dnstest.MustZone(t, "insecure.test.", "alice IN TLSA "+aliceTLSA)

	must(t, w.dhp.Sign(o.sign))
	must(t, w.tld.Delegate(w.dhp))
	must(t, w.tld.Delegate(w.insecure))
	if o.beforeParent != nil {
		o.beforeParent(t, w)
	}
	must(t, w.tld.Sign(o.sign))
	must(t, w.root.Delegate(w.tld))
	must(t, w.root.Sign(o.sign))

	w.server = dnstest.Start(t, w.root, w.tld, w.dhp, w.insecure)
	return w
}

// validator returns a Validator anchored at the root's DS that queries the
// world's server.
func (w *world) validator() *Validator {
	return &Validator{
		Anchors:   w.root.DS(),
		Exchanger: w.server,
		Now:       func() time.Time { return w.now },
	}
}

func (w *world) query(t testing.TB, name string, qtype uint16) *dns.Msg {
	t.Helper()
	resp, err := w.server.Exchange(context.Background(), name, qtype)
	if err != nil {
		t.Fatalf("query %s/%s: %v", name, dns.TypeToString[qtype], err)
	}
	return resp
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// withoutTypes returns a copy of m without the records of the given types
// (and their RRSIGs) in the authority section.
func withoutTypes(m *dns.Msg, types ...uint16) *dns.Msg {
	c := m.Copy()
	drop := map[uint16]bool{}
	for _, t := range types {
		drop[t] = true
	}
	kept := c.Ns[:0]
	for _, rr := range c.Ns {
		t := rr.Header().Rrtype
		if sig, ok := rr.(*dns.RRSIG); ok {
			t = sig.TypeCovered
		}
		if !drop[t] {
			kept = append(kept, rr)
		}
	}
	c.Ns = kept
	return c
}
