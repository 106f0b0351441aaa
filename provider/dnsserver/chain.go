package dnsserver

import (
	"errors"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// chainEdit is the change of the NSEC3 chain in one serial step: the
// hashes of names that come into existence (with their type bitmaps),
// that cease to exist, and that stay but own other types.
type chainEdit struct {
	added    map[string][]uint16
	removed  map[string]bool
	modified map[string][]uint16
	// old holds the NSEC3 records read from the store, by hash.
	old map[string]*dns.NSEC3
}

// updateChain adds the NSEC3 changes of the step to e: one NSEC3 per name
// that exists after it (empty non-terminals included, RFC 5155, section
// 7.1), each pointing to the next hash, with a new signature wherever a
// record changed.
func (e *zoneEditor) updateChain() error {
	ce := &chainEdit{
		added:    map[string][]uint16{},
		removed:  map[string]bool{},
		modified: map[string][]uint16{},
		old:      map[string]*dns.NSEC3{},
	}
	if err := e.classifyNames(ce); err != nil {
		return err
	}
	if len(ce.added) == 0 && len(ce.removed) == 0 && len(ce.modified) == 0 {
		return nil
	}
	ttl, err := e.nsec3TTL()
	if err != nil {
		return err
	}

	// Records to write: new and changed ones, and the predecessor of every
	// hash that enters or leaves the chain, whose next hash changes.
	write := map[string]bool{}
	for h := range ce.added {
		write[h] = true
	}
	for h := range ce.modified {
		write[h] = true
	}
	var moved []string
	for h := range ce.added {
		moved = append(moved, h)
	}
	for h := range ce.removed {
		moved = append(moved, h)
	}
	for _, h := range moved {
		prev, err := e.prevAfter(ce, h)
		if err != nil {
			return err
		}
		if prev != "" {
			write[prev] = true
		}
	}

	hashes := make([]string, 0, len(write))
	for h := range write {
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	for _, h := range hashes {
		if err := e.writeNSEC3(ce, h, ttl); err != nil {
			return err
		}
	}
	removed := make([]string, 0, len(ce.removed))
	for h := range ce.removed {
		removed = append(removed, h)
	}
	slices.Sort(removed)
	for _, h := range removed {
		if err := e.deleteNSEC3(h); err != nil {
			return err
		}
	}
	return nil
}

// classifyNames decides, for every changed name and each of its ancestors
// below the apex, whether it enters, leaves or stays in the chain.
func (e *zoneEditor) classifyNames(ce *chainEdit) error {
	candidates := map[string]bool{}
	for name := range e.changed {
		candidates[name] = true
		for _, a := range ancestorsBelow(e.zone, name) {
			candidates[a] = true
		}
	}
	names := make([]string, 0, len(candidates))
	for n := range candidates {
		names = append(names, n)
	}
	slices.Sort(names)

	for _, name := range names {
		h := hashName(name)
		old, err := e.nsec3Exact(ce, h)
		if err != nil {
			return err
		}
		types, err := e.typesAfter(name)
		if err != nil {
			return err
		}
		exists := len(types) > 0 || name == e.zone
		if !exists {
			if exists, err = e.descendantAfter(name); err != nil {
				return err
			}
		}
		bitmap := typeBitmap(types)
		switch {
		case exists && old == nil:
			ce.added[h] = bitmap
		case !exists && old != nil:
			ce.removed[h] = true
		case exists && !slices.Equal(old.TypeBitMap, bitmap):
			ce.modified[h] = bitmap
		}
	}
	return nil
}

// descendantAfter reports whether any name strictly below name owns
// records after the step. When a name below lost its last RRset, it reads
// from the store as many names below as the step changed there, plus one.
// A name in that list that the step did not change keeps its records.
func (e *zoneEditor) descendantAfter(name string) (bool, error) {
	changedBelow := 0
	emptiedBelow := false
	for changed := range e.changed {
		if changed == name || !inZone(name, changed) {
			continue
		}
		changedBelow++
		after, err := e.typesAfter(changed)
		if err != nil {
			return false, err
		}
		if len(after) > 0 {
			return true, nil
		}
		before, err := e.typesBefore(changed)
		if err != nil {
			return false, err
		}
		emptiedBelow = emptiedBelow || len(before) > 0
	}

	if !emptiedBelow {
		below, err := e.tx.NameExistsBelow(e.ctx, e.zone, name)
		if err != nil {
			return false, &ZoneError{Zone: e.zone, Reason: "checking for names below " + name + " failed", Err: err}
		}
		return below, nil
	}
	names, err := e.tx.NamesBelow(e.ctx, e.zone, name, changedBelow+1)
	if err != nil {
		return false, &ZoneError{Zone: e.zone, Reason: "listing the names below " + name + " failed", Err: err}
	}
	for _, other := range names {
		if _, changed := e.changed[dns.CanonicalName(other)]; !changed {
			return true, nil
		}
	}
	return false, nil
}

// nsec3TTL returns the TTL for NSEC3 records from the current SOA.
func (e *zoneEditor) nsec3TTL() (uint32, error) {
	rows, err := e.lookup(e.zone)
	if err != nil {
		return 0, err
	}
	soaRows, _ := rrsetRows(rows, dns.TypeSOA)
	if len(soaRows) != 1 {
		return 0, &ZoneError{Zone: e.zone, Reason: "apex does not contain exactly one SOA record"}
	}
	rr, err := fromStoreRR(soaRows[0])
	if err != nil {
		return 0, err
	}
	return nsec3TTL(rr.(*dns.SOA)), nil
}

// nsec3Exact returns the stored NSEC3 record at hash h, or nil.
func (e *zoneEditor) nsec3Exact(ce *chainEdit, h string) (*dns.NSEC3, error) {
	if n, ok := ce.old[h]; ok {
		return n, nil
	}
	n, err := e.nsec3AtOrBefore(h)
	if err != nil {
		return nil, err
	}
	if n == nil || nsec3OwnerHash(n) != h {
		ce.old[h] = nil
		return nil, nil
	}
	ce.old[h] = n
	return n, nil
}

// nsec3AtOrBefore returns the stored NSEC3 whose hash is the greatest at
// or below h, wrapping to the last one, or nil for an empty chain.
func (e *zoneEditor) nsec3AtOrBefore(h string) (*dns.NSEC3, error) {
	row, err := e.tx.LookupNSEC3(e.ctx, e.zone, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, &ZoneError{Zone: e.zone, Reason: "reading the NSEC3 chain failed", Err: err}
	}
	rr, err := fromStoreRR(row)
	if err != nil {
		return nil, err
	}
	n, ok := rr.(*dns.NSEC3)
	if !ok {
		return nil, &ZoneError{Zone: e.zone, Reason: "NSEC3 lookup returned a " + dns.TypeToString[rr.Header().Rrtype] + " record"}
	}
	return n, nil
}

func nsec3OwnerHash(n *dns.NSEC3) string {
	label, _, _ := strings.Cut(n.Hdr.Name, ".")
	return strings.ToLower(label)
}

// prevAfter returns the hash before h in the chain after the step, or ""
// when h would be alone in it.
func (e *zoneEditor) prevAfter(ce *chainEdit, h string) (string, error) {
	best := ""
	consider := func(c string) {
		if c == "" || c == h {
			return
		}
		if best == "" || circularlyCloserBelow(h, c, best) {
			best = c
		}
	}

	for a := range ce.added {
		consider(a)
	}
	// Walk back through the stored chain past removed records. Each step
	// moves strictly backwards, so at most len(removed)+1 steps are needed.
	cur := h
	for range len(ce.removed) + 1 {
		n, err := e.nsec3AtOrBefore(hashBefore(cur))
		if err != nil || n == nil {
			return best, err
		}
		c := nsec3OwnerHash(n)
		ce.old[c] = n
		if c == h {
			break
		}
		if !ce.removed[c] {
			consider(c)
			break
		}
		cur = c
	}
	return best, nil
}

// nextAfter returns the hash after h in the chain after the step.
func (e *zoneEditor) nextAfter(ce *chainEdit, h string) (string, error) {
	best := ""
	consider := func(c string) {
		if c == "" || c == h {
			return
		}
		if best == "" || circularlyCloserAbove(h, c, best) {
			best = c
		}
	}

	for a := range ce.added {
		consider(a)
	}
	// The stored record at or before h points to the first stored hash
	// after h; follow removed records forward from there.
	n, err := e.nsec3AtOrBefore(h)
	if err != nil {
		return "", err
	}
	for range len(ce.removed) + 1 {
		if n == nil {
			break
		}
		c := strings.ToLower(n.NextDomain)
		if c == h {
			break
		}
		if !ce.removed[c] {
			consider(c)
			break
		}
		if n, err = e.nsec3Exact(ce, c); err != nil {
			return "", err
		}
	}
	if best == "" {
		// h is the only name in the chain, so its record points to itself.
		return h, nil
	}
	return best, nil
}

// circularlyCloserBelow reports whether c comes closer before h than best
// does in the circular hash order.
func circularlyCloserBelow(h, c, best string) bool {
	cBelow, bestBelow := c < h, best < h
	if cBelow != bestBelow {
		return cBelow
	}
	return c > best
}

// circularlyCloserAbove reports whether c comes closer after h than best
// does in the circular hash order.
func circularlyCloserAbove(h, c, best string) bool {
	cAbove, bestAbove := c > h, best > h
	if cAbove != bestAbove {
		return cAbove
	}
	return c < best
}

// writeNSEC3 writes the record at hash h as it is after the step, unless
// the stored one is the same.
func (e *zoneEditor) writeNSEC3(ce *chainEdit, h string, ttl uint32) error {
	old, err := e.nsec3Exact(ce, h)
	if err != nil {
		return err
	}
	bitmap, ok := ce.added[h]
	if !ok {
		bitmap, ok = ce.modified[h]
	}
	if !ok {
		if old == nil {
			return &ZoneError{Zone: e.zone, Reason: "NSEC3 chain is broken: no record at hash " + h}
		}
		bitmap = old.TypeBitMap
	}
	next, err := e.nextAfter(ce, h)
	if err != nil {
		return err
	}

	rec := newNSEC3(e.zone, h, next, bitmap, ttl)
	if old != nil && old.Hdr.Ttl == ttl && strings.EqualFold(old.NextDomain, next) && slices.Equal(old.TypeBitMap, bitmap) {
		return nil
	}
	if old != nil {
		if err := e.deleteNSEC3(h); err != nil {
			return err
		}
	}
	signed, err := signSet(e.zone, e.keys, []dns.RR{rec}, e.inception, e.expiration)
	if err != nil {
		return err
	}
	e.added = append(e.added, signed...)
	return nil
}

// deleteNSEC3 deletes the stored NSEC3 at hash h and its signatures.
func (e *zoneEditor) deleteNSEC3(h string) error {
	rows, err := e.lookup(hashOwner(h, e.zone))
	if err != nil {
		return err
	}
	set, sigs := rrsetRows(rows, dns.TypeNSEC3)
	e.deleted = append(e.deleted, set...)
	e.deleted = append(e.deleted, sigs...)
	return nil
}
