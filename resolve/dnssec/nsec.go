package dnssec

import (
	"github.com/miekg/dns"
)

// nsecProver checks denial of existence with verified NSEC records of one
// zone (RFC 4035, section 5.4).
type nsecProver struct {
	zone string
	recs []*dns.NSEC
}

func (p *nsecProver) match(name string) *dns.NSEC {
	for _, n := range p.recs {
		if dns.CanonicalName(n.Hdr.Name) == name {
			return n
		}
	}
	return nil
}

// cover returns the NSEC whose interval (owner, next) holds name, where
// the last NSEC of the zone wraps around to the apex.
func (p *nsecProver) cover(name string) *dns.NSEC {
	if !isAncestorOrSelf(p.zone, name) {
		return nil
	}
	for _, n := range p.recs {
		owner, next := dns.CanonicalName(n.Hdr.Name), dns.CanonicalName(n.NextDomain)
		if canonicalCompare(owner, name) >= 0 {
			continue
		}
		if canonicalCompare(owner, next) < 0 {
			if canonicalCompare(name, next) < 0 {
				return n
			}
			continue
		}
		if next == p.zone {
			return n
		}
	}
	return nil
}

// closestEncloser derives the closest encloser of name, a name that n
// covers: the deeper of the common ancestors of name with the owner and
// with the next name, since both of those exist.
func (p *nsecProver) closestEncloser(name string, n *dns.NSEC) string {
	a := commonAncestor(name, dns.CanonicalName(n.Hdr.Name))
	b := commonAncestor(name, dns.CanonicalName(n.NextDomain))
	if dns.CountLabel(b) > dns.CountLabel(a) {
		a = b
	}
	if !isAncestorOrSelf(p.zone, a) {
		return p.zone
	}
	return a
}

// checkCover rejects an NSEC that covers name from the parent side of a
// delegation or from a DNAME owner above name: such records prove
// nothing about names below their owner.
func checkCover(kind, name, owner string, bitmap []uint16) string {
	if owner == name || !isAncestorOrSelf(owner, name) {
		return ""
	}
	if hasType(bitmap, dns.TypeNS) && !hasType(bitmap, dns.TypeSOA) {
		return "the " + kind + " record at " + owner + " comes from the parent side of a delegation and cannot deny names below it"
	}
	if hasType(bitmap, dns.TypeDNAME) {
		return "the " + kind + " record at " + owner + " lists DNAME, so names below it are redirected, not absent"
	}
	return ""
}

func (p *nsecProver) nodata(name string, qtype uint16) denial {
	if n := p.match(name); n != nil {
		if why := checkBitmap("NSEC", name, qtype, n.TypeBitMap); why != "" {
			return denial{Result: bogus("%s", why)}
		}
		return denial{
			Result:     secure(""),
			delegation: qtype == dns.TypeDS && hasType(n.TypeBitMap, dns.TypeNS),
		}
	}

	c := p.cover(name)
	if c == nil {
		return denial{Result: bogus("no NSEC record matches or covers %s", name)}
	}
	owner := dns.CanonicalName(c.Hdr.Name)
	if why := checkCover("NSEC", name, owner, c.TypeBitMap); why != "" {
		return denial{Result: bogus("%s", why)}
	}

	// An empty non-terminal has no NSEC of its own: the NSEC before it
	// points to a name below it.
	next := dns.CanonicalName(c.NextDomain)
	if next != name && isAncestorOrSelf(name, next) {
		return denial{Result: secure("")}
	}

	// Wildcard NODATA: name does not exist, and the wildcard at its
	// closest encloser exists without the type (RFC 4035, section 3.1.3.4).
	wildcard := childOf("*", p.closestEncloser(name, c))
	w := p.match(wildcard)
	if w == nil {
		return denial{Result: bogus("the NSEC records show that %s does not exist, which a NODATA answer contradicts", name)}
	}
	if why := checkBitmap("NSEC", wildcard, qtype, w.TypeBitMap); why != "" {
		return denial{Result: bogus("%s", why)}
	}
	return denial{Result: secure("")}
}

func (p *nsecProver) nxdomain(name string) denial {
	if p.match(name) != nil {
		return denial{Result: bogus("the NSEC record at %s shows that the name exists", name)}
	}
	c := p.cover(name)
	if c == nil {
		return denial{Result: bogus("no NSEC record covers %s", name)}
	}
	owner := dns.CanonicalName(c.Hdr.Name)
	if why := checkCover("NSEC", name, owner, c.TypeBitMap); why != "" {
		return denial{Result: bogus("%s", why)}
	}
	next := dns.CanonicalName(c.NextDomain)
	if next != name && isAncestorOrSelf(name, next) {
		return denial{Result: bogus("the NSEC record at %s shows that %s is an empty non-terminal, which exists", owner, name)}
	}

	// RFC 4035, section 5.4: the wildcard at the closest encloser must not
	// exist either.
	wildcard := childOf("*", p.closestEncloser(name, c))
	if p.match(wildcard) != nil {
		return denial{Result: bogus("wildcard %s exists, so %s would be answered from it", wildcard, name)}
	}
	if p.cover(wildcard) == nil {
		return denial{Result: bogus("no NSEC record proves that wildcard %s does not exist", wildcard)}
	}
	return denial{Result: secure(""), nxdomain: true}
}

func (p *nsecProver) wildcard(name, source string) Result {
	if p.match(name) != nil {
		return bogus("the NSEC record at %s shows that the name exists, so no wildcard expansion applies", name)
	}
	c := p.cover(name)
	if c == nil {
		return bogus("answer for %s was expanded from wildcard %s, but no NSEC record proves that %s does not exist", name, source, name)
	}
	// The wildcard must sit at the closest encloser: a closer existing
	// name would block the expansion.
	if ce := p.closestEncloser(name, c); childOf("*", ce) != source {
		return bogus("answer for %s was expanded from wildcard %s, but the closest encloser is %s", name, source, ce)
	}
	return secure("")
}
