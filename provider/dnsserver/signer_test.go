package dnsserver

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

func TestCreateZoneSignsApex(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	rrs := zoneRRs(t, st)

	for _, typ := range []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeNSEC3PARAM, dns.TypeNSEC3} {
		if len(rrsOfType(rrs, typ)) == 0 {
			t.Errorf("zone has no %s record:\n%s", dns.TypeToString[typ], sectionString(rrs))
		}
	}
	keys := rrsOfType(rrs, dns.TypeDNSKEY)
	if len(keys) != 2 {
		t.Fatalf("zone has %d DNSKEYs, want a KSK and a ZSK", len(keys))
	}
	for _, k := range keys {
		if k.(*dns.DNSKEY).Algorithm != dns.ECDSAP256SHA256 {
			t.Errorf("DNSKEY algorithm %d, want 13", k.(*dns.DNSKEY).Algorithm)
		}
	}
	if problems := checkSignedZone(testZone, rrs, time.Now()); len(problems) > 0 {
		t.Errorf("signed zone problems:\n%v", problems)
	}

	ds, err := signer.DS(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].DigestType != dns.SHA256 {
		t.Fatalf("DS = %v, want one SHA-256 DS", ds)
	}
	var ksk *dns.DNSKEY
	for _, k := range keys {
		if k.(*dns.DNSKEY).Flags == kskFlags {
			ksk = k.(*dns.DNSKEY)
		}
	}
	if want := ksk.ToDS(dns.SHA256); ds[0].Digest != want.Digest || ds[0].KeyTag != want.KeyTag {
		t.Errorf("DS %s does not match the KSK (want %s)", ds[0], want)
	}
}

func TestCreateZoneTwiceConflicts(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	ctx := context.Background()
	err := st.InTx(ctx, func(tx store.Tx) error {
		return signer.CreateZone(ctx, tx, testZone, []string{"ns1.dhp.test."}, "hostmaster@dhp.test")
	})
	var ze *ZoneError
	if !errors.As(err, &ze) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second CreateZone error = %v, want a *ZoneError wrapping store.ErrConflict", err)
	}
}

func TestKeysSealedWithPurpose(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	rows, err := st.ZoneKeys(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d keys stored, want 2", len(rows))
	}
	for _, row := range rows {
		if _, err := signer.Sealer.Open(row.PrivateKey, sealPurpose(testZone, row.Flags)); err != nil {
			t.Errorf("key with flags %d does not open with its purpose: %v", row.Flags, err)
		}
		other := uint16(kskFlags + zskFlags - int(row.Flags))
		if _, err := signer.Sealer.Open(row.PrivateKey, sealPurpose(testZone, other)); err == nil {
			t.Errorf("key with flags %d opens with the purpose of flags %d", row.Flags, other)
		}
	}
}

// TestChainStaysComplete applies a sequence of changes and checks the
// whole zone after each one against an independent rebuild.
func TestChainStaysComplete(t *testing.T) {
	st, signer := newStoreAndSigner(t)
	txt := func(name, text string) map[RRsetKey][]dns.RR {
		return map[RRsetKey][]dns.RR{{Name: name, Type: dns.TypeTXT}: {mustRR(t, name+` 300 IN TXT "`+text+`"`)}}
	}
	del := func(name string, typ uint16) map[RRsetKey][]dns.RR {
		return map[RRsetKey][]dns.RR{{Name: name, Type: typ}: nil}
	}
	steps := []struct {
		name string
		sets map[RRsetKey][]dns.RR
		ents []string // names that must be empty non-terminals afterwards
	}{
		{name: "add alice", sets: handleRRsets(t, "alice.dhp.test.")},
		{name: "add bob", sets: handleRRsets(t, "bob.dhp.test.")},
		{name: "add handle below empty non-terminal", sets: handleRRsets(t, "a.b.dhp.test."), ents: []string{"b.dhp.test."}},
		{name: "add deeper name", sets: txt("x.y.z.dhp.test.", "deep"), ents: []string{"y.z.dhp.test.", "z.dhp.test."}},
		{name: "fill empty non-terminal", sets: txt("b.dhp.test.", "now a name")},
		{name: "empty it again", sets: del("b.dhp.test.", dns.TypeTXT), ents: []string{"b.dhp.test."}},
		{name: "add apex TXT", sets: txt(testZone, "apex")},
		{name: "change alice TLSA only", sets: map[RRsetKey][]dns.RR{
			{Name: "alice.dhp.test.", Type: dns.TypeTLSA}: {mustRR(t, "alice.dhp.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")},
		}},
		{name: "add A beside TLSA", sets: map[RRsetKey][]dns.RR{
			{Name: "alice.dhp.test.", Type: dns.TypeA}: {mustRR(t, "alice.dhp.test. 300 IN A 192.0.2.1")},
		}},
		{name: "add sibling below empty non-terminal", sets: handleRRsets(t, "c.b.dhp.test."), ents: []string{"b.dhp.test."}},
		{name: "delete one of two siblings", sets: deleteRRsets("a.b.dhp.test."), ents: []string{"b.dhp.test."}},
		{name: "delete the other sibling", sets: deleteRRsets("c.b.dhp.test.")},
		{name: "delete deep name", sets: del("x.y.z.dhp.test.", dns.TypeTXT)},
		{name: "delete alice TLSA keeps A", sets: del("alice.dhp.test.", dns.TypeTLSA)},
		{name: "delete bob", sets: deleteRRsets("bob.dhp.test.")},
		{name: "delete alice rest", sets: map[RRsetKey][]dns.RR{
			{Name: "alice.dhp.test.", Type: dns.TypeA}:            nil,
			{Name: "_atproto.alice.dhp.test.", Type: dns.TypeTXT}: nil,
		}},
		{name: "add many at once", sets: func() map[RRsetKey][]dns.RR {
			out := map[RRsetKey][]dns.RR{}
			for _, h := range []string{"c1.dhp.test.", "c2.dhp.test.", "c3.dhp.test.", "d.c3.dhp.test.", "e.f.g.dhp.test."} {
				for k, v := range handleRRsets(t, h) {
					out[k] = v
				}
			}
			return out
		}(), ents: []string{"f.g.dhp.test.", "g.dhp.test."}},
		{name: "delete many at once", sets: func() map[RRsetKey][]dns.RR {
			out := map[RRsetKey][]dns.RR{}
			for _, h := range []string{"c1.dhp.test.", "c3.dhp.test.", "e.f.g.dhp.test."} {
				for k, v := range deleteRRsets(h) {
					out[k] = v
				}
			}
			return out
		}()},
	}

	ctx := context.Background()
	serial, err := st.ZoneSerial(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range steps {
		got := replace(t, st, signer, step.sets)
		if got != serial+1 {
			t.Errorf("%s: serial %d, want %d", step.name, got, serial+1)
		}
		serial = got

		rrs := zoneRRs(t, st)
		if problems := checkSignedZone(testZone, rrs, time.Now()); len(problems) > 0 {
			t.Fatalf("%s: zone problems:\n%v\nzone:\n%s", step.name, problems, sectionString(rrs))
		}
		for _, ent := range step.ents {
			h := hashName(ent)
			row, err := st.LookupNSEC3(ctx, testZone, h)
			if err != nil || row.Hash != h {
				t.Errorf("%s: no NSEC3 for empty non-terminal %s (got %q, %v)", step.name, ent, row.Hash, err)
			}
		}
	}
}

// TestHandleMakesNoEmptyNonTerminal checks that a handle's _atproto name
// sits below the handle itself, so the chain holds exactly the apex, the
// handle and its _atproto name.
func TestHandleMakesNoEmptyNonTerminal(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	replace(t, st, signer, handleRRsets(t, "alice.dhp.test."))

	var got []string
	for _, rr := range rrsOfType(zoneRRs(t, st), dns.TypeNSEC3) {
		got = append(got, nsec3OwnerHash(rr.(*dns.NSEC3)))
	}
	var want []string
	for _, name := range []string{testZone, "alice.dhp.test.", "_atproto.alice.dhp.test."} {
		want = append(want, strings.ToLower(dns.HashName(name, dns.SHA1, 0, "")))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("NSEC3 owner hashes %v, want %v (apex, alice, _atproto.alice)", got, want)
	}
}

func TestReplaceRRsetsNoChangeKeepsSerial(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	first := replace(t, st, signer, handleRRsets(t, "alice.dhp.test."))
	again := replace(t, st, signer, handleRRsets(t, "alice.dhp.test."))
	if again != first {
		t.Errorf("unchanged RRsets moved the serial from %d to %d", first, again)
	}
}

func TestReplaceRRsetsRejects(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	cases := []struct {
		name string
		key  RRsetKey
		rrs  []string
	}{
		{name: "outside zone", key: RRsetKey{"alice.other.test.", dns.TypeTXT}, rrs: []string{`alice.other.test. 300 IN TXT "x"`}},
		{name: "managed SOA", key: RRsetKey{testZone, dns.TypeSOA}, rrs: []string{"dhp.test. 300 IN SOA a. b. 1 2 3 4 5"}},
		{name: "managed NSEC3", key: RRsetKey{"x.dhp.test.", dns.TypeNSEC3}},
		{name: "RRSIG", key: RRsetKey{"x.dhp.test.", dns.TypeRRSIG}},
		{name: "delegation", key: RRsetKey{"child.dhp.test.", dns.TypeNS}, rrs: []string{"child.dhp.test. 300 IN NS ns.example.net."}},
		{name: "DS", key: RRsetKey{"child.dhp.test.", dns.TypeDS}},
		{name: "wildcard", key: RRsetKey{"*.dhp.test.", dns.TypeTXT}, rrs: []string{`*.dhp.test. 300 IN TXT "x"`}},
		{name: "hash-like label", key: RRsetKey{"0123456789abcdefghijklmnopqrstuv.dhp.test.", dns.TypeTXT}, rrs: []string{`0123456789abcdefghijklmnopqrstuv.dhp.test. 300 IN TXT "x"`}},
		{name: "owner mismatch", key: RRsetKey{"a.dhp.test.", dns.TypeTXT}, rrs: []string{`b.dhp.test. 300 IN TXT "x"`}},
		{name: "type mismatch", key: RRsetKey{"a.dhp.test.", dns.TypeTXT}, rrs: []string{`a.dhp.test. 300 IN A 192.0.2.1`}},
		{name: "class mismatch", key: RRsetKey{"a.dhp.test.", dns.TypeTXT}, rrs: []string{`a.dhp.test. 300 CH TXT "x"`}},
		{name: "TTLs differ", key: RRsetKey{"a.dhp.test.", dns.TypeTXT}, rrs: []string{`a.dhp.test. 300 IN TXT "x"`, `a.dhp.test. 600 IN TXT "y"`}},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var set []dns.RR
			for _, s := range tc.rrs {
				set = append(set, mustRR(t, s))
			}
			err := st.InTx(ctx, func(tx store.Tx) error {
				_, err := signer.ReplaceRRsets(ctx, tx, testZone, map[RRsetKey][]dns.RR{tc.key: set})
				return err
			})
			var re *RecordError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v, want a *RecordError", err)
			}
		})
	}

	t.Run("CNAME beside data", func(t *testing.T) {
		replace(t, st, signer, handleRRsets(t, "carol.dhp.test."))
		err := st.InTx(ctx, func(tx store.Tx) error {
			_, err := signer.ReplaceRRsets(ctx, tx, testZone, map[RRsetKey][]dns.RR{
				{Name: "carol.dhp.test.", Type: dns.TypeCNAME}: {mustRR(t, "carol.dhp.test. 300 IN CNAME alice.dhp.test.")},
			})
			return err
		})
		var re *RecordError
		if !errors.As(err, &re) {
			t.Fatalf("error = %v, want a *RecordError", err)
		}
	})
}

func TestReplaceRRsetsUnknownZone(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	ctx := context.Background()
	err := st.InTx(ctx, func(tx store.Tx) error {
		_, err := signer.ReplaceRRsets(ctx, tx, "other.test.", map[RRsetKey][]dns.RR{
			{Name: "a.other.test.", Type: dns.TypeTXT}: {mustRR(t, `a.other.test. 300 IN TXT "x"`)},
		})
		return err
	})
	var ze *ZoneError
	if !errors.As(err, &ze) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("error = %v, want a *ZoneError wrapping store.ErrNotFound", err)
	}
}

func TestResignRenewsExpiringSignatures(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	replace(t, st, signer, handleRRsets(t, "alice.dhp.test."))
	ctx := context.Background()

	n, err := signer.Resign(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("Resign right after signing renewed %d RRsets, want 0", n)
	}

	// Ten days on, every signature has less than a third of 14 days left.
	later := time.Now().Add(10 * 24 * time.Hour)
	signer.Now = func() time.Time { return later }
	before, _ := st.ZoneSerial(ctx, testZone)
	n, err = signer.Resign(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("Resign ten days later renewed nothing")
	}
	after, _ := st.ZoneSerial(ctx, testZone)
	if after != before+1 {
		t.Errorf("serial went from %d to %d, want one step", before, after)
	}
	rrs := zoneRRs(t, st)
	if problems := checkSignedZone(testZone, rrs, later.Add(4*24*time.Hour)); len(problems) > 0 {
		t.Errorf("zone after Resign, checked 14 days from the start:\n%v", problems)
	}
	for _, sig := range rrsOfType(rrs, dns.TypeRRSIG) {
		s := sig.(*dns.RRSIG)
		if remaining(s.Expiration, later) < 13*24*time.Hour {
			t.Errorf("RRSIG over %s %s expires %s, want a full new validity", s.Hdr.Name, dns.TypeToString[s.TypeCovered], time.Unix(int64(s.Expiration), 0).UTC())
		}
	}
}

func TestSignatureWindow(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	signer.Now = func() time.Time { return now }
	signer.Validity = 48 * time.Hour
	replace(t, st, signer, handleRRsets(t, "alice.dhp.test."))

	rows, err := st.LookupName(context.Background(), testZone, "alice.dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	_, sigRows := rrsetRows(rows, dns.TypeTLSA)
	if len(sigRows) != 1 {
		t.Fatalf("%d RRSIGs over the TLSA RRset, want 1", len(sigRows))
	}
	rr, err := fromStoreRR(sigRows[0])
	if err != nil {
		t.Fatal(err)
	}
	sig := rr.(*dns.RRSIG)
	if got, want := int64(sig.Inception), now.Add(-time.Hour).Unix(); got != want {
		t.Errorf("inception %d, want %d (one hour before signing)", got, want)
	}
	if got, want := int64(sig.Expiration), now.Add(48*time.Hour).Unix(); got != want {
		t.Errorf("expiration %d, want %d (signing time plus Validity)", got, want)
	}
}
