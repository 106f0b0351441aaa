package resolve

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/internal/dnstest"
)

// Test data published in the zones of testWorld.
const (
	didAlice   = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	didOther   = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
	tlsaAlice  = "2 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6"
	tlsaDevice = "3 1 1 8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d"
)

// world is a signed DNS tree for tests: a root and "test." signed with NSEC,
// children that cover the other DNSSEC cases, and the DS of the root as the
// trust anchor.
type world struct {
	zones   []*dnstest.Zone
	anchors []dns.RR
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

// testWorld builds the zones once per test binary; each test starts its
// own server on them, so handler overrides do not leak between tests.
func testWorld(t testing.TB) *world {
	t.Helper()
	worldOnce.Do(func() { theWorld, worldErr = buildWorld() })
	if worldErr != nil {
		t.Fatalf("build test zones: %v", worldErr)
	}
	return theWorld
}

func buildWorld() (*world, error) {
	now := time.Now()
	newZone := func(origin string, rrs ...string) *dnstest.Zone {
		z, err := dnstest.NewZone(origin, rrs...)
		if err != nil {
			panic(err)
		}
		return z
	}

	root := newZone(".")
	tld := newZone("test.",
		"test. 3600 IN SOA ns1.test. hostmaster.test. 1 7200 3600 1209600 60",
		"alice.test. 300 IN TLSA "+tlsaAlice,
		"alice.test. 300 IN TLSA "+tlsaDevice,
		`_atproto.alice.test. 300 IN TXT "did=`+didAlice+`" "oauth=https://idp.test"`,
		`_atproto.twodid.test. 300 IN TXT "did=`+didAlice+`"`,
		`_atproto.twodid.test. 300 IN TXT "did=`+didOther+`"`,
		"twodid.test. 300 IN TLSA "+tlsaAlice,
		"notlsa.test. 300 IN A 192.0.2.1",
		"cname.test. 300 IN CNAME alice.test.",
		"_atproto.cname.test. 120 IN CNAME _atproto.alice.test.",
		"loop1.test. 300 IN CNAME loop2.test.",
		"loop2.test. 300 IN CNAME loop1.test.",
		"big.test. 300 IN TLSA "+tlsaAlice,
	)
	// A TXT RRset larger than the 1232-byte EDNS buffer forces TCP.
	for i := range 12 {
		filler := make([]byte, 200)
		for j := range filler {
			filler[j] = 'a' + byte((i+j)%26)
		}
		if err := tld.Add(`_atproto.big.test. 300 IN TXT "note` + string(rune('a'+i)) + `=` + string(filler) + `"`); err != nil {
			return nil, err
		}
	}
	if err := tld.Add(`_atproto.big.test. 300 IN TXT "did=` + didAlice + `"`); err != nil {
		return nil, err
	}
	// A chain of ten CNAMEs, longer than MaxCNAMEs.
	for i := range 10 {
		rr := "chain" + itoa(i) + ".test. 300 IN CNAME chain" + itoa(i+1) + ".test."
		if err := tld.Add(rr); err != nil {
			return nil, err
		}
	}

	unsigned := newZone("unsigned.test.",
		"bob.unsigned.test. 300 IN TLSA "+tlsaAlice,
		`_atproto.bob.unsigned.test. 300 IN TXT "did=`+didAlice+`"`)
	nsec3 := newZone("nsec3.test.",
		"nsec3.test. 3600 IN SOA ns1.nsec3.test. hostmaster.nsec3.test. 1 7200 3600 1209600 90",
		"carol.nsec3.test. 300 IN TLSA "+tlsaAlice,
		`_atproto.carol.nsec3.test. 300 IN TXT "did=`+didAlice+`"`,
		"notlsa.nsec3.test. 300 IN A 192.0.2.2")
	bad := newZone("bad.test.",
		"dave.bad.test. 300 IN TLSA "+tlsaAlice,
		`_atproto.dave.bad.test. 300 IN TXT "did=`+didAlice+`"`)
	expired := newZone("expired.test.",
		"erin.expired.test. 300 IN TLSA "+tlsaAlice,
		`_atproto.erin.expired.test. 300 IN TXT "did=`+didAlice+`"`)
	wrongDS := newZone("wrongds.test.",
		"frank.wrongds.test. 300 IN TLSA "+tlsaAlice,
		`_atproto.frank.wrongds.test. 300 IN TXT "did=`+didAlice+`"`)

	steps := []func() error{
		func() error { return nsec3.Sign(dnstest.SignOptions{NSEC3: true}) },
		func() error { return bad.Sign(dnstest.SignOptions{}) },
		func() error {
			return bad.Tamper("dave.bad.test.", dns.TypeTLSA, func(rr dns.RR) {
				rr.(*dns.TLSA).Certificate = "00" + rr.(*dns.TLSA).Certificate[2:]
			})
		},
		func() error {
			return expired.Sign(dnstest.SignOptions{Inception: now.Add(-48 * time.Hour), Expiration: now.Add(-24 * time.Hour)})
		},
		func() error { return wrongDS.Sign(dnstest.SignOptions{}) },
		func() error { return tld.Delegate(unsigned) },
		func() error { return tld.Delegate(nsec3) },
		func() error { return tld.Delegate(bad) },
		func() error { return tld.Delegate(expired) },
		func() error { return tld.Delegate(wrongDS) },
		func() error {
			return tld.Tamper("wrongds.test.", dns.TypeDS, func(rr dns.RR) {
				ds := rr.(*dns.DS)
				ds.Digest = "ff" + ds.Digest[2:]
			})
		},
		func() error { return tld.Sign(dnstest.SignOptions{}) },
		func() error { return root.Delegate(tld) },
		func() error { return root.Sign(dnstest.SignOptions{}) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return &world{
		zones:   []*dnstest.Zone{root, tld, unsigned, nsec3, bad, expired, wrongDS},
		anchors: root.DS(),
	}, nil
}

// start serves the world on a new loopback server for the test.
func (w *world) start(t testing.TB) *dnstest.Server {
	t.Helper()
	return dnstest.Start(t, w.zones...)
}

// fakeClock is an injectable clock that moves only when Advance is called.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestResolver returns a resolver for srv with a short overall timeout,
// failing the test on configuration errors.
func newTestResolver(t testing.TB, cfg Config) *Resolver {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// setAD wraps the server's answers with the AD bit set, as a validating
// resolver would after successful validation.
func setAD(srv *dnstest.Server) {
	srv.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool {
		m := srv.Answer(r)
		m.AuthenticatedData = true
		_ = w.WriteMsg(m)
		return true
	})
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
