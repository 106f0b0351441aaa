package dnssec

import (
	"time"

	"github.com/miekg/dns"
)

// denial is the outcome of checking an NSEC or NSEC3 proof.
type denial struct {
	Result

	kind       string        // "NSEC" or "NSEC3"
	nxdomain   bool          // the name was proven not to exist
	delegation bool          // a DS denial at a name that owns an NS RRset
	ttl        time.Duration // smallest TTL among the proof records
}

// prover checks denial of existence with one kind of proof record.
type prover interface {
	nodata(name string, qtype uint16) denial
	nxdomain(name string) denial
	wildcard(name, source string) Result
}

// proveDenial checks that the NSEC or NSEC3 records of section, signed by
// the zone zk, prove that name does not exist (nx) or has no qtype RRset.
func (s *session) proveDenial(zk zoneKeys, name string, qtype uint16, nx bool, section []dns.RR) denial {
	p, kind, ttl, r := s.prover(zk, section)
	if p == nil {
		return denial{Result: r}
	}

	var d denial
	if nx {
		d = p.nxdomain(name)
	} else {
		d = p.nodata(name, qtype)
	}
	d.kind, d.ttl = kind, ttl
	return d
}

// proveWildcard checks that section proves name does not exist, so that
// an RRset expanded from the wildcard source is the right answer (RFC 4035,
// section 5.3.4 and RFC 5155, section 8.8).
func (s *session) proveWildcard(zk zoneKeys, name, source string, section []dns.RR) Result {
	p, _, _, r := s.prover(zk, section)
	if p == nil {
		return bogus("answer for %s was expanded from wildcard %s, but %s", name, source, r.Reason)
	}
	return p.wildcard(name, source)
}

// prover verifies the NSEC and NSEC3 records in section that zk's zone
// signed and returns a prover over them. It returns a nil prover and a
// Bogus result when a record fails to verify or none are present.
func (s *session) prover(zk zoneKeys, section []dns.RR) (prover, string, time.Duration, Result) {
	var nsecs []*dns.NSEC
	var nsec3s []*dns.NSEC3
	var ttl time.Duration
	done := map[string]bool{}

	for _, rr := range section {
		h := rr.Header()
		if h.Rrtype != dns.TypeNSEC && h.Rrtype != dns.TypeNSEC3 {
			continue
		}
		owner := dns.CanonicalName(h.Name)
		key := owner + "/" + typeName(h.Rrtype)
		if done[key] || !inZone(zk.zone, owner, h.Rrtype) {
			continue
		}
		done[key] = true

		set, sigs := rrsetOf(section, owner, h.Rrtype)
		sigs = sigsBy(sigs, zk.zone)
		if len(sigs) == 0 {
			continue
		}
		if sig, why := s.verifyRRset(set, sigs, zk.keys); sig == nil {
			return nil, "", 0, bogus("%s", why)
		}
		if setTTL := rrsetTTL(set); ttl == 0 || setTTL < ttl {
			ttl = setTTL
		}
		for _, rr := range set {
			switch v := rr.(type) {
			case *dns.NSEC:
				nsecs = append(nsecs, v)
			case *dns.NSEC3:
				nsec3s = append(nsec3s, v)
			}
		}
	}

	switch {
	case len(nsecs) > 0:
		return &nsecProver{zone: zk.zone, recs: nsecs}, "NSEC", ttl, Result{}
	case len(nsec3s) > 0:
		p, r := newNSEC3Prover(zk.zone, nsec3s)
		if p == nil {
			return nil, "", 0, r
		}
		return p, "NSEC3", ttl, Result{}
	}
	return nil, "", 0, bogus("the authority section holds no NSEC or NSEC3 records signed by %s", zk.zone)
}

// inZone reports whether an NSEC or NSEC3 owner name belongs to zone: an
// NSEC owner lies at or below the apex, an NSEC3 owner is one hash label
// directly below it (RFC 5155, section 3).
func inZone(zone, owner string, t uint16) bool {
	if t == dns.TypeNSEC3 {
		return parentName(owner) == zone
	}
	return isAncestorOrSelf(zone, owner)
}

func hasType(bitmap []uint16, t uint16) bool {
	for _, x := range bitmap {
		if x == t {
			return true
		}
	}
	return false
}

// checkBitmap applies the NODATA rules to the type bitmap of the NSEC or
// NSEC3 record that matches name, and returns "" when it proves that
// qtype is absent, or why it does not.
func checkBitmap(kind, name string, qtype uint16, bitmap []uint16) string {
	switch {
	case hasType(bitmap, qtype):
		return "the " + kind + " record at " + name + " lists type " + typeName(qtype) + ", so the RRset exists"
	case hasType(bitmap, dns.TypeCNAME):
		return "the " + kind + " record at " + name + " lists CNAME, so the answer should have been the CNAME"
	case qtype == dns.TypeDS && hasType(bitmap, dns.TypeSOA) && name != ".":
		// A DS RRset lives in the parent; the child's apex record
		// cannot deny it.
		return "the " + kind + " record at " + name + " comes from the child zone's apex, which cannot deny the DS RRset held by the parent"
	case qtype != dns.TypeDS && hasType(bitmap, dns.TypeNS) && !hasType(bitmap, dns.TypeSOA):
		// The parent side of a delegation proves nothing about the
		// child's data.
		return "the " + kind + " record at " + name + " comes from the parent side of a delegation and cannot deny " + typeName(qtype) + " in the child zone"
	}
	return ""
}
