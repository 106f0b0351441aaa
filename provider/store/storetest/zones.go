package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

var zoneTests = []conformanceTest{
	{"CreateAndList", func(t *testing.T, st store.Store) {
		newZone(t, st, "zz.test.", 7)
		newZone(t, st, "DHP.test.", 1) // stored lowercase
		zones, err := st.Zones(ctxOf(t))
		must(t, "Zones", err)
		if fmt.Sprint(zones) != "[{dhp.test. 1} {zz.test. 7}]" {
			t.Errorf("Zones = %v, want [{dhp.test. 1} {zz.test. 7}]", zones)
		}
		serial, err := st.ZoneSerial(ctxOf(t), "dhp.test.")
		must(t, "ZoneSerial", err)
		if serial != 1 {
			t.Errorf("ZoneSerial = %d, want 1", serial)
		}
	}},
	{"DuplicateConflicts", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateZone(ctx, "dhp.test.", 5) })
		wantIs(t, "second CreateZone", err, store.ErrConflict)
	}},
	{"InvalidNameRejected", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.CreateZone(ctx, "dhp.test", 1) })
		var invalid *store.InvalidNameError
		if !errors.As(err, &invalid) {
			t.Errorf("CreateZone of a name without the trailing dot: error %v, want *store.InvalidNameError", err)
		}
	}},
	{"UnknownIsNotFound", func(t *testing.T, st store.Store) {
		_, err := st.ZoneSerial(ctxOf(t), "none.test.")
		wantIs(t, "ZoneSerial", err, store.ErrNotFound)
		_, err = st.Diffs(ctxOf(t), "none.test.", 1)
		wantIs(t, "Diffs", err, store.ErrNotFound)
		err = st.WalkZone(ctxOf(t), "none.test.", func(store.RR) error { return nil })
		wantIs(t, "WalkZone", err, store.ErrNotFound)
		err = txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateZone(ctx, "none.test.", nil, []store.RR{tlsa("a.none.test.", 1)})
			return err
		})
		wantIs(t, "UpdateZone", err, store.ErrNotFound)
	}},
}

var updateZoneTests = []conformanceTest{
	{"SerialGrowsByOne", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 41)
		if s := update(t, st, "dhp.test.", nil, []store.RR{tlsa("a.dhp.test.", 1)}); s != 42 {
			t.Errorf("first UpdateZone returned serial %d, want 42", s)
		}
		if s := update(t, st, "dhp.test.", nil, nil); s != 43 {
			t.Errorf("empty UpdateZone returned serial %d, want 43", s)
		}
		serial, err := st.ZoneSerial(ctxOf(t), "dhp.test.")
		must(t, "ZoneSerial", err)
		if serial != 43 {
			t.Errorf("ZoneSerial = %d, want 43", serial)
		}
	}},
	{"SerialWraps", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 4294967295)
		if s := update(t, st, "dhp.test.", nil, nil); s != 0 {
			t.Errorf("UpdateZone at serial 4294967295 returned %d, want 0 (RFC 1982)", s)
		}
	}},
	{"DeleteThenAdd", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		update(t, st, "dhp.test.", nil, []store.RR{tlsa("a.dhp.test.", 1), tlsa("a.dhp.test.", 2)})
		changed := tlsa("a.dhp.test.", 1)
		changed.TTL = 60
		// The deleted record carries another TTL than the stored one.
		update(t, st, "dhp.test.", []store.RR{{Name: "a.dhp.test.", Type: dns.TypeTLSA, Data: changed.Data}}, []store.RR{changed})
		rrs, err := st.LookupName(ctxOf(t), "dhp.test.", "a.dhp.test.")
		must(t, "LookupName", err)
		if len(rrs) != 2 || rrs[0].TTL != 60 || rrs[1].TTL != 300 {
			t.Errorf("records after the TTL change: %v, want the first with TTL 60", rrs)
		}
	}},
	{"AddExistingConflicts", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		update(t, st, "dhp.test.", nil, []store.RR{tlsa("a.dhp.test.", 1)})
		again := tlsa("a.dhp.test.", 1)
		again.TTL = 10 // the TTL does not make it another record
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateZone(ctx, "dhp.test.", nil, []store.RR{tlsa("b.dhp.test.", 2), again})
			return err
		})
		wantIs(t, "UpdateZone adding an existing record", err, store.ErrConflict)
		checkSerial(t, st, "dhp.test.", 2)
	}},
	{"DeleteMissingIsNotFound", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		update(t, st, "dhp.test.", nil, []store.RR{tlsa("a.dhp.test.", 1)})
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateZone(ctx, "dhp.test.", []store.RR{tlsa("a.dhp.test.", 2)}, nil)
			return err
		})
		wantIs(t, "UpdateZone deleting a missing record", err, store.ErrNotFound)
		checkSerial(t, st, "dhp.test.", 2)
	}},
	{"InvalidRecordsRejected", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		cases := []struct {
			name string
			rr   store.RR
		}{
			{"OutsideZone", tlsa("a.other.test.", 1)},
			{"SuffixButNotBelow", tlsa("xdhp.test.", 1)},
			{"OtherZoneField", store.RR{Zone: "other.test.", Name: "a.dhp.test.", Type: dns.TypeTLSA, Data: "2 1 1 00"}},
			{"NotFullyQualified", tlsa("a.dhp.test", 1)},
			{"TypeZero", store.RR{Name: "a.dhp.test.", Data: "x"}},
			{"RRSIGWithoutCovered", store.RR{Name: "a.dhp.test.", Type: dns.TypeRRSIG, Data: "x"}},
			{"CoveredOnTLSA", store.RR{Name: "a.dhp.test.", Type: dns.TypeTLSA, Covered: dns.TypeTXT, Data: "x"}},
			{"HashOnTLSA", store.RR{Name: "a.dhp.test.", Type: dns.TypeTLSA, Hash: "abc", Data: "x"}},
			{"WrongNSEC3Hash", store.RR{Name: "abc.dhp.test.", Type: dns.TypeNSEC3, Hash: "abd", Data: "x"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
					_, err := tx.UpdateZone(ctx, "dhp.test.", nil, []store.RR{tc.rr})
					return err
				})
				var invalid *store.InvalidRecordError
				if !errors.As(err, &invalid) {
					t.Errorf("UpdateZone(%+v): error %v, want *store.InvalidRecordError", tc.rr, err)
				}
			})
		}
		checkSerial(t, st, "dhp.test.", 1)
	}},
	{"NormalizesNamesAndHash", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		update(t, st, "DHP.test.", nil, []store.RR{
			{Name: "A.Dhp.Test.", Type: dns.TypeTLSA, TTL: 300, Data: "2 1 1 00"},
			{Name: "ABCDEF.dhp.test.", Type: dns.TypeNSEC3, TTL: 300, Data: "1 0 0 - ABCDEG A RRSIG"},
		})
		rrs, err := st.LookupName(ctxOf(t), "dhp.test.", "a.dhp.test.")
		must(t, "LookupName", err)
		if len(rrs) != 1 || rrs[0].Name != "a.dhp.test." || rrs[0].Zone != "dhp.test." {
			t.Errorf("LookupName = %+v, want one record named a.dhp.test. in dhp.test.", rrs)
		}
		n3, err := st.LookupNSEC3(ctxOf(t), "dhp.test.", "abcdef")
		must(t, "LookupNSEC3", err)
		if n3.Name != "abcdef.dhp.test." || n3.Hash != "abcdef" {
			t.Errorf("NSEC3 stored as name %q hash %q, want abcdef.dhp.test. and abcdef", n3.Name, n3.Hash)
		}
	}},
	{"LeavesCallerSlicesAlone", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		added := []store.RR{{Name: "A.dhp.test.", Type: dns.TypeTLSA, TTL: 300, Data: "2 1 1 00"}}
		update(t, st, "dhp.test.", nil, added)
		if added[0].Name != "A.dhp.test." || added[0].Zone != "" {
			t.Errorf("UpdateZone changed the caller's record to %+v", added[0])
		}
	}},
}

// checkSerial fails the test unless zone has the serial want.
func checkSerial(t *testing.T, st store.Store, zone string, want uint32) {
	t.Helper()
	serial, err := st.ZoneSerial(ctxOf(t), zone)
	must(t, "ZoneSerial", err)
	if serial != want {
		t.Errorf("serial of %s = %d, want %d", zone, serial, want)
	}
}

var lookupTests = []conformanceTest{
	{"LookupNameAllTypes", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		newZone(t, st, "sub.dhp.test.", 1)
		txt := store.RR{Name: "alice.dhp.test.", Type: dns.TypeTXT, TTL: 300, Data: `"did=did:key:z6Mk"`}
		update(t, st, "dhp.test.", nil, []store.RR{
			txt, tlsa("alice.dhp.test.", 1), rrsig("alice.dhp.test.", dns.TypeTXT), rrsig("alice.dhp.test.", dns.TypeTLSA),
			tlsa("bob.dhp.test.", 2), tlsa("sub.dhp.test.", 9),
		})
		update(t, st, "sub.dhp.test.", nil, []store.RR{tlsa("sub.dhp.test.", 3)})

		rrs, err := st.LookupName(ctxOf(t), "dhp.test.", "ALICE.dhp.test.")
		must(t, "LookupName", err)
		var got []string
		for _, rr := range rrs {
			got = append(got, fmt.Sprintf("%s/%d", dns.TypeToString[rr.Type], rr.Covered))
		}
		// Ordered by type: TXT 16, RRSIG 46, TLSA 52; RRSIGs by covered type.
		if fmt.Sprint(got) != "[TXT/0 RRSIG/16 RRSIG/52 TLSA/0]" {
			t.Errorf("LookupName returned %v, want [TXT/0 RRSIG/16 RRSIG/52 TLSA/0]", got)
		}
		if rrs[0] != (store.RR{Zone: "dhp.test.", Name: "alice.dhp.test.", Type: dns.TypeTXT, TTL: 300, Data: txt.Data}) {
			t.Errorf("TXT record read back as %+v", rrs[0])
		}

		// The same owner in the parent and the child zone stays apart.
		child, err := st.LookupName(ctxOf(t), "sub.dhp.test.", "sub.dhp.test.")
		must(t, "LookupName in the child zone", err)
		if len(child) != 1 || child[0].Data != tlsa("", 3).Data {
			t.Errorf("child zone records %+v, want the one TLSA of the child", child)
		}
		none, err := st.LookupName(ctxOf(t), "dhp.test.", "carol.dhp.test.")
		must(t, "LookupName of a missing name", err)
		if len(none) != 0 {
			t.Errorf("LookupName of a missing name returned %v", none)
		}
	}},
	{"LookupNSEC3", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		newZone(t, st, "empty.test.", 1)
		_, err := st.LookupNSEC3(ctxOf(t), "dhp.test.", "5555")
		wantIs(t, "LookupNSEC3 in a zone without NSEC3", err, store.ErrNotFound)

		update(t, st, "dhp.test.", nil, []store.RR{
			nsec3("dhp.test.", "2222", "6666"), nsec3("dhp.test.", "6666", "aaaa"), nsec3("dhp.test.", "aaaa", "2222"),
			rrsig("2222.dhp.test.", dns.TypeNSEC3), rrsig("aaaa.dhp.test.", dns.TypeNSEC3),
			tlsa("zzzz.dhp.test.", 1),
		})
		update(t, st, "empty.test.", nil, []store.RR{nsec3("empty.test.", "9999", "9999")})
		cases := []struct{ hash, want string }{
			{"2222", "2222"}, // matches
			{"5555", "2222"}, // covered by its predecessor
			{"6666", "6666"},
			{"9999", "6666"},
			{"AAAA", "aaaa"}, // case does not matter
			{"vvvv", "aaaa"}, // after the last hash
			{"0000", "aaaa"}, // before the first hash: wraps around to the last
		}
		for _, tc := range cases {
			t.Run(tc.hash, func(t *testing.T) {
				rr, err := st.LookupNSEC3(ctxOf(t), "dhp.test.", tc.hash)
				must(t, "LookupNSEC3", err)
				if rr.Type != dns.TypeNSEC3 || rr.Hash != tc.want || rr.Name != tc.want+".dhp.test." {
					t.Errorf("LookupNSEC3(%s) = %+v, want the NSEC3 with hash %s", tc.hash, rr, tc.want)
				}
			})
		}
	}},
	{"NameExistsBelow", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		newZone(t, st, "other.test.", 1)
		update(t, st, "dhp.test.", nil, []store.RR{
			tlsa("a.b.dhp.test.", 1), tlsa("xb.dhp.test.", 2), tlsa("b-c.dhp.test.", 3), tlsa("c.dhp.test.", 4),
		})
		update(t, st, "other.test.", nil, []store.RR{tlsa("deep.c.other.test.", 1)})
		cases := []struct {
			name string
			want bool
		}{
			{"dhp.test.", true},
			{"b.dhp.test.", true}, // an empty non-terminal
			{"B.dhp.test.", true},
			{"a.b.dhp.test.", false},
			{"xb.dhp.test.", false},
			{"b-c.dhp.test.", false},
			{"c.dhp.test.", false}, // only other.test. has names below c.
			{"missing.dhp.test.", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.NameExistsBelow(ctxOf(t), "dhp.test.", tc.name)
				must(t, "NameExistsBelow", err)
				if got != tc.want {
					t.Errorf("NameExistsBelow(%s) = %v, want %v", tc.name, got, tc.want)
				}
			})
		}
	}},
	{"NamesBelow", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		newZone(t, st, "other.test.", 1)
		update(t, st, "dhp.test.", nil, []store.RR{
			tlsa("b.dhp.test.", 1), tlsa("b.dhp.test.", 2), tlsa("_atproto.b.dhp.test.", 3),
			tlsa("a.b.dhp.test.", 4), tlsa("z.a.b.dhp.test.", 5), tlsa("xb.dhp.test.", 6),
			nsec3("dhp.test.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
			rrsig("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.dhp.test.", dns.TypeNSEC3),
		})
		update(t, st, "other.test.", nil, []store.RR{tlsa("deep.b.other.test.", 1)})
		cases := []struct {
			name  string
			limit int
			want  []string
		}{
			{"b.dhp.test.", 10, []string{"_atproto.b.dhp.test.", "a.b.dhp.test.", "z.a.b.dhp.test."}},
			{"B.DHP.test.", 10, []string{"_atproto.b.dhp.test.", "a.b.dhp.test.", "z.a.b.dhp.test."}},
			{"b.dhp.test.", 2, []string{"_atproto.b.dhp.test.", "a.b.dhp.test."}},
			{"b.dhp.test.", 0, nil},
			{"a.b.dhp.test.", 10, []string{"z.a.b.dhp.test."}},
			{"xb.dhp.test.", 10, nil},
			{"missing.dhp.test.", 10, nil},
			{"dhp.test.", 10, []string{"b.dhp.test.", "_atproto.b.dhp.test.", "a.b.dhp.test.", "z.a.b.dhp.test.", "xb.dhp.test."}},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%d", tc.name, tc.limit), func(t *testing.T) {
				got, err := st.NamesBelow(ctxOf(t), "dhp.test.", tc.name, tc.limit)
				must(t, "NamesBelow", err)
				if !slices.Equal(got, tc.want) {
					t.Errorf("NamesBelow(%s, %d) = %v, want %v", tc.name, tc.limit, got, tc.want)
				}
			})
		}
		if _, err := st.NamesBelow(ctxOf(t), "dhp.test.", "not fully qualified", 10); err == nil {
			t.Error("NamesBelow accepted a name that is not fully qualified")
		}
	}},
}

var zoneKeyTests = []conformanceTest{
	{"RoundTrip", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		sealer, err := store.NewSealer(make([]byte, store.KEKSize))
		must(t, "NewSealer", err)
		sealed, err := sealer.Seal([]byte("PKCS#8 of the ZSK"), "zsk:dhp.test.")
		must(t, "Seal", err)
		zsk := store.ZoneKey{Zone: "dhp.test.", Flags: 256, Algorithm: 13, DNSKEY: "256 3 13 zskzsk==", PrivateKey: sealed, CreatedAt: testTime}
		ksk := store.ZoneKey{Zone: "dhp.test.", Flags: 257, Algorithm: 13, DNSKEY: "257 3 13 kskksk==", PrivateKey: []byte{9, 9, 0}, CreatedAt: testTime}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			if err := tx.PutZoneKey(ctx, zsk); err != nil {
				return err
			}
			return tx.PutZoneKey(ctx, ksk)
		})
		keys, err := st.ZoneKeys(ctxOf(t), "dhp.test.")
		must(t, "ZoneKeys", err)
		if len(keys) != 2 {
			t.Fatalf("ZoneKeys returned %d keys, want 2", len(keys))
		}
		for i, want := range []store.ZoneKey{ksk, zsk} {
			got := keys[i]
			if got.Zone != want.Zone || got.Flags != want.Flags || got.Algorithm != want.Algorithm || got.DNSKEY != want.DNSKEY ||
				string(got.PrivateKey) != string(want.PrivateKey) || !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("key %d = %+v, want %+v (key signing key first, sealed bytes unchanged)", i, got, want)
			}
		}
		plaintext, err := sealer.Open(keys[1].PrivateKey, "zsk:dhp.test.")
		if err != nil || string(plaintext) != "PKCS#8 of the ZSK" {
			t.Errorf("the stored ZSK opens to %q, %v; want the sealed plaintext", plaintext, err)
		}
	}},
	{"DuplicateConflicts", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		k := store.ZoneKey{Zone: "dhp.test.", Flags: 256, Algorithm: 13, DNSKEY: "256 3 13 zsk==", PrivateKey: []byte{1}}
		inTx(t, st, func(ctx context.Context, tx store.Tx) error { return tx.PutZoneKey(ctx, k) })
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error { return tx.PutZoneKey(ctx, k) })
		wantIs(t, "second PutZoneKey", err, store.ErrConflict)
	}},
	{"UnknownZoneIsNotFound", func(t *testing.T, st store.Store) {
		err := txErr(t, st, func(ctx context.Context, tx store.Tx) error {
			return tx.PutZoneKey(ctx, store.ZoneKey{Zone: "none.test.", Flags: 256, Algorithm: 13, DNSKEY: "x", PrivateKey: []byte{1}})
		})
		wantIs(t, "PutZoneKey", err, store.ErrNotFound)
		keys, err := st.ZoneKeys(ctxOf(t), "none.test.")
		must(t, "ZoneKeys of an unknown zone", err)
		if len(keys) != 0 {
			t.Errorf("ZoneKeys of an unknown zone returned %d keys", len(keys))
		}
	}},
}
