package dnsserver

import (
	"fmt"
	"slices"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// nameData is everything a zone holds at one owner name, as the cache
// keeps it. The records are packed in uncompressed wire form, RRset by
// RRset, each followed by the RRSIGs that cover it, with an index of
// where each RRset starts. Compared with parsed records this takes about
// a third of the memory and two pointers, so a cache of many names costs
// the garbage collector little. The methods unpack records on each call;
// the fast path sends packed responses and needs none of them. A nameData
// is never changed after parseNameData made it.
type nameData struct {
	wire []byte
	sets []rrsetSpan // sorted by type; NSEC3 included
}

// rrsetSpan locates one RRset of a nameData and its signatures in wire.
type rrsetSpan struct {
	rtype             uint16
	records, sigs     uint16 // how many of each
	start, sigs1, end uint32 // records in [start, sigs1), RRSIGs in [sigs1, end)
}

// parseNameData parses the stored rows of one owner name.
func parseNameData(rows []store.RR) (*nameData, error) {
	sets := map[uint16]*parsedSet{}
	for _, row := range rows {
		rr, err := fromStoreRR(row)
		if err != nil {
			return nil, err
		}
		t := rr.Header().Rrtype
		if sig, ok := rr.(*dns.RRSIG); ok {
			t = sig.TypeCovered
		}
		ps := sets[t]
		if ps == nil {
			ps = &parsedSet{}
			sets[t] = ps
		}
		if rr.Header().Rrtype == dns.TypeRRSIG {
			ps.sigs = append(ps.sigs, rr)
		} else {
			ps.records = append(ps.records, rr)
		}
	}
	return packNameData(sets)
}

type parsedSet struct {
	records, sigs []dns.RR
}

// packNameData packs the RRsets into a nameData.
func packNameData(sets map[uint16]*parsedSet) (*nameData, error) {
	types := make([]uint16, 0, len(sets))
	size := 0
	for t, ps := range sets {
		types = append(types, t)
		for _, rr := range ps.records {
			size += dns.Len(rr)
		}
		for _, rr := range ps.sigs {
			size += dns.Len(rr)
		}
	}
	slices.Sort(types)

	d := &nameData{wire: make([]byte, size), sets: make([]rrsetSpan, 0, len(types))}
	off := 0
	pack := func(list []dns.RR) error {
		for _, rr := range list {
			var err error
			if off, err = dns.PackRR(rr, d.wire, off, nil, false); err != nil {
				h := rr.Header()
				return &RecordError{Name: h.Name, Type: h.Rrtype, Reason: "record does not pack: " + err.Error()}
			}
		}
		return nil
	}
	for _, t := range types {
		ps := sets[t]
		span := rrsetSpan{rtype: t, records: uint16(len(ps.records)), sigs: uint16(len(ps.sigs)), start: uint32(off)}
		if err := pack(ps.records); err != nil {
			return nil, err
		}
		span.sigs1 = uint32(off)
		if err := pack(ps.sigs); err != nil {
			return nil, err
		}
		span.end = uint32(off)
		d.sets = append(d.sets, span)
	}
	d.wire = d.wire[:off]
	return d, nil
}

// span returns the RRset of type t, or nil.
func (d *nameData) span(t uint16) *rrsetSpan {
	for i := range d.sets {
		if d.sets[i].rtype == t {
			return &d.sets[i]
		}
	}
	return nil
}

// exists reports whether the name owns records other than NSEC3, which
// an NSEC3 owner name or an empty non-terminal does not.
func (d *nameData) exists() bool {
	for _, s := range d.sets {
		if s.rtype != dns.TypeNSEC3 && s.records > 0 {
			return true
		}
	}
	return false
}

// has reports whether the name owns an RRset of type t.
func (d *nameData) has(t uint16) bool {
	s := d.span(t)
	return s != nil && s.records > 0
}

// types returns the types of the RRsets at the name, without NSEC3, in
// ascending order.
func (d *nameData) types() []uint16 {
	out := make([]uint16, 0, len(d.sets))
	for _, s := range d.sets {
		if s.rtype != dns.TypeNSEC3 && s.records > 0 {
			out = append(out, s.rtype)
		}
	}
	return out
}

// records returns the RRset of type t, unpacked, or nil.
func (d *nameData) records(t uint16) ([]dns.RR, error) {
	s := d.span(t)
	if s == nil {
		return nil, nil
	}
	return d.unpack(s.start, s.sigs1, int(s.records))
}

// signatures returns the RRSIGs that cover type t, unpacked, or nil.
func (d *nameData) signatures(t uint16) ([]dns.RR, error) {
	s := d.span(t)
	if s == nil {
		return nil, nil
	}
	return d.unpack(s.sigs1, s.end, int(s.sigs))
}

func (d *nameData) unpack(start, end uint32, n int) ([]dns.RR, error) {
	if n == 0 {
		return nil, nil
	}
	out := make([]dns.RR, 0, n)
	for off := int(start); off < int(end); {
		rr, next, err := dns.UnpackRR(d.wire, off)
		if err != nil {
			return nil, fmt.Errorf("cached record at offset %d does not unpack: %w", off, err)
		}
		out = append(out, rr)
		off = next
	}
	return out, nil
}
