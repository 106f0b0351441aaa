package dnsserver

import (
	"context"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// transfer runs an AXFR or IXFR (from serial) signed with the given key
// and returns the records of every message.
func transfer(t *testing.T, addr string, qtype uint16, serial uint32, keyName, secret string) ([]dns.RR, error) {
	t.Helper()
	m := new(dns.Msg)
	if qtype == dns.TypeIXFR {
		m.SetIxfr(testZone, serial, "ns1.dhp.test.", "hostmaster.dhp.test.")
	} else {
		m.SetAxfr(testZone)
	}
	tr := &dns.Transfer{}
	if keyName != "" {
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{keyName: secret}
	}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	for env := range ch {
		if env.Error != nil {
			return out, env.Error
		}
		out = append(out, env.RR...)
	}
	return out, nil
}

// transferRcode sends a transfer request over TCP and returns the rcode of
// the first response.
func transferRcode(t *testing.T, addr string, m *dns.Msg, keyName, secret string) int {
	t.Helper()
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	if keyName != "" {
		c.TsigSecret = map[string]string{keyName: secret}
	}
	r, _, err := c.Exchange(m, addr)
	if err != nil && r == nil {
		t.Fatalf("exchange: %v", err)
	}
	return r.Rcode
}

func TestAXFRNeedsTSIG(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	wrongSecret := base64.StdEncoding.EncodeToString([]byte("another secret of 32 bytes......"))

	cases := []struct {
		name    string
		keyName string
		secret  string
		rcode   int
	}{
		{name: "unsigned", rcode: dns.RcodeRefused},
		{name: "unknown key", keyName: "other.key.", secret: testSecret, rcode: dns.RcodeNotAuth},
		{name: "wrong secret", keyName: testKeyName, secret: wrongSecret, rcode: dns.RcodeNotAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := new(dns.Msg)
			m.SetAxfr(testZone)
			if tc.keyName != "" {
				m.SetTsig(tc.keyName, dns.HmacSHA256, 300, time.Now().Unix())
			}
			if got := transferRcode(t, w.addr, m, tc.keyName, tc.secret); got != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[got], dns.RcodeToString[tc.rcode])
			}
		})
	}

	t.Run("stale time", func(t *testing.T) {
		t.Parallel()
		m := new(dns.Msg)
		m.SetAxfr(testZone)
		m.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Add(-time.Hour).Unix())
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{testKeyName: testSecret}}
		r, _, _ := c.Exchange(m, w.addr)
		if r == nil || r.Rcode != dns.RcodeNotAuth {
			t.Fatalf("response %v, want NOTAUTH", r)
		}
		if tsig := r.IsTsig(); tsig == nil || tsig.Error != dns.RcodeBadTime {
			t.Errorf("TSIG of the response = %v, want error BADTIME", tsig)
		}
	})
}

func TestAXFRWithTSIG(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	for _, h := range []string{"bob.dhp.test.", "a.b.dhp.test.", "x.y.z.dhp.test."} {
		w.addHandle(h)
	}

	rrs, err := transfer(t, w.addr, dns.TypeAXFR, 0, testKeyName, testSecret)
	if err != nil {
		t.Fatalf("AXFR: %v", err)
	}
	if len(rrs) < 3 {
		t.Fatalf("AXFR returned %d records", len(rrs))
	}
	first, okFirst := rrs[0].(*dns.SOA)
	last, okLast := rrs[len(rrs)-1].(*dns.SOA)
	if !okFirst || !okLast || first.Serial != last.Serial {
		t.Fatalf("AXFR does not start and end with the same SOA: %v ... %v", rrs[0], rrs[len(rrs)-1])
	}
	zone := rrs[:len(rrs)-1]
	if problems := checkSignedZone(testZone, zone, time.Now()); len(problems) > 0 {
		t.Fatalf("transferred zone problems:\n%v", problems)
	}
	if got, want := len(zone), len(zoneRRs(t, w.st)); got != want {
		t.Errorf("AXFR holds %d records, the store %d", got, want)
	}
	// Parse the transfer back from presentation format, as a secondary's
	// zone file would hold it.
	for _, rr := range zone {
		if _, err := dns.NewRR(rr.String()); err != nil {
			t.Errorf("record %q does not parse: %v", rr, err)
		}
	}
}

func TestIXFRReturnsTheDiff(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	ctx := context.Background()
	before, err := w.st.ZoneSerial(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	after := w.addHandle("bob.dhp.test.")

	rrs, err := transfer(t, w.addr, dns.TypeIXFR, before, testKeyName, testSecret)
	if err != nil {
		t.Fatalf("IXFR: %v", err)
	}
	diffs, err := w.st.Diffs(ctx, testZone, before)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 {
		t.Fatalf("journal has %d steps from %d, want 1", len(diffs), before)
	}

	// RFC 1995, section 4: new SOA, old SOA, deletions, new SOA,
	// additions, new SOA.
	soas := rrsOfType(rrs, dns.TypeSOA)
	if len(soas) != 4 {
		t.Fatalf("IXFR holds %d SOA records, want 4:\n%s", len(soas), sectionString(rrs))
	}
	serials := []uint32{}
	for _, s := range soas {
		serials = append(serials, s.(*dns.SOA).Serial)
	}
	if !slices.Equal(serials, []uint32{after, before, after, after}) {
		t.Errorf("SOA serials %v, want [%d %d %d %d]", serials, after, before, after, after)
	}
	var deleted, added []string
	section := &deleted
	for _, rr := range rrs[1 : len(rrs)-1] {
		if soa, ok := rr.(*dns.SOA); ok {
			if soa.Serial == after {
				section = &added
			}
			continue
		}
		*section = append(*section, rowKey(toStoreRR(testZone, rr)))
	}
	want := func(rows []store.RR) []string {
		var out []string
		for _, r := range rows {
			if r.Type != dns.TypeSOA {
				out = append(out, rowKey(r))
			}
		}
		slices.Sort(out)
		return out
	}
	slices.Sort(deleted)
	slices.Sort(added)
	if !slices.Equal(deleted, want(diffs[0].Deleted)) {
		t.Errorf("IXFR deletions\n%v\nwant\n%v", deleted, want(diffs[0].Deleted))
	}
	if !slices.Equal(added, want(diffs[0].Added)) {
		t.Errorf("IXFR additions\n%v\nwant\n%v", added, want(diffs[0].Added))
	}
	var tlsa bool
	for _, a := range added {
		tlsa = tlsa || a == rowKey(toStoreRR(testZone, mustRR(t, "bob.dhp.test. 300 IN TLSA "+aliceTLSA)))
	}
	if !tlsa {
		t.Errorf("IXFR additions lack bob's TLSA:\n%v", added)
	}

	t.Run("up to date", func(t *testing.T) {
		rrs, err := transfer(t, w.addr, dns.TypeIXFR, after, testKeyName, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		if len(rrs) != 1 || rrs[0].(*dns.SOA).Serial != after {
			t.Errorf("IXFR from the current serial = %v, want the SOA alone", rrs)
		}
	})
	t.Run("journal gap", func(t *testing.T) {
		rrs, err := transfer(t, w.addr, dns.TypeIXFR, before-1000, testKeyName, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		if problems := checkSignedZone(testZone, rrs[:len(rrs)-1], time.Now()); len(problems) > 0 {
			t.Errorf("IXFR from an unknown serial is not a full zone:\n%v", problems)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetIxfr(testZone, before, "ns1.dhp.test.", "hostmaster.dhp.test.")
		if got := transferRcode(t, w.addr, m, "", ""); got != dns.RcodeRefused {
			t.Errorf("unsigned IXFR: rcode %s, want REFUSED", dns.RcodeToString[got])
		}
	})
}

func TestSerialBumpsOnEveryChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	prev := query(t, w.addr, "udp", testZone, dns.TypeSOA).Answer[0].(*dns.SOA).Serial
	for _, h := range []string{"bob.dhp.test.", "carol.dhp.test.", "dave.dhp.test."} {
		serial := w.addHandle(h)
		got := query(t, w.addr, "udp", testZone, dns.TypeSOA).Answer[0].(*dns.SOA).Serial
		if got != serial || serial != prev+1 {
			t.Errorf("after adding %s: served serial %d, signer serial %d, want %d", h, got, serial, prev+1)
		}
		prev = got
	}
}

func TestTransferCountsMetrics(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	if _, err := transfer(t, w.addr, dns.TypeAXFR, 0, testKeyName, testSecret); err != nil {
		t.Fatal(err)
	}
	_, err := transfer(t, w.addr, dns.TypeAXFR, 0, "", "")
	if err == nil {
		t.Fatal("unsigned AXFR succeeded")
	}
	for _, result := range []string{transferFull, transferRefused} {
		if got := waitCounter(t, w.server.metrics.transfers, 1, "AXFR", result); got != 1 {
			t.Errorf("AXFR with result %s counted %v times, want 1", result, got)
		}
	}
}
