package dnssec

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// zoneKeys are the validated DNSKEYs of one signed zone.
type zoneKeys struct {
	zone   string
	anchor string
	keys   []*dns.DNSKEY
}

// cutKind classifies the response to a DS query for a name below a signed
// zone.
type cutKind int

const (
	cutFailed   cutKind = iota // the answer was bogus or could not be fetched
	cutSigned                  // a validated DS RRset: a signed child zone
	cutUnsigned                // proven absence of DS at a delegation
	cutNone                    // no delegation at the name
	cutNoName                  // the name does not exist, nor anything below it
)

// zoneKeys returns the keys of the deepest zone cut at or above target,
// building the chain of trust from the most specific anchor above target
// and reusing cached zones. The Result is Secure with the keys, Insecure
// when an unsigned delegation lies between the anchor and target, or Bogus
// or Indeterminate with the reason the chain broke.
func (s *session) zoneKeys(target string) (zoneKeys, Result) {
	anchor := s.anchorFor(target)
	if anchor == "" {
		return zoneKeys{}, indeterminate("no trust anchor covers %s: configure a DS or DNSKEY anchor for the root or an ancestor zone", target)
	}

	current, found, r := s.cachedStart(target, anchor)
	if r.Status == Insecure {
		return zoneKeys{}, r
	}
	if !found {
		if current, r = s.fetchKeys(anchor, anchor, s.anchors[anchor], ""); r.Status != Secure {
			return zoneKeys{}, r
		}
	}

	for _, name := range namesBetween(current.zone, target) {
		kind, ds, r := s.delegation(current, name)
		switch kind {
		case cutFailed, cutUnsigned:
			return zoneKeys{}, r
		case cutNoName:
			return current, secure("")
		case cutSigned:
			next, r := s.fetchKeys(name, current.anchor, ds, current.zone)
			if r.Status != Secure {
				return zoneKeys{}, r
			}
			current = next
		}
	}
	return current, secure("")
}

// cachedStart returns the deepest cached zone at or above target and
// below or at anchor. A cached unsigned cut returns an Insecure result.
func (s *session) cachedStart(target, anchor string) (zoneKeys, bool, Result) {
	for n := target; n != ""; n = parentName(n) {
		if e, ok := s.v.cache.get(n, s.now); ok && !(e.insecure && n == anchor) {
			if e.insecure {
				return zoneKeys{}, false, insecure("%s", e.reason)
			}
			return zoneKeys{zone: n, anchor: e.anchor, keys: e.keys}, true, Result{}
		}
		if n == anchor {
			break
		}
	}
	return zoneKeys{}, false, Result{}
}

// delegation queries the DS RRset of name, a name below the signed zone
// parent, and decides whether name is a signed zone cut, an unsigned one
// or no cut.
func (s *session) delegation(parent zoneKeys, name string) (cutKind, []*dns.DS, Result) {
	resp, r := s.exchange(name, dns.TypeDS)
	if resp == nil {
		return cutFailed, nil, r
	}

	if set, sigs := rrsetOf(resp.Answer, name, dns.TypeDS); len(set) > 0 {
		sig, why := s.verifyRRset(set, sigsBy(sigs, parent.zone), parent.keys)
		if sig == nil {
			return cutFailed, nil, bogus("DS RRset for %s does not verify with the keys of %s: %s", name, parent.zone, why)
		}
		ds := make([]*dns.DS, 0, len(set))
		for _, rr := range set {
			ds = append(ds, rr.(*dns.DS))
		}
		return cutSigned, ds, Result{}
	}

	// A name that owns a CNAME owns no NS RRset, so it is no zone cut.
	if set, sigs := rrsetOf(resp.Answer, name, dns.TypeCNAME); len(set) > 0 {
		if sig, why := s.verifyRRset(set, sigsBy(sigs, parent.zone), parent.keys); sig == nil {
			return cutFailed, nil, bogus("CNAME in the DS answer for %s does not verify with the keys of %s: %s", name, parent.zone, why)
		}
		return cutNone, nil, Result{}
	}

	d := s.proveDenial(parent, name, dns.TypeDS, resp.Rcode == dns.RcodeNameError, resp.Ns)
	switch {
	case d.Status == Insecure:
		s.v.cache.put(name, zoneEntry{insecure: true, reason: d.Reason}, s.now, d.ttl)
		return cutUnsigned, nil, d.Result
	case d.Status != Secure:
		return cutFailed, nil, bogus("no valid proof for the absence of a DS RRset at %s: %s", name, d.Reason)
	case d.nxdomain:
		return cutNoName, nil, Result{}
	case d.delegation:
		r := insecure("no DS at %s (%s proof from %s): zone is unsigned", name, d.kind, parent.zone)
		s.v.cache.put(name, zoneEntry{insecure: true, reason: r.Reason}, s.now, d.ttl)
		return cutUnsigned, nil, r
	}
	return cutNone, nil, Result{}
}

// fetchKeys fetches and validates the DNSKEY RRset of zone against ds,
// the DS RRset from the zone parent or, when parent is "", the trust
// anchor, and caches the result.
func (s *session) fetchKeys(zone, anchor string, ds []*dns.DS, parent string) (zoneKeys, Result) {
	source, noun := "the DS RRset in "+parent, "DS"
	if parent == "" {
		source, noun = "the trust anchor", "Trust anchor"
	}
	usable := usableDS(ds)
	if len(usable) == 0 {
		if parent == "" {
			return zoneKeys{}, indeterminate("trust anchor for %s uses only unsupported algorithms or digest types", zone)
		}
		// RFC 4035, section 5.2: a DS RRset with no supported algorithm
		// makes the child zone unsigned for this validator.
		r := insecure("DS RRset for %s uses only unsupported algorithms or digest types (%s): zone treated as unsigned", zone, describeDS(ds))
		s.v.cache.put(zone, zoneEntry{insecure: true, reason: r.Reason}, s.now, time.Hour)
		return zoneKeys{}, r
	}

	resp, r := s.exchange(zone, dns.TypeDNSKEY)
	if resp == nil {
		return zoneKeys{}, r
	}
	set, sigs := rrsetOf(resp.Answer, zone, dns.TypeDNSKEY)
	if len(set) == 0 {
		return zoneKeys{}, bogus("no DNSKEY RRset for %s in the response, but %s names its keys", zone, source)
	}
	keys := make([]*dns.DNSKEY, 0, len(set))
	for _, rr := range set {
		keys = append(keys, rr.(*dns.DNSKEY))
	}

	// RFC 4035, section 5.2: the DNSKEY RRset must be signed by a key
	// that the DS RRset (or the anchor) authenticates.
	entry := matchDS(usable, keys)
	if len(entry) == 0 {
		return zoneKeys{}, bogus("%s for %s does not match any DNSKEY (%s; DNSKEY key tags %s)",
			noun, zone, describeDS(usable), describeKeys(keys))
	}
	sig, why := s.verifyRRset(set, sigsBy(sigs, zone), entry)
	if sig == nil {
		return zoneKeys{}, bogus("DNSKEY RRset of %s is not validly signed by a key that %s names: %s", zone, source, why)
	}

	var valid []*dns.DNSKEY
	for _, k := range keys {
		if usableKey(k) {
			valid = append(valid, k)
		}
	}
	ttl := min(rrsetTTL(set), time.Duration(sig.OrigTtl)*time.Second, serialTime(sig.Expiration, s.now).Sub(s.now))
	s.v.cache.put(zone, zoneEntry{keys: valid, anchor: anchor}, s.now, ttl)
	return zoneKeys{zone: zone, anchor: anchor, keys: valid}, secure("")
}

// exchange queries name/qtype and returns the response when its rcode is
// NOERROR or NXDOMAIN, or nil and an Indeterminate result.
func (s *session) exchange(name string, qtype uint16) (*dns.Msg, Result) {
	label := rrsetLabel(name, qtype)
	if s.v.Exchanger == nil {
		return nil, indeterminate("cannot fetch %s: Validator.Exchanger is nil", label)
	}
	if err := s.ctx.Err(); err != nil {
		return nil, indeterminate("fetching %s: %v", label, err)
	}
	resp, err := s.v.Exchanger.Exchange(s.ctx, name, qtype)
	switch {
	case err != nil:
		return nil, indeterminate("fetching %s failed: %v", label, err)
	case resp == nil:
		return nil, indeterminate("fetching %s failed: the exchanger returned neither a response nor an error", label)
	case resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError:
		return nil, indeterminate("fetching %s failed: rcode %s", label, dns.RcodeToString[resp.Rcode])
	}
	return resp, Result{}
}

// usableDS returns the DS records whose algorithm and digest type are
// supported; SHA-1 digests are dropped when a SHA-256 or SHA-384 digest is
// present (RFC 4509, section 3).
func usableDS(ds []*dns.DS) []*dns.DS {
	strong := false
	for _, d := range ds {
		if supportedAlgorithm(d.Algorithm) && (d.DigestType == dns.SHA256 || d.DigestType == dns.SHA384) {
			strong = true
		}
	}
	var out []*dns.DS
	for _, d := range ds {
		if !supportedAlgorithm(d.Algorithm) {
			continue
		}
		switch d.DigestType {
		case dns.SHA256, dns.SHA384:
			out = append(out, d)
		case dns.SHA1:
			if !strong {
				out = append(out, d)
			}
		}
	}
	return out
}

// matchDS returns the keys that one of ds authenticates.
func matchDS(ds []*dns.DS, keys []*dns.DNSKEY) []*dns.DNSKEY {
	var out []*dns.DNSKEY
	for _, k := range keys {
		if !usableKey(k) {
			continue
		}
		for _, d := range ds {
			if k.KeyTag() != d.KeyTag || k.Algorithm != d.Algorithm {
				continue
			}
			if got := k.ToDS(d.DigestType); got != nil && strings.EqualFold(got.Digest, d.Digest) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func describeDS(ds []*dns.DS) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("DS key tag %d algorithm %d digest type %d", d.KeyTag, d.Algorithm, d.DigestType))
	}
	return strings.Join(parts, ", ")
}

func describeKeys(keys []*dns.DNSKEY) string {
	var tags []int
	for _, k := range keys {
		tags = append(tags, int(k.KeyTag()))
	}
	sort.Ints(tags)
	var parts []string
	for _, t := range tags {
		parts = append(parts, fmt.Sprint(t))
	}
	return strings.Join(parts, ", ")
}
