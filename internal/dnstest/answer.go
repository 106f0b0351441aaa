package dnstest

import (
	"github.com/miekg/dns"
)

// reply collects one response from one zone.
type reply struct {
	x    *zoneIndex
	m    *dns.Msg
	do   bool
	seen map[string]bool // proof records already in the authority section
}

// answer fills m with the zone's answer to name/qtype.
func (x *zoneIndex) answer(m *dns.Msg, name string, qtype uint16, do bool) {
	r := &reply{x: x, m: m, do: do, seen: map[string]bool{}}
	m.Authoritative = true

	if cut := x.cut(name); cut != "" && !(cut == name && qtype == dns.TypeDS) {
		r.referral(cut)
		return
	}

	if x.exists[name] {
		r.existing(name, qtype)
		return
	}

	ce := x.closestEncloser(name)
	wildcard := childName("*", ce)
	if x.exists[wildcard] {
		r.wildcard(name, qtype, ce, wildcard)
		return
	}

	// RFC 4035, section 3.1.3.2 and RFC 5155, section 7.2.2: prove that
	// the name and the wildcard at its closest encloser do not exist.
	m.Rcode = dns.RcodeNameError
	r.soa()
	if len(x.nsec3) > 0 {
		r.nsec3Match(ce)
		r.nsec3Cover(nextCloser(name, ce))
		r.nsec3Cover(wildcard)
		return
	}
	r.nsecCover(name)
	r.nsecCover(wildcard)
}

func (r *reply) existing(name string, qtype uint16) {
	types := r.x.sets[name]
	switch {
	case qtype == dns.TypeANY && len(types) > 0:
		for t := range types {
			r.addSet(&r.m.Answer, name, name, t)
		}
	case len(types[qtype]) > 0:
		r.addSet(&r.m.Answer, name, name, qtype)
	case len(types[dns.TypeCNAME]) > 0:
		r.addSet(&r.m.Answer, name, name, dns.TypeCNAME)
	default:
		// NODATA, RFC 4035, section 3.1.3.1 and RFC 5155, section 7.2.3;
		// an empty non-terminal has no NSEC of its own, so the NSEC that
		// covers it is the proof.
		r.soa()
		if len(r.x.nsec3) > 0 {
			r.nsec3Match(name)
		} else {
			r.nsecCover(name)
		}
	}
}

func (r *reply) wildcard(name string, qtype uint16, ce, wildcard string) {
	types := r.x.sets[wildcard]
	t := qtype
	if len(types[t]) == 0 && len(types[dns.TypeCNAME]) > 0 {
		t = dns.TypeCNAME
	}
	if len(types[t]) > 0 {
		// RFC 4035, section 3.1.3.3 and RFC 5155, section 7.2.6: the
		// expanded answer comes with proof that name itself does not exist.
		r.addSet(&r.m.Answer, wildcard, name, t)
		if len(r.x.nsec3) > 0 {
			r.nsec3Cover(nextCloser(name, ce))
		} else {
			r.nsecCover(name)
		}
		return
	}

	// Wildcard NODATA, RFC 4035, section 3.1.3.4 and RFC 5155, section 7.2.5.
	r.soa()
	if len(r.x.nsec3) > 0 {
		r.nsec3Match(ce)
		r.nsec3Cover(nextCloser(name, ce))
		r.nsec3Match(wildcard)
		return
	}
	r.nsecCover(name)
	r.nsecCover(wildcard)
}

// referral answers for a name at or below the delegation point cut, with
// the DS RRset or the proof that there is none (RFC 4035, section 3.1.4).
func (r *reply) referral(cut string) {
	r.m.Authoritative = false
	r.addSet(&r.m.Ns, cut, cut, dns.TypeNS)
	switch {
	case len(r.x.sets[cut][dns.TypeDS]) > 0:
		r.addSet(&r.m.Ns, cut, cut, dns.TypeDS)
	case len(r.x.nsec3) > 0:
		r.nsec3Match(cut)
	default:
		r.nsecCover(cut)
	}

	for _, ns := range r.x.sets[cut][dns.TypeNS] {
		host := dns.CanonicalName(ns.(*dns.NS).Ns)
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			for _, rr := range r.x.sets[host][t] {
				r.m.Extra = append(r.m.Extra, dns.Copy(rr))
			}
		}
	}
}

// addSet appends the RRset owner/t to section, renamed to name for a
// wildcard expansion, with its RRSIGs when the query set DO.
func (r *reply) addSet(section *[]dns.RR, owner, name string, t uint16) {
	for _, rr := range r.x.sets[owner][t] {
		c := dns.Copy(rr)
		c.Header().Name = name
		*section = append(*section, c)
	}
	if !r.do {
		return
	}
	for _, rr := range r.x.sigs[owner][t] {
		c := dns.Copy(rr)
		c.Header().Name = name
		*section = append(*section, c)
	}
}

func (r *reply) soa() {
	r.addSet(&r.m.Ns, r.x.origin, r.x.origin, dns.TypeSOA)
}

func (r *reply) nsecCover(name string) {
	if !r.do {
		return
	}
	if n := r.x.nsecCovering(name); n != nil {
		r.addProof(n.Hdr.Name, dns.TypeNSEC)
	}
}

func (r *reply) nsec3Cover(name string) {
	if !r.do {
		return
	}
	if n := r.x.nsec3Covering(name); n != nil {
		r.addProof(dns.CanonicalName(n.Hdr.Name), dns.TypeNSEC3)
	}
}

// nsec3Match adds the NSEC3 that matches name. For a name that exists,
// nsec3Covering finds exactly that record. A name left out of an opt-out
// chain has none, so its closest provable encloser is matched and the next
// closer name covered instead (RFC 5155, section 7.2.4).
func (r *reply) nsec3Match(name string) {
	if r.x.nsec3Matches(name) {
		r.nsec3Cover(name)
		return
	}
	for a := parentName(name); a != ""; a = parentName(a) {
		if r.x.nsec3Matches(a) {
			r.nsec3Cover(a)
			r.nsec3Cover(nextCloser(name, a))
			return
		}
		if a == r.x.origin {
			return
		}
	}
}

func (r *reply) addProof(owner string, t uint16) {
	if r.seen[owner] {
		return
	}
	r.seen[owner] = true
	r.addSet(&r.m.Ns, owner, owner, t)
}

// nextCloser returns the ancestor of name that is one label longer than
// its closest encloser ce (RFC 5155, section 1.3).
func nextCloser(name, ce string) string {
	n := name
	for p := parentName(n); p != "" && p != ce; p = parentName(p) {
		n = p
	}
	return n
}
