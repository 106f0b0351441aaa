package dnsserver

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// checkSignedZone checks, without the Signer's own helpers, that rrs form
// a correctly signed zone: one NSEC3 per existing name (empty
// non-terminals included) with the right type bitmap, a closed chain in
// hash order, RFC 9276 parameters, and a valid RRSIG over every RRset made
// by the right key. It returns every problem found.
func checkSignedZone(zone string, rrs []dns.RR, now time.Time) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	types := map[string][]uint16{} // existing names and their types
	sets := map[string][]dns.RR{}  // "name/type" -> RRset
	sigs := map[string][]*dns.RRSIG{}
	var nsec3s []*dns.NSEC3
	var keys []*dns.DNSKEY
	for _, rr := range rrs {
		h := rr.Header()
		name := strings.ToLower(h.Name)
		switch v := rr.(type) {
		case *dns.RRSIG:
			k := name + "/" + dns.TypeToString[v.TypeCovered]
			sigs[k] = append(sigs[k], v)
			continue
		case *dns.NSEC3:
			nsec3s = append(nsec3s, v)
		case *dns.DNSKEY:
			keys = append(keys, v)
		}
		k := name + "/" + dns.TypeToString[h.Rrtype]
		sets[k] = append(sets[k], rr)
		if h.Rrtype == dns.TypeNSEC3 {
			continue
		}
		if !slices.Contains(types[name], h.Rrtype) {
			types[name] = append(types[name], h.Rrtype)
		}
		// Every ancestor below the apex exists too, as an empty
		// non-terminal when it owns nothing.
		labels := dns.SplitDomainName(name)
		for i := 1; i < len(labels)-dns.CountLabel(zone); i++ {
			ancestor := dns.Fqdn(strings.Join(labels[i:], "."))
			if _, ok := types[ancestor]; !ok {
				types[ancestor] = nil
			}
		}
	}

	// Every RRset is signed by the right key and the signature verifies.
	for k, set := range sets {
		var want uint16 = zskFlags
		if set[0].Header().Rrtype == dns.TypeDNSKEY {
			want = kskFlags
		}
		verified := false
		for _, sig := range sigs[k] {
			for _, key := range keys {
				if key.Flags != want || key.KeyTag() != sig.KeyTag {
					continue
				}
				if err := sig.Verify(key, set); err != nil {
					report("RRSIG over %s does not verify: %v", k, err)
					continue
				}
				if !sig.ValidityPeriod(now) {
					report("RRSIG over %s is not valid at %s", k, now.UTC())
					continue
				}
				verified = true
			}
		}
		if !verified {
			report("no valid RRSIG by the key with flags %d over %s", want, k)
		}
	}

	// One NSEC3 per existing name, with the right bitmap and parameters.
	byHash := map[string]*dns.NSEC3{}
	for _, n := range nsec3s {
		label, _, _ := strings.Cut(n.Hdr.Name, ".")
		byHash[strings.ToUpper(label)] = n
		if n.Hash != dns.SHA1 || n.Flags != 0 || n.Iterations != 0 || (n.Salt != "" && n.Salt != "-") {
			report("NSEC3 %s has parameters hash %d flags %d iterations %d salt %q, want 1 0 0 -", n.Hdr.Name, n.Hash, n.Flags, n.Iterations, n.Salt)
		}
	}
	if len(byHash) != len(types) {
		report("%d NSEC3 records for %d existing names", len(byHash), len(types))
	}
	for name, ts := range types {
		h := dns.HashName(name, dns.SHA1, 0, "")
		n, ok := byHash[h]
		if !ok {
			report("no NSEC3 for existing name %s (hash %s)", name, h)
			continue
		}
		want := slices.Clone(ts)
		if len(want) > 0 {
			want = append(want, dns.TypeRRSIG)
		}
		slices.Sort(want)
		got := slices.Clone(n.TypeBitMap)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			report("NSEC3 for %s lists types %v, want %v", name, typeNames(got), typeNames(want))
		}
	}

	// The chain is closed: each record points to the next hash in order,
	// the last to the first.
	hashes := make([]string, 0, len(byHash))
	for h := range byHash {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	for i, h := range hashes {
		next := hashes[(i+1)%len(hashes)]
		if got := strings.ToUpper(byHash[h].NextDomain); got != next {
			report("NSEC3 %s points to %s, want %s", h, got, next)
		}
	}
	return problems
}

func typeNames(ts []uint16) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = dns.TypeToString[t]
	}
	return out
}
