package dnsserver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// managedTypes are the types the Signer writes itself; ReplaceRRsets
// rejects them.
var managedTypes = map[uint16]string{
	dns.TypeSOA:        "the Signer writes the SOA and its serial",
	dns.TypeDNSKEY:     "the Signer writes the DNSKEY RRset from the zone keys",
	dns.TypeRRSIG:      "the Signer makes every signature",
	dns.TypeNSEC:       "the zone uses NSEC3, which the Signer maintains",
	dns.TypeNSEC3:      "the Signer maintains the NSEC3 chain",
	dns.TypeNSEC3PARAM: "the Signer writes NSEC3PARAM",
	dns.TypeDS:         "the server answers no delegations, so the zone holds no DS",
	dns.TypeDNAME:      "the server does not synthesize CNAMEs from DNAME",
	dns.TypeOPT:        "OPT is a pseudo-record",
	dns.TypeTSIG:       "TSIG is a pseudo-record",
	dns.TypeTKEY:       "TKEY is a pseudo-record",
	dns.TypeANY:        "ANY is a query type",
	dns.TypeAXFR:       "AXFR is a query type",
	dns.TypeIXFR:       "IXFR is a query type",
	dns.TypeNone:       "type 0 is reserved",
}

// normalizeRRsets checks the RRsets given to ReplaceRRsets and returns
// them with lowercase owner names and without duplicates.
func normalizeRRsets(zone string, rrsets map[RRsetKey][]dns.RR) (map[RRsetKey][]dns.RR, error) {
	out := make(map[RRsetKey][]dns.RR, len(rrsets))
	for key, set := range rrsets {
		name := dns.CanonicalName(key.Name)
		if err := checkRRsetKey(zone, name, key.Type); err != nil {
			return nil, err
		}
		norm := RRsetKey{Name: name, Type: key.Type}
		if _, dup := out[norm]; dup {
			return nil, &RecordError{Zone: zone, Name: name, Type: key.Type, Reason: "RRset given twice, with names that differ only in case"}
		}
		clean, err := normalizeSet(zone, norm, set)
		if err != nil {
			return nil, err
		}
		out[norm] = clean
	}
	return out, nil
}

func checkRRsetKey(zone, name string, t uint16) error {
	if _, ok := dns.IsDomainName(name); !ok {
		return &RecordError{Zone: zone, Name: name, Type: t, Reason: "owner is not a valid domain name"}
	}
	if !inZone(zone, name) {
		return &RecordError{Zone: zone, Name: name, Type: t, Reason: "owner lies outside the zone"}
	}
	if why, managed := managedTypes[t]; managed {
		return &RecordError{Zone: zone, Name: name, Type: t, Reason: "type not accepted: " + why}
	}
	if t == dns.TypeNS && name != zone {
		return &RecordError{Zone: zone, Name: name, Type: t, Reason: "NS below the apex would delegate a child zone, which the server does not answer"}
	}
	if strings.HasPrefix(name, "*.") || name == "*." {
		return &RecordError{Zone: zone, Name: name, Type: t, Reason: "wildcard owners are not accepted: the server does not expand wildcards"}
	}
	if isNSEC3Label(name, zone) {
		return &RecordError{Zone: zone, Name: name, Type: t, Reason: "owner looks like an NSEC3 hash label of the zone, which the chain uses"}
	}
	return nil
}

// isNSEC3Label reports whether name is a direct child of zone whose label
// has the form of an NSEC3 hash (32 base32hex characters). Such a name
// could equal the owner of an NSEC3 record of the chain.
func isNSEC3Label(name, zone string) bool {
	label, _, _ := strings.Cut(name, ".")
	if parentName(name) != zone || len(label) != 32 {
		return false
	}
	_, err := base32Hex.DecodeString(strings.ToUpper(label))
	return err == nil
}

func normalizeSet(zone string, key RRsetKey, set []dns.RR) ([]dns.RR, error) {
	var clean []dns.RR
	for _, rr := range set {
		if rr == nil {
			return nil, &RecordError{Zone: zone, Name: key.Name, Type: key.Type, Reason: "nil record in the RRset"}
		}
		h := rr.Header()
		switch {
		case dns.CanonicalName(h.Name) != key.Name:
			return nil, &RecordError{Zone: zone, Name: key.Name, Type: key.Type, Reason: fmt.Sprintf("record owner %s differs from the RRset name", h.Name)}
		case h.Rrtype != key.Type:
			return nil, &RecordError{Zone: zone, Name: key.Name, Type: key.Type, Reason: fmt.Sprintf("record of type %s in the RRset", dns.Type(h.Rrtype))}
		case h.Class != dns.ClassINET:
			return nil, &RecordError{Zone: zone, Name: key.Name, Type: key.Type, Reason: fmt.Sprintf("record of class %s, want IN", dns.Class(h.Class))}
		case len(clean) > 0 && h.Ttl != clean[0].Header().Ttl:
			// RFC 2181, section 5.2: the records of an RRset share one TTL.
			return nil, &RecordError{Zone: zone, Name: key.Name, Type: key.Type, Reason: fmt.Sprintf("TTLs %d and %d differ within the RRset", clean[0].Header().Ttl, h.Ttl)}
		}
		if slices.ContainsFunc(clean, func(c dns.RR) bool { return dns.IsDuplicate(c, rr) }) {
			continue
		}
		c := dns.Copy(rr)
		c.Header().Name = key.Name
		// The store keeps presentation format, so a record must read back
		// as itself.
		back, err := fromStoreRR(toStoreRR(zone, c))
		if err != nil {
			return nil, &RecordError{Zone: zone, Name: key.Name, Type: key.Type, Reason: "record does not parse back from its presentation format: " + err.Error()}
		}
		if !dns.IsDuplicate(back, c) {
			return nil, &RecordError{Zone: zone, Name: key.Name, Type: key.Type, Reason: "record reads back from its presentation format as " + back.String()}
		}
		clean = append(clean, c)
	}
	return clean, nil
}
