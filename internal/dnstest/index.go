package dnstest

import (
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// zoneIndex is a read-only view of a zone's records for answering queries.
// It is rebuilt after every change to Zone.RRs made through Zone methods.
type zoneIndex struct {
	origin string
	sets   map[string]map[uint16][]dns.RR // owner -> type -> records, RRSIGs excluded
	sigs   map[string]map[uint16][]dns.RR // owner -> covered type -> RRSIGs
	exists map[string]bool                // owners and their ancestors inside the zone
	nsec   []*dns.NSEC                    // sorted in canonical order of owner names
	nsec3  []*dns.NSEC3                   // sorted by owner hash
}

// answer fills m with the zone's response to name/qtype. It holds the
// zone's lock throughout, because the index shares records with RRs,
// which Edit may change in place.
func (z *Zone) answer(m *dns.Msg, name string, qtype uint16, do bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.index == nil {
		z.index = buildIndex(z.Origin, z.RRs)
	}
	z.index.answer(m, name, qtype, do)
}

func buildIndex(origin string, rrs []dns.RR) *zoneIndex {
	x := &zoneIndex{
		origin: origin,
		sets:   map[string]map[uint16][]dns.RR{},
		sigs:   map[string]map[uint16][]dns.RR{},
		exists: map[string]bool{},
	}
	add := func(m map[string]map[uint16][]dns.RR, name string, t uint16, rr dns.RR) {
		if m[name] == nil {
			m[name] = map[uint16][]dns.RR{}
		}
		m[name][t] = append(m[name][t], rr)
	}

	for _, rr := range rrs {
		h := rr.Header()
		name := dns.CanonicalName(h.Name)
		switch v := rr.(type) {
		case *dns.RRSIG:
			add(x.sigs, name, v.TypeCovered, rr)
			continue
		case *dns.NSEC:
			x.nsec = append(x.nsec, v)
		case *dns.NSEC3:
			x.nsec3 = append(x.nsec3, v)
			// NSEC3 owners are not names of the zone's namespace.
			add(x.sets, name, h.Rrtype, rr)
			continue
		}
		add(x.sets, name, h.Rrtype, rr)
		for a := name; a != "" && dns.IsSubDomain(origin, a); a = parentName(a) {
			x.exists[a] = true
			if a == origin {
				break
			}
		}
	}

	sort.Slice(x.nsec, func(i, j int) bool { return canonicalLess(x.nsec[i].Hdr.Name, x.nsec[j].Hdr.Name) })
	sort.Slice(x.nsec3, func(i, j int) bool { return nsec3Hash(x.nsec3[i]) < nsec3Hash(x.nsec3[j]) })
	return x
}

// cut returns the highest delegation point at or above name, below the
// apex, or "" when name is not at or below a delegation.
func (x *zoneIndex) cut(name string) string {
	var found string
	for a := name; a != "" && a != x.origin && dns.IsSubDomain(x.origin, a); a = parentName(a) {
		if len(x.sets[a][dns.TypeNS]) > 0 {
			found = a
		}
	}
	return found
}

// closestEncloser returns the deepest existing ancestor of name (RFC 5155,
// section 1.3), where empty non-terminals count as existing.
func (x *zoneIndex) closestEncloser(name string) string {
	for a := parentName(name); a != ""; a = parentName(a) {
		if x.exists[a] {
			return a
		}
		if a == x.origin {
			break
		}
	}
	return x.origin
}

// nsecCovering returns the NSEC whose owner is the last one that sorts
// before name, which either matches or covers name.
func (x *zoneIndex) nsecCovering(name string) *dns.NSEC {
	if len(x.nsec) == 0 {
		return nil
	}
	i := sort.Search(len(x.nsec), func(i int) bool { return canonicalLess(name, x.nsec[i].Hdr.Name) })
	if i == 0 {
		return x.nsec[len(x.nsec)-1]
	}
	return x.nsec[i-1]
}

// nsec3Covering returns the NSEC3 whose hash matches or covers the hash of
// name.
func (x *zoneIndex) nsec3Covering(name string) *dns.NSEC3 {
	if len(x.nsec3) == 0 {
		return nil
	}
	first := x.nsec3[0]
	h := dns.HashName(name, first.Hash, first.Iterations, saltOf(first))
	i := sort.Search(len(x.nsec3), func(i int) bool { return h < nsec3Hash(x.nsec3[i]) })
	if i == 0 {
		return x.nsec3[len(x.nsec3)-1]
	}
	return x.nsec3[i-1]
}

// nsec3Matches reports whether the chain holds an NSEC3 for name.
func (x *zoneIndex) nsec3Matches(name string) bool {
	n := x.nsec3Covering(name)
	return n != nil && nsec3Hash(n) == dns.HashName(name, n.Hash, n.Iterations, saltOf(n))
}

func saltOf(n *dns.NSEC3) string {
	if n.Salt == "-" {
		return ""
	}
	return n.Salt
}

func nsec3Hash(n *dns.NSEC3) string {
	label, _, _ := strings.Cut(n.Hdr.Name, ".")
	return strings.ToUpper(label)
}

// parentName returns name without its first label, "." for a top-level
// name and "" for the root.
func parentName(name string) string {
	if name == "." || name == "" {
		return ""
	}
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// childName returns the name made of label and parent.
func childName(label, parent string) string {
	if parent == "." {
		return label + "."
	}
	return label + "." + parent
}

// canonicalLess orders names as RFC 4034, section 6.1 does: label by
// label from the right, each label compared as lowercase bytes.
func canonicalLess(a, b string) bool {
	la, lb := dns.SplitDomainName(strings.ToLower(a)), dns.SplitDomainName(strings.ToLower(b))
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if la[i] != lb[j] {
			return la[i] < lb[j]
		}
	}
	return len(la) < len(lb)
}
