package dnsserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/resolve/dnssec"
)

const (
	testZone    = "dhp.test."
	testKeyName = "transfer.dhp.test."
	aliceTLSA   = "2 1 1 8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1"
	aliceDID    = "did:plc:abcdefghijklmnopqrstuvwx"
)

// testSecret is the base64 HMAC-SHA256 secret of testKeyName.
var testSecret = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// world is a provider zone in a real SQLite store, signed by a Signer and
// served on loopback.
type world struct {
	t      testing.TB
	st     *store.SQLite
	signer *Signer
	server *Server
	addr   string
}

// newStoreAndSigner opens a SQLite store in a temporary directory and
// creates testZone in it.
func newStoreAndSigner(t testing.TB) (*store.SQLite, *Signer) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "zone.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	sealer, err := store.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	signer := &Signer{Store: st, Sealer: sealer}
	err = st.InTx(ctx, func(tx store.Tx) error {
		return signer.CreateZone(ctx, tx, testZone, []string{"ns1.dhp.test."}, "hostmaster@dhp.test")
	})
	if err != nil {
		t.Fatalf("create zone: %v", err)
	}
	return st, signer
}

// newWorld returns a zone with alice's handle records, served on a
// loopback port until the test ends.
func newWorld(t testing.TB, cfg Config) *world {
	t.Helper()
	st, signer := newStoreAndSigner(t)
	w := &world{t: t, st: st, signer: signer}
	w.addHandle("alice.dhp.test.")

	if cfg.Zones == nil {
		cfg.Zones = []string{testZone}
	}
	if cfg.TSIG == nil {
		cfg.TSIG = map[string]string{testKeyName: testSecret}
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	srv, err := NewServer(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	})
	w.server, w.addr = srv, srv.Addr()
	return w
}

// handleRRsets returns the TLSA and TXT RRsets of a hosted handle.
func handleRRsets(t testing.TB, handle string) map[RRsetKey][]dns.RR {
	t.Helper()
	return map[RRsetKey][]dns.RR{
		{Name: handle, Type: dns.TypeTLSA}:              {mustRR(t, handle+" 300 IN TLSA "+aliceTLSA)},
		{Name: "_atproto." + handle, Type: dns.TypeTXT}: {mustRR(t, "_atproto."+handle+` 300 IN TXT "did=`+aliceDID+`"`)},
	}
}

func deleteRRsets(handle string) map[RRsetKey][]dns.RR {
	return map[RRsetKey][]dns.RR{
		{Name: handle, Type: dns.TypeTLSA}:              nil,
		{Name: "_atproto." + handle, Type: dns.TypeTXT}: nil,
	}
}

// replace runs ReplaceRRsets in its own transaction and returns the serial.
func replace(t testing.TB, st store.Store, signer *Signer, sets map[RRsetKey][]dns.RR) uint32 {
	t.Helper()
	ctx := context.Background()
	var serial uint32
	err := st.InTx(ctx, func(tx store.Tx) error {
		var err error
		serial, err = signer.ReplaceRRsets(ctx, tx, testZone, sets)
		return err
	})
	if err != nil {
		t.Fatalf("ReplaceRRsets: %v", err)
	}
	return serial
}

func (w *world) addHandle(handle string) uint32 {
	w.t.Helper()
	serial := replace(w.t, w.st, w.signer, handleRRsets(w.t, handle))
	if w.server != nil {
		if err := w.server.Notify(context.Background(), testZone); err != nil {
			w.t.Fatalf("Notify: %v", err)
		}
	}
	return serial
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return rr
}

// query sends name/qtype with the DO bit over net ("udp" or "tcp").
func query(t testing.TB, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	return exchange(t, addr, network, m)
}

func exchange(t testing.TB, addr, network string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("exchange %v over %s: %v", m.Question, network, err)
	}
	return r
}

// exchanger lets the validator of resolve/dnssec query the server.
type exchanger struct{ addr string }

func (e exchanger) Exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, e.addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, e.addr)
	}
	return r, err
}

// validator returns a validator anchored at the zone's DS.
func (w *world) validator(now time.Time) *dnssec.Validator {
	w.t.Helper()
	ds, err := w.signer.DS(context.Background(), testZone)
	if err != nil {
		w.t.Fatal(err)
	}
	anchors := make([]dns.RR, len(ds))
	for i, d := range ds {
		anchors[i] = d
	}
	return &dnssec.Validator{Anchors: anchors, Exchanger: exchanger{w.addr}, Now: func() time.Time { return now }}
}

// zoneRRs returns every record of the zone as the store holds it.
func zoneRRs(t testing.TB, st store.Store) []dns.RR {
	t.Helper()
	var out []dns.RR
	err := st.WalkZone(context.Background(), testZone, func(row store.RR) error {
		rr, err := fromStoreRR(row)
		if err == nil {
			out = append(out, rr)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rrsOfType(rrs []dns.RR, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

func sectionString(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}
