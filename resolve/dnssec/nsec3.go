package dnssec

import (
	"encoding/base32"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// MaxNSEC3Iterations is the largest NSEC3 iteration count this package
// hashes. A proof from NSEC3 records with more iterations makes the answer
// Insecure once their RRSIGs verify, as RFC 9276, section 3.2 allows. That
// section leaves the limit to each validator, and 150 is this package's
// choice.
const MaxNSEC3Iterations = 150

// nsec3Prover checks denial of existence with verified NSEC3 records of
// one zone (RFC 5155, section 8).
type nsec3Prover struct {
	zone   string
	recs   []*dns.NSEC3
	hashes map[string]string // "name iterations salt" -> hash
}

var base32Hex = base32.HexEncoding.WithPadding(base32.NoPadding)

// newNSEC3Prover keeps the records this package can use: SHA-1, flags 0
// or 1 (RFC 5155, section 8.2), well-formed hashes. Iteration counts above
// MaxNSEC3Iterations return a nil prover and an Insecure result.
func newNSEC3Prover(zone string, recs []*dns.NSEC3) (*nsec3Prover, Result) {
	p := &nsec3Prover{zone: zone, hashes: map[string]string{}}
	for _, n := range recs {
		if n.Hash != dns.SHA1 || n.Flags&^1 != 0 {
			continue
		}
		if n.Iterations > MaxNSEC3Iterations {
			return nil, insecure("NSEC3 records of %s use %d hash iterations, above the limit of %d (RFC 9276): answers from this zone are treated as unsigned",
				zone, n.Iterations, MaxNSEC3Iterations)
		}
		if !validHash(ownerHash(n)) || !validHash(strings.ToUpper(n.NextDomain)) {
			continue
		}
		p.recs = append(p.recs, n)
	}
	if len(p.recs) == 0 {
		return nil, bogus("no usable NSEC3 records from %s (hash algorithm must be SHA-1, flags 0 or 1)", zone)
	}
	return p, Result{}
}

func validHash(h string) bool {
	b, err := base32Hex.DecodeString(h)
	return err == nil && len(b) == 20
}

func ownerHash(n *dns.NSEC3) string {
	label, _, _ := strings.Cut(n.Hdr.Name, ".")
	return strings.ToUpper(label)
}

func (p *nsec3Prover) hash(name string, n *dns.NSEC3) string {
	salt := n.Salt
	if salt == "-" {
		salt = ""
	}
	key := fmt.Sprintf("%s %d %s", name, n.Iterations, salt)
	if h, ok := p.hashes[key]; ok {
		return h
	}
	h := dns.HashName(name, dns.SHA1, n.Iterations, salt)
	p.hashes[key] = h
	return h
}

func (p *nsec3Prover) match(name string) *dns.NSEC3 {
	for _, n := range p.recs {
		if h := p.hash(name, n); h != "" && h == ownerHash(n) {
			return n
		}
	}
	return nil
}

// cover returns the NSEC3 whose hash interval holds the hash of name; the
// last record of the chain wraps around to the first.
func (p *nsec3Prover) cover(name string) *dns.NSEC3 {
	for _, n := range p.recs {
		h := p.hash(name, n)
		if h == "" {
			continue
		}
		owner, next := ownerHash(n), strings.ToUpper(n.NextDomain)
		if owner < next && owner < h && h < next {
			return n
		}
		if owner >= next && (h > owner || h < next) {
			return n
		}
	}
	return nil
}

// closestEncloser runs the closest encloser proof of RFC 5155, section
// 8.3 for a name that does not exist. It returns the closest encloser and
// the NSEC3 that covers the next closer name, or the reason the proof
// fails.
func (p *nsec3Prover) closestEncloser(name string) (string, *dns.NSEC3, string) {
	nextCloser := ""
	for n := name; n != "" && isAncestorOrSelf(p.zone, n); n = parentName(n) {
		m := p.match(n)
		if m == nil {
			nextCloser = n
			continue
		}
		if n == name {
			return "", nil, "the NSEC3 record for " + name + " shows that the name exists"
		}
		if why := checkCover("NSEC3", name, n, m.TypeBitMap); why != "" {
			return "", nil, why
		}
		c := p.cover(nextCloser)
		if c == nil {
			return "", nil, "no NSEC3 record covers the next closer name " + nextCloser
		}
		return n, c, ""
	}
	return "", nil, "no NSEC3 record matches an ancestor of " + name + " in zone " + p.zone
}

func optOut(n *dns.NSEC3) bool { return n.Flags&1 != 0 }

func (p *nsec3Prover) nodata(name string, qtype uint16) denial {
	if m := p.match(name); m != nil {
		if why := checkBitmap("NSEC3", name, qtype, m.TypeBitMap); why != "" {
			return denial{Result: bogus("%s", why)}
		}
		return denial{
			Result:     secure(""),
			delegation: qtype == dns.TypeDS && hasType(m.TypeBitMap, dns.TypeNS),
		}
	}

	ce, c, why := p.closestEncloser(name)
	if why != "" {
		return denial{Result: bogus("no NSEC3 record matches %s and %s", name, why)}
	}

	// RFC 5155, section 8.6: an opt-out span may hide an unsigned
	// delegation, which only a DS query can rely on.
	if qtype == dns.TypeDS && optOut(c) {
		return denial{
			Result:     insecure("no DS at %s (opt-out NSEC3 from %s): any delegation there is unsigned", name, p.zone),
			delegation: true,
		}
	}

	// Wildcard NODATA, RFC 5155, section 8.7.
	wildcard := childOf("*", ce)
	w := p.match(wildcard)
	if w == nil {
		return denial{Result: bogus("the NSEC3 records show that %s does not exist, which a NODATA answer contradicts", name)}
	}
	if why := checkBitmap("NSEC3", wildcard, qtype, w.TypeBitMap); why != "" {
		return denial{Result: bogus("%s", why)}
	}
	return denial{Result: secure("")}
}

func (p *nsec3Prover) nxdomain(name string) denial {
	ce, c, why := p.closestEncloser(name)
	if why != "" {
		return denial{Result: bogus("%s", why)}
	}

	// RFC 5155, section 8.4: the wildcard at the closest encloser must not
	// exist either.
	wildcard := childOf("*", ce)
	if p.match(wildcard) != nil {
		return denial{Result: bogus("wildcard %s exists, so %s would be answered from it", wildcard, name)}
	}
	if p.cover(wildcard) == nil {
		return denial{Result: bogus("no NSEC3 record proves that wildcard %s does not exist", wildcard)}
	}
	if optOut(c) {
		return denial{Result: insecure("NXDOMAIN for %s rests on an opt-out NSEC3 record of %s, which may hide an unsigned delegation", name, p.zone)}
	}
	return denial{Result: secure(""), nxdomain: true}
}

func (p *nsec3Prover) wildcard(name, source string) Result {
	// RFC 5155, section 8.8: the next closer name below the wildcard's
	// parent must be covered, which proves name itself does not exist.
	parent := parentName(source)
	nextCloser := suffixLabels(name, dns.CountLabel(parent)+1)
	if p.cover(nextCloser) == nil {
		return bogus("answer for %s was expanded from wildcard %s, but no NSEC3 record covers the next closer name %s", name, source, nextCloser)
	}
	return secure("")
}
