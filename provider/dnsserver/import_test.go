package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/resolve/dnssec"
)

// importHandles runs one Import of the given handles, in Add calls of
// perAdd handles, with UpdateZone steps of stepRows rows.
func importHandles(t testing.TB, st store.Store, signer *Signer, handles []string, perAdd, stepRows int) uint32 {
	t.Helper()
	ctx := context.Background()
	var serial uint32
	err := st.InTx(ctx, func(tx store.Tx) error {
		imp, err := signer.NewImport(ctx, tx, testZone)
		if err != nil {
			return err
		}
		imp.stepRows = stepRows
		for start := 0; start < len(handles); start += perAdd {
			sets := map[RRsetKey][]dns.RR{}
			for _, h := range handles[start:min(start+perAdd, len(handles))] {
				for k, v := range handleRRsets(t, h) {
					sets[k] = v
				}
			}
			if err := imp.Add(sets); err != nil {
				return err
			}
		}
		serial, err = imp.Finish()
		return err
	})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return serial
}

// unsignedRows returns the zone's rows as sorted strings, without what
// differs between two stores with the same names: the keys, the
// signatures and the SOA serial.
func unsignedRows(t *testing.T, st store.Store) []string {
	t.Helper()
	var out []string
	err := st.WalkZone(context.Background(), testZone, func(r store.RR) error {
		if r.Type != dns.TypeRRSIG && r.Type != dns.TypeSOA && r.Type != dns.TypeDNSKEY {
			out = append(out, fmt.Sprintf("%s %d %d %s", r.Name, r.Type, r.TTL, r.Data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestImportMatchesReplaceRRsets(t *testing.T) {
	t.Parallel()
	handles := []string{"a.b.dhp.test."} // b becomes an empty non-terminal
	for i := range 40 {
		handles = append(handles, fmt.Sprintf("h%d.dhp.test.", i))
	}

	imported, signer := newStoreAndSigner(t)
	replace(t, imported, signer, handleRRsets(t, "alice.dhp.test."))
	serial := importHandles(t, imported, signer, handles, 7, 25)

	oneByOne, signer2 := newStoreAndSigner(t)
	replace(t, oneByOne, signer2, handleRRsets(t, "alice.dhp.test."))
	for _, h := range handles {
		replace(t, oneByOne, signer2, handleRRsets(t, h))
	}

	got, want := unsignedRows(t, imported), unsignedRows(t, oneByOne)
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("first difference at row %d:\ngot  %s\nwant %s", i, got[i], want[i])
				break
			}
		}
		t.Fatalf("imported zone differs from the zone built by ReplaceRRsets: %d rows against %d", len(got), len(want))
	}
	rrs := zoneRRs(t, imported)
	if problems := checkSignedZone(testZone, rrs, time.Now()); len(problems) > 0 {
		t.Fatalf("imported zone problems:\n%v", problems)
	}
	soa := rrsOfType(rrs, dns.TypeSOA)
	if len(soa) != 1 || soa[0].(*dns.SOA).Serial != serial {
		t.Fatalf("SOA %v, want serial %d", soa, serial)
	}
	if stored, err := imported.ZoneSerial(context.Background(), testZone); err != nil || stored != serial {
		t.Fatalf("zone serial %d (%v), want %d", stored, err, serial)
	}
}

func TestImportedZoneValidates(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	importHandles(t, st, signer, []string{"bob.dhp.test.", "x.y.dhp.test."}, 10, ImportStepRows)
	srv, err := NewServer(st, Config{Addr: "127.0.0.1:0", Zones: []string{testZone}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	defer func() { cancel(); <-done }()
	w := &world{t: t, st: st, signer: signer, server: srv, addr: srv.Addr()}

	v := w.validator(time.Now())
	for _, q := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"bob.dhp.test.", dns.TypeTLSA, dns.RcodeSuccess},
		{"_atproto.x.y.dhp.test.", dns.TypeTXT, dns.RcodeSuccess},
		{"nobody.dhp.test.", dns.TypeTLSA, dns.RcodeNameError},
		{"y.dhp.test.", dns.TypeTXT, dns.RcodeSuccess}, // empty non-terminal: NODATA
	} {
		r := query(t, w.addr, "udp", q.name, q.qtype)
		if r.Rcode != q.rcode {
			t.Errorf("%s %s: rcode %s, want %s", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[q.rcode])
		}
		if res := v.Validate(context.Background(), q.name, q.qtype, r); res.Status != dnssec.Secure {
			t.Errorf("%s %s: %s", q.name, dns.TypeToString[q.qtype], res)
		}
	}
}

func TestImportRejects(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	replace(t, st, signer, handleRRsets(t, "alice.dhp.test."))
	cname := func(name string) map[RRsetKey][]dns.RR {
		return map[RRsetKey][]dns.RR{{Name: name, Type: dns.TypeCNAME}: {mustRR(t, name+" 300 IN CNAME target.example.")}}
	}
	cases := []struct {
		name string
		sets map[RRsetKey][]dns.RR
	}{
		{"existing RRset", handleRRsets(t, "alice.dhp.test.")},
		{"CNAME beside data", cname("alice.dhp.test.")},
		{"empty RRset", map[RRsetKey][]dns.RR{{Name: "new.dhp.test.", Type: dns.TypeTXT}: nil}},
		{"managed type", map[RRsetKey][]dns.RR{{Name: "new.dhp.test.", Type: dns.TypeNSEC3PARAM}: {mustRR(t, "new.dhp.test. 300 IN NSEC3PARAM 1 0 0 -")}}},
		{"outside the zone", map[RRsetKey][]dns.RR{{Name: "alice.example.", Type: dns.TypeA}: {mustRR(t, "alice.example. 300 IN A 192.0.2.1")}}},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := st.InTx(ctx, func(tx store.Tx) error {
				imp, err := signer.NewImport(ctx, tx, testZone)
				if err != nil {
					return err
				}
				return imp.Add(tc.sets)
			})
			var re *RecordError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a *RecordError", err)
			}
		})
	}

	err := st.InTx(ctx, func(tx store.Tx) error {
		imp, err := signer.NewImport(ctx, tx, testZone)
		if err != nil {
			return err
		}
		if _, err := imp.Finish(); err != nil {
			return err
		}
		return imp.Add(handleRRsets(t, "late.dhp.test."))
	})
	var ze *ZoneError
	if !errors.As(err, &ze) {
		t.Fatalf("Add after Finish: %v, want a *ZoneError", err)
	}
}

func TestImportWithoutAddKeepsSerial(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	before, err := st.ZoneSerial(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	if got := importHandles(t, st, signer, nil, 1, ImportStepRows); got != before {
		t.Fatalf("serial %d after an empty import, want %d", got, before)
	}
}
