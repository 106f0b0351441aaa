package dnsserver

import (
	"context"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// zoneSource is the part of the store that answers queries.
type zoneSource interface {
	LookupName(ctx context.Context, zone, name string) ([]store.RR, error)
	LookupNSEC3(ctx context.Context, zone, hash string) (store.RR, error)
}

// answerer builds responses from one zone, reading through its cache.
type answerer struct {
	src   zoneSource
	cache *zoneCache
	ctx   context.Context
	zone  string
	// epoch is the zone's epoch read before any store read of this
	// answer, and live the zone's current one; see zoneCache.
	epoch uint64
	live  *atomic.Uint64
}

// name returns the data at name, from the cache or the store.
func (a *answerer) name(name string) (*nameData, error) {
	if e := a.cache.get(name); e != nil {
		return e.data, nil
	}
	rows, err := a.src.LookupName(a.ctx, a.zone, name)
	if err != nil {
		return nil, err
	}
	d, err := parseNameData(rows)
	if err != nil {
		return nil, err
	}
	a.cache.put(name, d, a.epoch, a.live, true)
	return d, nil
}

// nsec3 returns the NSEC3 record at or before hash h in the chain (the one
// that matches or covers h) with its signatures.
func (a *answerer) nsec3(h string) (rec *dns.NSEC3, sigs []dns.RR, err error) {
	owner, ok := a.cache.preds.get(h)
	if !ok {
		row, err := a.src.LookupNSEC3(a.ctx, a.zone, h)
		if err != nil {
			return nil, nil, err
		}
		owner = row.Name
		a.cache.preds.put(h, owner, a.epoch, a.live)
	}
	d, err := a.name(owner)
	if err != nil {
		return nil, nil, err
	}
	recs, err := d.records(dns.TypeNSEC3)
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, &ZoneError{Zone: a.zone, Reason: "NSEC3 record at " + owner + " vanished between two reads"}
	}
	if sigs, err = d.signatures(dns.TypeNSEC3); err != nil {
		return nil, nil, err
	}
	return recs[0].(*dns.NSEC3), sigs, nil
}

// answer fills resp with the answer to qname/qtype: data, a CNAME, NODATA
// or NXDOMAIN, with signatures and NSEC3 proofs when do is set.
func (a *answerer) answer(resp *dns.Msg, qname string, qtype uint16, do bool) error {
	d, err := a.name(qname)
	if err != nil {
		return err
	}
	if d.exists() {
		return a.fromName(resp, d, qname, qtype, do)
	}

	// No records at qname: an empty non-terminal has an NSEC3 record of
	// its own, any other name is covered by one.
	h := hashName(qname)
	rec, sigs, err := a.nsec3(h)
	if err != nil {
		return err
	}
	if nsec3OwnerHash(rec) == h {
		// RFC 5155, section 7.2.3: NODATA proven by the matching NSEC3.
		return a.nodata(resp, do, []dns.RR{rec}, sigs)
	}
	return a.nxdomain(resp, qname, do)
}

// fromName answers from a name that owns records.
func (a *answerer) fromName(resp *dns.Msg, d *nameData, qname string, qtype uint16, do bool) error {
	var types []uint16
	switch {
	case qtype == dns.TypeANY:
		// RFC 8482 lets a server choose what to return for ANY; this
		// server returns every RRset, which stays small for handles.
		types = d.types()
	case qtype == dns.TypeRRSIG:
		// The signatures are the data asked for; they carry no RRSIGs of
		// their own (RFC 4035, section 2.2).
		for _, t := range d.types() {
			sigs, err := d.signatures(t)
			if err != nil {
				return err
			}
			resp.Answer = append(resp.Answer, sigs...)
		}
		return nil
	case d.has(qtype):
		types = []uint16{qtype}
	case d.has(dns.TypeCNAME):
		// RFC 1034, section 4.3.2: the CNAME itself answers; the
		// resolver follows it.
		types = []uint16{dns.TypeCNAME}
	}
	if len(types) > 0 {
		for _, t := range types {
			set, err := d.records(t)
			if err != nil {
				return err
			}
			resp.Answer = append(resp.Answer, set...)
			if !do {
				continue
			}
			sigs, err := d.signatures(t)
			if err != nil {
				return err
			}
			resp.Answer = append(resp.Answer, sigs...)
		}
		return nil
	}

	// RFC 5155, section 7.2.3: NODATA carries the NSEC3 that matches
	// qname, whose bitmap lacks qtype.
	var proof, sigs []dns.RR
	if do {
		rec, recSigs, err := a.nsec3(hashName(qname))
		if err != nil {
			return err
		}
		proof, sigs = []dns.RR{rec}, recSigs
	}
	return a.nodata(resp, do, proof, sigs)
}

// nodata fills the authority section of a NOERROR response without data.
func (a *answerer) nodata(resp *dns.Msg, do bool, proof, sigs []dns.RR) error {
	if err := a.addNegativeSOA(resp, do); err != nil {
		return err
	}
	if do {
		resp.Ns = append(resp.Ns, proof...)
		resp.Ns = append(resp.Ns, sigs...)
	}
	return nil
}

// nxdomain fills a name error response with the closest encloser proof
// of RFC 5155, section 7.2.2. The proof is the NSEC3 that matches the
// closest encloser, the one that covers the next closer name and the one
// that covers the wildcard at the closest encloser.
func (a *answerer) nxdomain(resp *dns.Msg, qname string, do bool) error {
	resp.Rcode = dns.RcodeNameError
	if err := a.addNegativeSOA(resp, do); err != nil {
		return err
	}
	if !do {
		return nil
	}

	encloser := ""
	var proof []dns.RR
	var proofSigs [][]dns.RR
	add := func(rec *dns.NSEC3, sigs []dns.RR) {
		for _, p := range proof {
			if p.Header().Name == rec.Hdr.Name {
				return
			}
		}
		proof = append(proof, rec)
		proofSigs = append(proofSigs, sigs)
	}
	for n := parentName(qname); n != "" && inZone(a.zone, n); n = parentName(n) {
		h := hashName(n)
		rec, sigs, err := a.nsec3(h)
		if err != nil {
			return err
		}
		if nsec3OwnerHash(rec) == h {
			encloser = n
			add(rec, sigs)
			break
		}
	}
	if encloser == "" {
		return &ZoneError{Zone: a.zone, Reason: "NSEC3 chain has no record for the apex"}
	}

	for _, covered := range []string{nextCloser(encloser, qname), childOf("*", encloser)} {
		rec, sigs, err := a.nsec3(hashName(covered))
		if err != nil {
			return err
		}
		add(rec, sigs)
	}
	for i, p := range proof {
		resp.Ns = append(resp.Ns, p)
		resp.Ns = append(resp.Ns, proofSigs[i]...)
	}
	return nil
}

// addNegativeSOA adds the zone's SOA to the authority section with the
// negative caching TTL: the smaller of its TTL and MINIMUM field (RFC
// 2308, section 3), and its signatures with the same TTL when do is set.
func (a *answerer) addNegativeSOA(resp *dns.Msg, do bool) error {
	apex, err := a.name(a.zone)
	if err != nil {
		return err
	}
	soas, err := apex.records(dns.TypeSOA)
	if err != nil {
		return err
	}
	if len(soas) != 1 {
		return &ZoneError{Zone: a.zone, Reason: "apex does not contain exactly one SOA record"}
	}
	// The records are unpacked for this response, so changing their TTL
	// changes no cached data.
	soa := soas[0].(*dns.SOA)
	ttl := min(soa.Hdr.Ttl, soa.Minttl)
	soa.Hdr.Ttl = ttl
	resp.Ns = append(resp.Ns, soa)
	if !do {
		return nil
	}
	sigs, err := apex.signatures(dns.TypeSOA)
	if err != nil {
		return err
	}
	for _, sig := range sigs {
		sig.Header().Ttl = ttl
		resp.Ns = append(resp.Ns, sig)
	}
	return nil
}
