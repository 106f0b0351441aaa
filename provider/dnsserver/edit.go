package dnsserver

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// zoneEditor computes one serial step of a zone: the rows to delete and
// add for new RRsets, their signatures, the NSEC3 chain and the SOA.
// It reads the state before the step through tx and writes nothing until
// commit.
type zoneEditor struct {
	ctx                   context.Context
	tx                    store.Tx
	zone                  string
	keys                  *zoneKeys
	inception, expiration time.Time

	rows    map[string][]store.RR // rows at a name before the step
	changed map[string]map[uint16]bool
	deleted []store.RR
	added   []store.RR

	// soa, when set, gives the MNAME and RNAME that commit writes into
	// the new SOA in place of the old ones.
	soa *dns.SOA
}

func (s *Signer) newEditor(ctx context.Context, tx store.Tx, zone string, keys *zoneKeys) *zoneEditor {
	inception, expiration := s.window()
	return &zoneEditor{
		ctx:        ctx,
		tx:         tx,
		zone:       zone,
		keys:       keys,
		inception:  inception,
		expiration: expiration,
		rows:       map[string][]store.RR{},
		changed:    map[string]map[uint16]bool{},
	}
}

// lookup returns the rows at name before the step.
func (e *zoneEditor) lookup(name string) ([]store.RR, error) {
	if rows, ok := e.rows[name]; ok {
		return rows, nil
	}
	rows, err := e.tx.LookupName(e.ctx, e.zone, name)
	if err != nil {
		return nil, &ZoneError{Zone: e.zone, Reason: "reading the records at " + name + " failed", Err: err}
	}
	e.rows[name] = rows
	return rows, nil
}

// rrsetRows splits the rows at a name into the RRset of type t and the
// RRSIGs that cover it.
func rrsetRows(rows []store.RR, t uint16) (set, sigs []store.RR) {
	for _, r := range rows {
		switch {
		case r.Type == t:
			set = append(set, r)
		case r.Type == dns.TypeRRSIG && r.Covered == t:
			sigs = append(sigs, r)
		}
	}
	return set, sigs
}

// typesBefore returns the types owned by name before the step, without
// RRSIG and NSEC3.
func (e *zoneEditor) typesBefore(name string) ([]uint16, error) {
	rows, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	var types []uint16
	for _, r := range rows {
		if r.Type == dns.TypeRRSIG || r.Type == dns.TypeNSEC3 || slices.Contains(types, r.Type) {
			continue
		}
		types = append(types, r.Type)
	}
	return types, nil
}

// typesAfter returns the types owned by name after the step.
func (e *zoneEditor) typesAfter(name string) ([]uint16, error) {
	before, err := e.typesBefore(name)
	if err != nil {
		return nil, err
	}
	changes := e.changed[name]
	var types []uint16
	for _, t := range before {
		if present, ok := changes[t]; !ok || present {
			types = append(types, t)
		}
	}
	for t, present := range changes {
		if present && !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	return types, nil
}

// replaceRRsets records the row changes for sets, in a fixed order so that
// the journal is the same for the same input.
func (e *zoneEditor) replaceRRsets(sets map[RRsetKey][]dns.RR) error {
	keys := make([]RRsetKey, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b RRsetKey) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type))
	})

	for _, key := range keys {
		if err := e.replaceRRset(key, sets[key]); err != nil {
			return err
		}
	}
	for name := range e.changed {
		types, err := e.typesAfter(name)
		if err != nil {
			return err
		}
		// RFC 2181, section 10.1: a CNAME owner owns no other data.
		if slices.Contains(types, dns.TypeCNAME) && len(types) > 1 {
			return &RecordError{Zone: e.zone, Name: name, Type: dns.TypeCNAME, Reason: "a CNAME cannot share its owner with other RRsets"}
		}
	}
	return nil
}

func (e *zoneEditor) replaceRRset(key RRsetKey, set []dns.RR) error {
	rows, err := e.lookup(key.Name)
	if err != nil {
		return err
	}
	oldSet, oldSigs := rrsetRows(rows, key.Type)
	newSet := make([]store.RR, 0, len(set))
	for _, rr := range set {
		newSet = append(newSet, toStoreRR(e.zone, rr))
	}
	if sameRows(oldSet, newSet) {
		return nil
	}

	if e.changed[key.Name] == nil {
		e.changed[key.Name] = map[uint16]bool{}
	}
	e.changed[key.Name][key.Type] = len(set) > 0
	e.deleted = append(e.deleted, oldSet...)
	e.deleted = append(e.deleted, oldSigs...)
	if len(set) == 0 {
		return nil
	}
	signed, err := signSet(e.zone, e.keys, set, e.inception, e.expiration)
	if err != nil {
		return err
	}
	e.added = append(e.added, signed...)
	return nil
}

// sameRows reports whether a and b hold the same records with the same
// TTLs, in any order.
func sameRows(a, b []store.RR) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]int, len(a))
	for _, r := range a {
		seen[rowKey(r)]++
	}
	for _, r := range b {
		k := rowKey(r)
		if seen[k] == 0 {
			return false
		}
		seen[k]--
	}
	return true
}

// commit adds the SOA with the next serial and its signature, calls
// UpdateZone and checks that the store chose the serial the SOA carries.
func (e *zoneEditor) commit(serial uint32) (uint32, error) {
	rows, err := e.lookup(e.zone)
	if err != nil {
		return 0, err
	}
	oldSOA, oldSigs := rrsetRows(rows, dns.TypeSOA)
	if len(oldSOA) != 1 {
		return 0, &ZoneError{Zone: e.zone, Reason: fmt.Sprintf("apex holds %d SOA records, want 1", len(oldSOA))}
	}
	rr, err := fromStoreRR(oldSOA[0])
	if err != nil {
		return 0, err
	}
	soa := rr.(*dns.SOA)
	if e.soa != nil {
		soa.Ns, soa.Mbox = e.soa.Ns, e.soa.Mbox
	}
	// UpdateZone adds 1 in RFC 1982 serial arithmetic, wrapping at 2^32.
	soa.Serial = serial + 1
	signed, err := signSet(e.zone, e.keys, []dns.RR{soa}, e.inception, e.expiration)
	if err != nil {
		return 0, err
	}
	e.deleted = append(e.deleted, oldSOA...)
	e.deleted = append(e.deleted, oldSigs...)
	e.added = append(e.added, signed...)

	got, err := e.tx.UpdateZone(e.ctx, e.zone, e.deleted, e.added)
	if err != nil {
		return 0, &ZoneError{Zone: e.zone, Reason: "storing the signed changes failed", Err: err}
	}
	if got != soa.Serial {
		return 0, &ZoneError{Zone: e.zone, Reason: fmt.Sprintf("store chose serial %d but the SOA was signed with serial %d", got, soa.Serial)}
	}
	return got, nil
}

// resignExpiring signs again every RRset (but the SOA, which commit signs)
// whose signatures expire less than margin after now, and returns how
// many it signed.
func (e *zoneEditor) resignExpiring(now time.Time, margin time.Duration) (int, error) {
	type setKey struct {
		name string
		t    uint16
	}
	sets := map[setKey][]store.RR{}
	sigs := map[setKey][]store.RR{}
	expiring := map[setKey]bool{}
	var order []setKey
	err := e.tx.WalkZone(e.ctx, e.zone, func(r store.RR) error {
		if r.Type != dns.TypeRRSIG {
			k := setKey{r.Name, r.Type}
			if _, ok := sets[k]; !ok {
				order = append(order, k)
			}
			sets[k] = append(sets[k], r)
			return nil
		}
		if r.Covered == dns.TypeSOA {
			return nil
		}
		k := setKey{r.Name, r.Covered}
		sigs[k] = append(sigs[k], r)
		rr, err := fromStoreRR(r)
		if err != nil {
			return err
		}
		if remaining(rr.(*dns.RRSIG).Expiration, now) < margin {
			expiring[k] = true
		}
		return nil
	})
	if err != nil {
		return 0, &ZoneError{Zone: e.zone, Reason: "reading the zone failed", Err: err}
	}

	count := 0
	for _, k := range order {
		if !expiring[k] {
			continue
		}
		set := make([]dns.RR, 0, len(sets[k]))
		for _, r := range sets[k] {
			rr, err := fromStoreRR(r)
			if err != nil {
				return 0, err
			}
			set = append(set, rr)
		}
		signed, err := signSet(e.zone, e.keys, set, e.inception, e.expiration)
		if err != nil {
			return 0, err
		}
		// Every old signature of the RRset goes, so that RRSIGs do not
		// pile up when some of them were still valid.
		e.deleted = append(e.deleted, sigs[k]...)
		e.added = append(e.added, signed[len(signed)-1])
		count++
	}
	return count, nil
}

// remaining returns the time from now until an RRSIG expiration, read with
// RFC 1982 serial arithmetic as RFC 4034, section 3.1.5 requires; it is
// negative for an expired signature.
func remaining(expiration uint32, now time.Time) time.Duration {
	delta := int32(expiration - uint32(now.Unix()))
	return time.Duration(delta) * time.Second
}
