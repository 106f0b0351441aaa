package dnstest

import (
	"crypto"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// SignOptions controls Zone.Sign. The zero value signs with an NSEC chain
// and signatures valid from one hour before to 30 days after the time of
// the call.
type SignOptions struct {
	// NSEC3 selects an NSEC3 chain (RFC 5155, SHA-1) in place of an NSEC
	// chain.
	NSEC3 bool

	// Iterations is the NSEC3 count of extra hash iterations. The default
	// 0 and an empty salt follow RFC 9276, section 3.1.
	Iterations uint16

	// Salt is the NSEC3 salt in hex; empty means no salt.
	Salt string

	// OptOut sets the opt-out flag on every NSEC3 record and leaves
	// unsigned delegations out of the chain (RFC 5155, section 6).
	OptOut bool

	// Inception and Expiration bound the validity of every RRSIG. A zero
	// Inception means one hour before Sign runs; a zero Expiration means
	// 30 days after it. A window in the past builds expired signatures.
	Inception, Expiration time.Time
}

// Sign adds the DNSKEY RRset, an NSEC or NSEC3 chain and RRSIGs over every
// authoritative RRset, after removing any DNSSEC records from an earlier
// Sign. The KSK signs the DNSKEY RRset and the ZSK signs the rest. NS
// RRsets at delegations and glue below them stay unsigned (RFC 4035,
// section 2.2).
func (z *Zone) Sign(opts SignOptions) error {
	now := time.Now()
	if opts.Inception.IsZero() {
		opts.Inception = now.Add(-time.Hour)
	}
	if opts.Expiration.IsZero() {
		opts.Expiration = now.Add(30 * 24 * time.Hour)
	}

	z.mu.Lock()
	defer z.mu.Unlock()

	rrs := make([]dns.RR, 0, len(z.RRs))
	for _, rr := range z.RRs {
		switch rr.Header().Rrtype {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM:
			continue
		case dns.TypeDNSKEY:
			if rr.Header().Name == z.Origin {
				continue
			}
		}
		rrs = append(rrs, rr)
	}
	rrs = append(rrs, dns.Copy(z.ksk), dns.Copy(z.zsk))

	minTTL, err := negativeTTL(z.Origin, rrs)
	if err != nil {
		return err
	}
	owners := authoritativeTypes(z.Origin, rrs)
	if opts.NSEC3 {
		rrs = append(rrs, nsec3Chain(z.Origin, owners, minTTL, opts)...)
	} else {
		rrs = append(rrs, nsecChain(z.Origin, owners, minTTL)...)
	}

	sigs, err := z.signAll(rrs, owners, opts)
	if err != nil {
		return err
	}
	z.RRs = append(rrs, sigs...)
	z.signed = true
	z.index = nil
	return nil
}

// negativeTTL returns the TTL for NSEC and NSEC3 records: the smaller of
// the SOA's TTL and its MINIMUM field, as RFC 9077 requires.
func negativeTTL(origin string, rrs []dns.RR) (uint32, error) {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && soa.Hdr.Name == origin {
			return min(soa.Hdr.Ttl, soa.Minttl), nil
		}
	}
	return 0, fmt.Errorf("dnstest: zone %s has no SOA record at its apex", origin)
}

// authoritativeTypes maps each authoritative owner name (the apex, names
// in the zone and delegation points, but not glue below delegations) to
// the types present there.
func authoritativeTypes(origin string, rrs []dns.RR) map[string][]uint16 {
	cuts := map[string]bool{}
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeNS && h.Name != origin {
			cuts[h.Name] = true
		}
	}

	owners := map[string][]uint16{}
	for _, rr := range rrs {
		h := rr.Header()
		if belowCut(origin, h.Name, cuts) {
			continue
		}
		if !containsType(owners[h.Name], h.Rrtype) {
			owners[h.Name] = append(owners[h.Name], h.Rrtype)
		}
	}
	return owners
}

// belowCut reports whether name lies strictly below one of the cuts.
func belowCut(origin, name string, cuts map[string]bool) bool {
	for a := parentName(name); a != "" && a != origin && dns.IsSubDomain(origin, a); a = parentName(a) {
		if cuts[a] {
			return true
		}
	}
	return false
}

// signedTypes returns the types at owner that carry RRSIGs: all of them,
// except NS at a delegation point, where only DS is signed.
func signedTypes(origin, owner string, types []uint16) []uint16 {
	if owner == origin || !containsType(types, dns.TypeNS) {
		return types
	}
	if containsType(types, dns.TypeDS) {
		return []uint16{dns.TypeDS}
	}
	return nil
}

func nsecChain(origin string, owners map[string][]uint16, ttl uint32) []dns.RR {
	names := make([]string, 0, len(owners))
	for name := range owners {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return canonicalLess(names[i], names[j]) })

	chain := make([]dns.RR, 0, len(names))
	for i, name := range names {
		// Every NSEC is signed, so RRSIG and NSEC are in every bitmap
		// (RFC 4034, section 4.1.2).
		types := append(append([]uint16(nil), owners[name]...), dns.TypeNSEC, dns.TypeRRSIG)
		chain = append(chain, &dns.NSEC{
			Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
			NextDomain: names[(i+1)%len(names)],
			TypeBitMap: sortTypes(types),
		})
	}
	return chain
}

func nsec3Chain(origin string, owners map[string][]uint16, ttl uint32, opts SignOptions) []dns.RR {
	// Empty non-terminals get NSEC3 records too (RFC 5155, section 7.1).
	all := map[string][]uint16{}
	for name, types := range owners {
		if opts.OptOut && name != origin && len(signedTypes(origin, name, types)) == 0 {
			continue // an unsigned delegation
		}
		all[name] = types
		for a := parentName(name); a != "" && a != origin && dns.IsSubDomain(origin, a); a = parentName(a) {
			if _, ok := all[a]; !ok {
				all[a] = nil
			}
		}
	}
	all[origin] = append(all[origin], dns.TypeNSEC3PARAM)

	type hashed struct {
		hash  string
		types []uint16
	}
	var list []hashed
	for name, types := range all {
		var bitmap []uint16
		bitmap = append(bitmap, types...)
		if len(signedTypes(origin, name, types)) > 0 {
			bitmap = append(bitmap, dns.TypeRRSIG)
		}
		hash := dns.HashName(name, dns.SHA1, opts.Iterations, opts.Salt)
		list = append(list, hashed{hash: hash, types: sortTypes(bitmap)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].hash < list[j].hash })

	salt := opts.Salt
	if salt == "" {
		salt = "-"
	}
	var flags uint8
	if opts.OptOut {
		flags = 1
	}
	chain := make([]dns.RR, 0, len(list)+1)
	for i, h := range list {
		chain = append(chain, &dns.NSEC3{
			Hdr:        dns.RR_Header{Name: childName(strings.ToLower(h.hash), origin), Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: ttl},
			Hash:       dns.SHA1,
			Flags:      flags,
			Iterations: opts.Iterations,
			SaltLength: uint8(len(opts.Salt) / 2),
			Salt:       salt,
			HashLength: 20,
			NextDomain: list[(i+1)%len(list)].hash,
			TypeBitMap: h.types,
		})
	}
	chain = append(chain, &dns.NSEC3PARAM{
		Hdr:        dns.RR_Header{Name: origin, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: 0},
		Hash:       dns.SHA1,
		Iterations: opts.Iterations,
		SaltLength: uint8(len(opts.Salt) / 2),
		Salt:       salt,
	})
	return chain
}

// signAll signs every authoritative RRset of rrs.
func (z *Zone) signAll(rrs []dns.RR, owners map[string][]uint16, opts SignOptions) ([]dns.RR, error) {
	type key struct {
		name  string
		rtype uint16
	}
	sets := map[key][]dns.RR{}
	var order []key
	for _, rr := range rrs {
		h := rr.Header()
		k := key{h.Name, h.Rrtype}
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}

	var sigs []dns.RR
	for _, k := range order {
		types, authoritative := owners[k.name]
		isChain := k.rtype == dns.TypeNSEC3 || k.rtype == dns.TypeNSEC3PARAM || k.rtype == dns.TypeNSEC
		if !isChain && (!authoritative || !containsType(signedTypes(z.Origin, k.name, types), k.rtype)) {
			continue
		}

		signer, key := z.zsk, z.zskKey
		if k.rtype == dns.TypeDNSKEY && k.name == z.Origin {
			signer, key = z.ksk, z.kskKey
		}
		sig, err := signRRset(sets[k], signer, key, opts)
		if err != nil {
			return nil, fmt.Errorf("dnstest: signing %s/%s in zone %s: %w", k.name, dns.TypeToString[k.rtype], z.Origin, err)
		}
		sigs = append(sigs, sig)
	}
	return sigs, nil
}

func signRRset(set []dns.RR, k *dns.DNSKEY, priv crypto.Signer, opts SignOptions) (*dns.RRSIG, error) {
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Ttl: set[0].Header().Ttl},
		Algorithm:  k.Algorithm,
		KeyTag:     k.KeyTag(),
		SignerName: k.Hdr.Name,
		Inception:  uint32(opts.Inception.Unix()),
		Expiration: uint32(opts.Expiration.Unix()),
	}
	if err := sig.Sign(priv, set); err != nil {
		return nil, err
	}
	return sig, nil
}

func containsType(types []uint16, t uint16) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

func sortTypes(types []uint16) []uint16 {
	out := make([]uint16, 0, len(types))
	for _, t := range types {
		if !containsType(out, t) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// SignRRset replaces the RRSIGs over the RRset name/rrtype with new ones
// made with the validity window of opts (zero times take the defaults of
// Sign), leaving every other signature alone. It builds, for instance, an
// expired signature over one TLSA RRset in an otherwise valid zone. The
// zone must have been signed.
func (z *Zone) SignRRset(name string, rrtype uint16, opts SignOptions) error {
	now := time.Now()
	if opts.Inception.IsZero() {
		opts.Inception = now.Add(-time.Hour)
	}
	if opts.Expiration.IsZero() {
		opts.Expiration = now.Add(30 * 24 * time.Hour)
	}
	name = dns.CanonicalName(name)

	z.mu.Lock()
	defer z.mu.Unlock()
	if !z.signed {
		return fmt.Errorf("dnstest: zone %s is not signed; call Sign first", z.Origin)
	}

	var set, kept []dns.RR
	for _, rr := range z.RRs {
		h := rr.Header()
		if sig, ok := rr.(*dns.RRSIG); ok && sig.Hdr.Name == name && sig.TypeCovered == rrtype {
			continue
		}
		if h.Name == name && h.Rrtype == rrtype {
			set = append(set, rr)
		}
		kept = append(kept, rr)
	}
	if len(set) == 0 {
		return fmt.Errorf("dnstest: zone %s has no %s RRset at %s", z.Origin, dns.TypeToString[rrtype], name)
	}

	signer, key := z.zsk, z.zskKey
	if rrtype == dns.TypeDNSKEY && name == z.Origin {
		signer, key = z.ksk, z.kskKey
	}
	sig, err := signRRset(set, signer, key, opts)
	if err != nil {
		return fmt.Errorf("dnstest: signing %s/%s in zone %s: %w", name, dns.TypeToString[rrtype], z.Origin, err)
	}
	z.RRs = append(kept, sig)
	z.index = nil
	return nil
}
