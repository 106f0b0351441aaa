package dnssec

import (
	"context"
	"time"

	"github.com/miekg/dns"
)

// maxCNAMEs bounds the CNAME chain followed inside one response.
const maxCNAMEs = 16

// Exchanger sends one query for name and qtype with the DO bit set and
// returns the response, retrying over TCP when the UDP answer is truncated.
// Implementations must be safe for concurrent use when the Validator is.
// An error means no usable response arrived (timeout, network failure);
// Validate then returns Indeterminate.
type Exchanger interface {
	Exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error)
}

// Validator checks DNS responses against trust anchors. Set the exported
// fields before the first call to Validate and do not change them after.
//
// A Validator caches the DNSKEY RRsets it has validated, and the zone cuts
// it has proven unsigned, until the smallest of the RRset TTL, the
// signature expiration and 24 hours, measured with Now. It is safe for
// concurrent use and must not be copied after first use.
type Validator struct {
	// Anchors are the trust anchors: DS or DNSKEY records, for the root
	// "." or any other zone (see ParseAnchors). A name is validated from
	// the most specific anchor at or above it.
	Anchors []dns.RR

	// Exchanger fetches the DNSKEY and DS RRsets of the chain of trust.
	Exchanger Exchanger

	// Now returns the validation time; nil means time.Now.
	Now func() time.Time

	cache zoneCache
}

// Validate decides the DNSSEC status of resp, the response to qname and
// qtype: a positive answer (following any CNAMEs in it), a NODATA answer
// or an NXDOMAIN answer with NSEC or NSEC3 proofs. It fetches the DNSKEY
// and DS RRsets it needs through the Exchanger, so it may block for as
// long as ctx allows. Responses with an rcode other than NOERROR and
// NXDOMAIN are Indeterminate. Validate never changes resp.
func (v *Validator) Validate(ctx context.Context, qname string, qtype uint16, resp *dns.Msg) Result {
	if _, ok := dns.IsDomainName(qname); !ok {
		return indeterminate("invalid query name %q", qname)
	}
	qname = dns.CanonicalName(qname)
	if resp == nil {
		return indeterminate("no response to validate for %s", rrsetLabel(qname, qtype))
	}

	s := v.newSession(ctx)
	if len(s.anchors) == 0 {
		return indeterminate("no usable trust anchor configured: set Validator.Anchors to DS or DNSKEY records")
	}
	if s.anchorFor(qname) == "" {
		return indeterminate("no trust anchor covers %s: configure a DS or DNSKEY anchor for the root or an ancestor zone", qname)
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return indeterminate("response for %s has rcode %s, which carries no data to validate",
			rrsetLabel(qname, qtype), dns.RcodeToString[resp.Rcode])
	}
	return s.validateResponse(qname, qtype, resp)
}

// session is the state of one Validate call.
type session struct {
	v       *Validator
	ctx     context.Context
	now     time.Time
	anchors map[string][]*dns.DS // by zone; DNSKEY anchors become SHA-256 DS records
	checks  int                  // signature verifications so far
}

func (v *Validator) newSession(ctx context.Context) *session {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	s := &session{v: v, ctx: ctx, now: now, anchors: map[string][]*dns.DS{}}
	for _, rr := range v.Anchors {
		var ds *dns.DS
		switch a := rr.(type) {
		case *dns.DS:
			ds = a
		case *dns.DNSKEY:
			ds = a.ToDS(dns.SHA256)
		}
		if ds == nil || ds.Hdr.Class != dns.ClassINET {
			continue
		}
		zone := dns.CanonicalName(ds.Hdr.Name)
		s.anchors[zone] = append(s.anchors[zone], ds)
	}
	return s
}

// anchorFor returns the zone of the most specific trust anchor at or above
// name, or "".
func (s *session) anchorFor(name string) string {
	for n := name; n != ""; n = parentName(n) {
		if len(s.anchors[n]) > 0 {
			return n
		}
	}
	return ""
}

// validateResponse follows qname through the CNAMEs of the answer section
// and validates each RRset, then the data or the denial at the end.
func (s *session) validateResponse(qname string, qtype uint16, resp *dns.Msg) Result {
	var results []Result
	seen := map[string]bool{}
	name := qname
	for {
		if seen[name] {
			return worst(append(results, indeterminate("CNAME loop: the chain from %s returns to %s", qname, name))...)
		}
		if len(seen) > maxCNAMEs {
			return worst(append(results, indeterminate("CNAME chain from %s is longer than %d links", qname, maxCNAMEs))...)
		}
		seen[name] = true

		if set, sigs := rrsetOf(resp.Answer, name, qtype); len(set) > 0 {
			results = append(results, s.validateRRset(name, qtype, set, sigs, resp))
			return worst(results...)
		}
		if qtype != dns.TypeCNAME {
			if set, sigs := rrsetOf(resp.Answer, name, dns.TypeCNAME); len(set) > 0 {
				results = append(results, s.validateRRset(name, dns.TypeCNAME, set, sigs, resp))
				if len(set) != 1 {
					return worst(append(results, bogus("%s holds %d records; a CNAME RRset holds one", rrsetLabel(name, dns.TypeCNAME), len(set)))...)
				}
				name = dns.CanonicalName(set[0].(*dns.CNAME).Target)
				continue
			}
		}

		// An answer that ends at a CNAME without data or denial for the
		// target leaves the target to a separate query.
		if len(results) > 0 && resp.Rcode == dns.RcodeSuccess && !hasDenialRecords(resp.Ns) {
			return worst(results...)
		}
		results = append(results, s.validateDenial(name, qtype, resp))
		return worst(results...)
	}
}

// validateRRset validates one RRset of the answer section.
func (s *session) validateRRset(name string, t uint16, set []dns.RR, sigs []*dns.RRSIG, resp *dns.Msg) Result {
	label := rrsetLabel(name, t)
	if len(sigs) == 0 {
		return s.unsignedVerdict(name, label+" has no RRSIG")
	}

	var signers []string
	for _, sig := range sigs {
		signer := dns.CanonicalName(sig.SignerName)
		if isAncestorOrSelf(signer, name) && !contains(signers, signer) {
			signers = append(signers, signer)
		}
	}
	if len(signers) == 0 {
		return s.unsignedVerdict(name, "no RRSIG over "+label+" names a signer that encloses the owner name")
	}

	var results []Result
	for _, signer := range signers {
		r := s.verifyWithZone(name, t, set, sigsBy(sigs, signer), signer, resp)
		if r.Status == Secure {
			return r
		}
		results = append(results, r)
	}
	for _, r := range results {
		if r.Status == Insecure {
			return r
		}
	}
	return worst(results...)
}

// verifyWithZone validates set with the keys of the zone signer, and the
// wildcard proof when the RRSIG shows an expansion.
func (s *session) verifyWithZone(name string, t uint16, set []dns.RR, sigs []*dns.RRSIG, signer string, resp *dns.Msg) Result {
	label := rrsetLabel(name, t)
	zk, r := s.zoneKeys(signer)
	if r.Status != Secure {
		return r
	}
	if zk.zone != signer {
		return bogus("RRSIG over %s names signer %s, but the DS query for %s proved no delegation from %s",
			label, signer, signer, zk.zone)
	}

	sig, why := s.verifyRRset(set, sigs, zk.keys)
	if sig == nil {
		return bogus("%s", why)
	}
	if source := wildcardSource(name, sig); source != "" {
		if r := s.proveWildcard(zk, name, source, resp.Ns); r.Status != Secure {
			return r
		}
		return secure("%s expanded from wildcard %s, verified with a key of %s (chain of trust from anchor %s)",
			label, source, signer, zk.anchor)
	}
	return secure("%s verified with a key of %s (chain of trust from anchor %s)", label, signer, zk.anchor)
}

// unsignedVerdict decides the status of data at name that lacks the
// signatures or proofs a signed zone must provide: Insecure when the chain
// proves name lies in an unsigned zone, Bogus when the zone is signed.
func (s *session) unsignedVerdict(name, problem string) Result {
	zk, r := s.zoneKeys(name)
	if r.Status != Secure {
		return r
	}
	return bogus("%s, but %s lies in signed zone %s (chain of trust from anchor %s)", problem, name, zk.zone, zk.anchor)
}

// validateDenial validates the NODATA or NXDOMAIN proof for name and qtype
// in the authority section of resp.
func (s *session) validateDenial(name string, qtype uint16, resp *dns.Msg) Result {
	nx := resp.Rcode == dns.RcodeNameError
	what := "NODATA answer for " + rrsetLabel(name, qtype)
	if nx {
		what = "NXDOMAIN answer for " + name
	}

	// A referral is no denial. The chain of trust down to name decides
	// whether the delegation it points to is unsigned.
	if cut := referralCut(resp, name); cut != "" {
		return s.unsignedVerdict(name, "response for "+rrsetLabel(name, qtype)+" is a referral to "+cut+", not an answer")
	}

	signer := denialSigner(resp.Ns, name)
	if signer == "" {
		return s.unsignedVerdict(name, what+" carries no signed NSEC or NSEC3 records")
	}
	zk, r := s.zoneKeys(signer)
	if r.Status != Secure {
		return r
	}
	if zk.zone != signer {
		return bogus("the proof for %s is signed by %s, but the DS query for %s proved no delegation from %s",
			what, signer, signer, zk.zone)
	}

	d := s.proveDenial(zk, name, qtype, nx, resp.Ns)
	switch d.Status {
	case Secure:
		return secure("%s proven by %s records of %s (chain of trust from anchor %s)", what, d.kind, signer, zk.anchor)
	case Insecure:
		return d.Result
	}
	return bogus("%s: %s", what, d.Reason)
}

// rrsetOf returns the records of type t owned by name in section, and the
// RRSIGs that cover them.
func rrsetOf(section []dns.RR, name string, t uint16) ([]dns.RR, []*dns.RRSIG) {
	var set []dns.RR
	var sigs []*dns.RRSIG
	for _, rr := range section {
		h := rr.Header()
		if h.Class != dns.ClassINET || dns.CanonicalName(h.Name) != name {
			continue
		}
		if sig, ok := rr.(*dns.RRSIG); ok {
			if sig.TypeCovered == t {
				sigs = append(sigs, sig)
			}
			continue
		}
		if h.Rrtype == t {
			set = append(set, rr)
		}
	}
	return set, sigs
}

func sigsBy(sigs []*dns.RRSIG, signer string) []*dns.RRSIG {
	var out []*dns.RRSIG
	for _, sig := range sigs {
		if dns.CanonicalName(sig.SignerName) == signer {
			out = append(out, sig)
		}
	}
	return out
}

// referralCut returns the owner of the NS RRset in the authority section
// of a NOERROR response without SOA, when it encloses name: the response
// is then a referral to that zone cut.
func referralCut(resp *dns.Msg, name string) string {
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) > 0 {
		return ""
	}
	cut := ""
	for _, rr := range resp.Ns {
		switch rr.Header().Rrtype {
		case dns.TypeSOA:
			return ""
		case dns.TypeNS:
			if owner := dns.CanonicalName(rr.Header().Name); isAncestorOrSelf(owner, name) {
				cut = owner
			}
		}
	}
	return cut
}

func hasDenialRecords(section []dns.RR) bool {
	for _, rr := range section {
		switch rr.Header().Rrtype {
		case dns.TypeSOA, dns.TypeNSEC, dns.TypeNSEC3:
			return true
		}
	}
	return false
}

// denialSigner returns the signer of the NSEC, NSEC3 or SOA RRSIGs in
// section that encloses name, preferring those over NSEC and NSEC3.
func denialSigner(section []dns.RR, name string) string {
	var soaSigner string
	for _, rr := range section {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		signer := dns.CanonicalName(sig.SignerName)
		if !isAncestorOrSelf(signer, name) {
			continue
		}
		switch sig.TypeCovered {
		case dns.TypeNSEC, dns.TypeNSEC3:
			return signer
		case dns.TypeSOA:
			if soaSigner == "" {
				soaSigner = signer
			}
		}
	}
	return soaSigner
}
