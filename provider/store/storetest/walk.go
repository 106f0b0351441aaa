package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

var walkTests = []conformanceTest{
	{"CanonicalOrder", func(t *testing.T, st store.Store) {
		newZone(t, st, "example.", 1)
		// The example of RFC 4034, section 6.1, in canonical order.
		want := []string{
			"example.", "a.example.", "yljkjljk.a.example.", "z.a.example.", "zabc.a.example.",
			"z.example.", `\001.z.example.`, "*.z.example.", `\200.z.example.`,
		}
		given := []string{
			`\200.z.example.`, "zABC.a.EXAMPLE.", "*.z.example.", "example.", "Z.a.example.",
			`\001.z.example.`, "yljkjljk.a.example.", "z.example.", "a.example.",
		}
		var added []store.RR
		for i, name := range given {
			added = append(added, tlsa(name, i), rrsig(name, dns.TypeTLSA),
				store.RR{Name: name, Type: dns.TypeTXT, TTL: 60, Data: fmt.Sprintf(`"%d"`, i)})
		}
		update(t, st, "example.", nil, added)

		var names, types []string
		err := st.WalkZone(ctxOf(t), "example.", func(rr store.RR) error {
			if len(names) == 0 || names[len(names)-1] != rr.Name {
				names = append(names, rr.Name)
			}
			if rr.Name == "example." {
				types = append(types, dns.TypeToString[rr.Type])
			}
			return nil
		})
		must(t, "WalkZone", err)
		if fmt.Sprint(names) != fmt.Sprint(want) {
			t.Errorf("WalkZone visited names\n%v\nwant\n%v", names, want)
		}
		if fmt.Sprint(types) != "[TXT RRSIG TLSA]" {
			t.Errorf("WalkZone visited the types of example. as %v, want [TXT RRSIG TLSA]", types)
		}
	}},
	{"ManyBatches", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		// One name with more records than a batch of the implementations
		// here (1024 rows), then many small names.
		var added []store.RR
		for i := range 1500 {
			added = append(added, store.RR{Name: "big.dhp.test.", Type: dns.TypeTXT, TTL: 60, Data: fmt.Sprintf(`"%04d"`, i)})
		}
		for i := range 1300 {
			added = append(added, tlsa(fmt.Sprintf("n%04d.dhp.test.", i), i))
		}
		update(t, st, "dhp.test.", nil, added)

		seen := map[string]bool{}
		var previous string
		err := st.WalkZone(ctxOf(t), "dhp.test.", func(rr store.RR) error {
			id := rr.Name + " " + rr.Data
			if seen[id] {
				return fmt.Errorf("record %s visited twice", id)
			}
			seen[id] = true
			// For these one-label names canonical order is string order.
			if rr.Name < previous {
				return fmt.Errorf("name %s after %s", rr.Name, previous)
			}
			previous = rr.Name
			return nil
		})
		must(t, "WalkZone", err)
		if len(seen) != len(added) {
			t.Errorf("WalkZone visited %d records, want %d", len(seen), len(added))
		}
	}},
	{"StopsAtError", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		update(t, st, "dhp.test.", nil, []store.RR{tlsa("a.dhp.test.", 1), tlsa("b.dhp.test.", 2), tlsa("c.dhp.test.", 3), tlsa("d.dhp.test.", 4)})
		stop := errors.New("stop")
		calls := 0
		err := st.WalkZone(ctxOf(t), "dhp.test.", func(store.RR) error {
			calls++
			if calls == 2 {
				return stop
			}
			return nil
		})
		if err != stop { //nolint:errorlint // the contract returns fn's error unwrapped
			t.Errorf("WalkZone returned %v, want the error of fn unwrapped", err)
		}
		if calls != 2 {
			t.Errorf("fn called %d times, want 2", calls)
		}
	}},
	{"InsideTransaction", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 1)
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			var added []store.RR
			for i := range 1100 {
				added = append(added, tlsa(fmt.Sprintf("n%04d.dhp.test.", i), i))
			}
			if _, err := tx.UpdateZone(ctx, "dhp.test.", nil, added); err != nil {
				return err
			}
			count := 0
			err := tx.WalkZone(ctx, "dhp.test.", func(rr store.RR) error {
				count++
				// Queries on the same transaction work from inside fn.
				rrs, err := tx.LookupName(ctx, "dhp.test.", rr.Name)
				if err != nil {
					return err
				}
				if len(rrs) != 1 {
					return fmt.Errorf("LookupName(%s) inside WalkZone returned %d records, want 1", rr.Name, len(rrs))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if count != len(added) {
				t.Errorf("WalkZone inside the transaction visited %d records, want its %d uncommitted ones", count, len(added))
			}
			return nil
		})
	}},
}

var journalTests = []conformanceTest{
	{"StepsInOrder", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 10)
		a, b, c := tlsa("a.dhp.test.", 1), tlsa("b.dhp.test.", 2), tlsa("c.dhp.test.", 3)
		update(t, st, "dhp.test.", nil, []store.RR{a})
		aNoTTL := a
		aNoTTL.TTL = 0
		update(t, st, "dhp.test.", []store.RR{aNoTTL}, []store.RR{b})
		update(t, st, "dhp.test.", nil, []store.RR{c})

		withZone := func(rrs ...store.RR) []store.RR {
			for i := range rrs {
				rrs[i].Zone = "dhp.test."
			}
			return rrs
		}
		want := []store.Diff{
			{FromSerial: 10, ToSerial: 11, Deleted: withZone(), Added: withZone(a)},
			{FromSerial: 11, ToSerial: 12, Deleted: withZone(a), Added: withZone(b)}, // the stored TTL, 300
			{FromSerial: 12, ToSerial: 13, Deleted: withZone(), Added: withZone(c)},
		}
		for from := uint32(10); from <= 13; from++ {
			diffs, err := st.Diffs(ctxOf(t), "dhp.test.", from)
			must(t, fmt.Sprintf("Diffs(%d)", from), err)
			if got, wantText := fmt.Sprint(diffs), fmt.Sprint(want[from-10:]); got != wantText {
				t.Errorf("Diffs(%d) =\n%s\nwant\n%s", from, got, wantText)
			}
		}
	}},
	{"UnknownSerialIsGap", func(t *testing.T, st store.Store) {
		newZone(t, st, "dhp.test.", 10)
		update(t, st, "dhp.test.", nil, []store.RR{tlsa("a.dhp.test.", 1)})
		for _, from := range []uint32{9, 12, 1000} {
			_, err := st.Diffs(ctxOf(t), "dhp.test.", from)
			var gap *store.JournalGapError
			if !errors.Is(err, store.ErrJournalGap) || !errors.As(err, &gap) {
				t.Fatalf("Diffs(%d): error %v, want a *store.JournalGapError", from, err)
			}
			if gap.Zone != "dhp.test." || gap.From != from || gap.Current != 11 || gap.Oldest != 10 {
				t.Errorf("Diffs(%d): gap %+v, want zone dhp.test., from %d, current 11, oldest 10", from, *gap, from)
			}
		}
	}},
	{"PrunedIsGap", func(t *testing.T, st store.Store) {
		limiter, ok := st.(store.JournalLimiter)
		if !ok {
			t.Fatalf("%T does not implement store.JournalLimiter, which the conformance suite requires", st)
		}
		limiter.SetJournalLimit(10)
		newZone(t, st, "dhp.test.", 100)
		// Each step weighs 4: 3 records and 1 for the step.
		for i := range 4 {
			update(t, st, "dhp.test.", nil, []store.RR{
				tlsa(fmt.Sprintf("a%d.dhp.test.", i), i), tlsa(fmt.Sprintf("b%d.dhp.test.", i), i), tlsa(fmt.Sprintf("c%d.dhp.test.", i), i),
			})
		}
		// 4 steps weigh 16, so only the newest 2 (weight 8) are kept.
		checkJournal(t, st, "dhp.test.", map[uint32]int{100: -1, 101: -1, 102: 2, 103: 1, 104: 0})

		// A step heavier than the limit is kept alone.
		var big []store.RR
		for i := range 20 {
			big = append(big, tlsa(fmt.Sprintf("big%d.dhp.test.", i), i))
		}
		update(t, st, "dhp.test.", nil, big)
		checkJournal(t, st, "dhp.test.", map[uint32]int{103: -1, 104: 1, 105: 0})
	}},
}

// checkJournal checks how many steps Diffs returns from each serial, where
// -1 means a journal gap.
func checkJournal(t *testing.T, st store.Store, zone string, want map[uint32]int) {
	t.Helper()
	for from, steps := range want {
		diffs, err := st.Diffs(ctxOf(t), zone, from)
		if steps < 0 {
			wantIs(t, fmt.Sprintf("Diffs(%d)", from), err, store.ErrJournalGap)
			continue
		}
		must(t, fmt.Sprintf("Diffs(%d)", from), err)
		if len(diffs) != steps {
			t.Errorf("Diffs(%d) returned %d steps, want %d", from, len(diffs), steps)
		}
	}
}
