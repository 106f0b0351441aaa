package resolve

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/records"
)

// step is the meaning of one response for (qname, qtype) after the CNAMEs
// it contains have been followed.
type step struct {
	chain    []string // names visited so far, starting with the first query name
	final    string   // last name of chain
	rrs      []dns.RR // RRset of qtype at final, nil for a denial
	ttl      uint32   // minimum TTL of the CNAMEs followed here and of rrs
	nxdomain bool
	nodata   bool
	negTTL   uint32 // RFC 2308, section 5 negative TTL, valid when hasSOA
	hasSOA   bool
	// next is set when the chain leaves this response: the caller must
	// query final, because the denial or data for it is not here.
	next bool
}

// parseResponse follows CNAMEs from qname through the answer section of resp
// and classifies the result as data, NODATA, NXDOMAIN or "query the target
// next". chain holds the names visited by earlier responses of the same
// lookup and is extended, so loops across responses are detected too.
// Errors are *LookupError of KindCNAME (loop or chain longer than
// MaxCNAMEs).
func parseResponse(qname string, qtype uint16, resp *dns.Msg, chain []string) (step, error) {
	st := step{chain: chain, final: qname, ttl: ^uint32(0)}
	if len(st.chain) == 0 {
		st.chain = []string{qname}
	}

	for {
		rrs, target := answersAt(resp, st.final, qtype)
		if len(rrs) > 0 {
			st.rrs = rrs
			for _, rr := range rrs {
				st.ttl = min(st.ttl, rr.Header().Ttl)
			}
			return st, nil
		}
		if target == nil {
			break
		}
		next := dns.CanonicalName(target.Target)
		if containsFold(st.chain, next) || len(st.chain) > MaxCNAMEs {
			return st, &LookupError{Name: st.chain[0], Type: qtype, Kind: KindCNAME, Rcode: -1,
				CNAMEs: append(append([]string(nil), st.chain[1:]...), next)}
		}
		st.chain = append(st.chain, next)
		st.final = next
		st.ttl = min(st.ttl, target.Hdr.Ttl)
	}

	// No data for final. A denial in this response covers final only when
	// final is the name that was queried: after a CNAME in this response,
	// the target gets its own query so its denial can be validated alone.
	if !strings.EqualFold(st.final, qname) {
		st.next = true
		return st, nil
	}
	st.nxdomain = resp.Rcode == dns.RcodeNameError
	st.nodata = !st.nxdomain
	st.negTTL, st.hasSOA = negativeTTL(resp)
	if st.ttl == ^uint32(0) {
		st.ttl = 0
	}
	return st, nil
}

// answersAt returns the RRs of qtype owned by name in the answer section, or
// else the CNAME owned by name. Records of other classes are ignored.
func answersAt(resp *dns.Msg, name string, qtype uint16) ([]dns.RR, *dns.CNAME) {
	var rrs []dns.RR
	var cname *dns.CNAME
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, name) {
			continue
		}
		switch {
		case h.Rrtype == qtype:
			rrs = append(rrs, rr)
		case h.Rrtype == dns.TypeCNAME && qtype != dns.TypeCNAME && cname == nil:
			cname = rr.(*dns.CNAME)
		}
	}
	if len(rrs) > 0 {
		return rrs, nil
	}
	return nil, cname
}

// negativeTTL returns the TTL of a denial: the smaller of the SOA record's
// own TTL and its MINIMUM field (RFC 2308, section 5). ok is false when the
// authority section has no SOA, and then the denial must not be cached.
func negativeTTL(resp *dns.Msg) (ttl uint32, ok bool) {
	for _, rr := range resp.Ns {
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			return min(soa.Hdr.Ttl, soa.Minttl), true
		}
	}
	return 0, false
}

// signatureLifetime returns the seconds until the earliest expiration of the
// RRSIGs that cover qtype at owner in resp.Answer. RFC 4035, section 5.3.3
// caps the TTL of a validated RRset at that time. ok is false without RRSIGs.
func signatureLifetime(resp *dns.Msg, owner string, qtype uint16, nowUnix int64) (seconds int64, ok bool) {
	for _, rr := range resp.Answer {
		sig, isSig := rr.(*dns.RRSIG)
		if !isSig || sig.TypeCovered != qtype || !strings.EqualFold(sig.Hdr.Name, owner) {
			continue
		}
		// RFC 4034, section 3.1.5: serial number arithmetic (RFC 1982).
		left := int64(int32(sig.Expiration - uint32(nowUnix)))
		if !ok || left < seconds {
			seconds, ok = left, true
		}
	}
	return seconds, ok
}

// tlsaRecords converts TLSA RRs to records.TLSA. RRs of other types are skipped.
func tlsaRecords(rrs []dns.RR) ([]records.TLSA, error) {
	out := make([]records.TLSA, 0, len(rrs))
	for _, rr := range rrs {
		t, ok := rr.(*dns.TLSA)
		if !ok {
			continue
		}
		data, err := hex.DecodeString(t.Certificate)
		if err != nil {
			return nil, fmt.Errorf("TLSA %s: association data is not hex: %w", t.Hdr.Name, err)
		}
		out = append(out, records.TLSA{
			Usage:        records.Usage(t.Usage),
			Selector:     records.Selector(t.Selector),
			MatchingType: records.MatchingType(t.MatchingType),
			Data:         data,
		})
	}
	return out, nil
}

// txtStrings returns the character-strings of each TXT RR, one slice per RR,
// in the shape records.ParseATProto reads.
func txtStrings(rrs []dns.RR) [][]string {
	out := make([][]string, 0, len(rrs))
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, t.Txt)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
