package dnsserver

import (
	"encoding/base32"
	"math/big"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// NSEC3 parameters of every zone the Signer keeps: SHA-1, no extra
// iterations and an empty salt, as RFC 9276, section 3.1 recommends, and
// no opt-out because every delegation would be signed anyway.
const (
	nsec3Hash       = dns.SHA1
	nsec3Iterations = 0
	nsec3Salt       = ""
	nsec3Flags      = 0
)

var base32Hex = base32.HexEncoding.WithPadding(base32.NoPadding)

// hashName returns the NSEC3 hash of name as a lowercase base32hex label
// (RFC 5155, section 5), the form store.RR.Hash and the NSEC3 owner names
// use.
func hashName(name string) string {
	return strings.ToLower(dns.HashName(name, nsec3Hash, nsec3Iterations, nsec3Salt))
}

// hashOwner returns the owner name of the NSEC3 record for hash in zone.
func hashOwner(hash, zone string) string {
	return childOf(hash, zone)
}

// hashBefore returns the hash one below h in the 160-bit circular hash
// space, so that the store's "greatest hash <= x" lookup finds the record
// strictly before h. The zero hash wraps to the largest one, which makes
// the lookup return the last record of the chain.
func hashBefore(h string) string {
	raw, err := base32Hex.DecodeString(strings.ToUpper(h))
	if err != nil || len(raw) != 20 {
		return h
	}
	n := new(big.Int).SetBytes(raw)
	if n.Sign() == 0 {
		n.Lsh(big.NewInt(1), 160)
	}
	n.Sub(n, big.NewInt(1))
	out := make([]byte, 20)
	n.FillBytes(out)
	return strings.ToLower(base32Hex.EncodeToString(out))
}

// typeBitmap returns the sorted type list of an NSEC3 record for a name
// that owns the given types: RRSIG is added when any type is present
// because every authoritative RRset is signed (RFC 5155, section 3.2).
// An empty non-terminal has an empty bitmap.
func typeBitmap(types []uint16) []uint16 {
	var out []uint16
	for _, t := range types {
		switch t {
		case dns.TypeRRSIG, dns.TypeNSEC3:
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > 0 {
		out = append(out, dns.TypeRRSIG)
	}
	slices.Sort(out)
	return out
}

// newNSEC3 builds the NSEC3 record at hash in zone that points to next.
func newNSEC3(zone, hash, next string, bitmap []uint16, ttl uint32) *dns.NSEC3 {
	return &dns.NSEC3{
		Hdr: dns.RR_Header{
			Name:   hashOwner(hash, zone),
			Rrtype: dns.TypeNSEC3,
			Class:  dns.ClassINET,
			Ttl:    ttl,
		},
		Hash:       nsec3Hash,
		Flags:      nsec3Flags,
		Iterations: nsec3Iterations,
		SaltLength: 0,
		Salt:       "",
		HashLength: 20,
		NextDomain: strings.ToUpper(next),
		TypeBitMap: bitmap,
	}
}

// newNSEC3PARAM builds the apex NSEC3PARAM record that announces the
// chain's parameters (RFC 5155, section 4). Its flags are zero: the
// opt-out flag belongs to NSEC3 records only.
func newNSEC3PARAM(zone string, ttl uint32) *dns.NSEC3PARAM {
	return &dns.NSEC3PARAM{
		Hdr: dns.RR_Header{
			Name:   zone,
			Rrtype: dns.TypeNSEC3PARAM,
			Class:  dns.ClassINET,
			Ttl:    ttl,
		},
		Hash:       nsec3Hash,
		Flags:      0,
		Iterations: nsec3Iterations,
		SaltLength: 0,
		Salt:       "",
	}
}

// chainLink is one entry of an NSEC3 chain: the hash of an existing name
// and the types it owns.
type chainLink struct {
	hash  string
	types []uint16
}

// buildChain returns the NSEC3 records of a complete chain over names, a
// map from every existing name (including empty non-terminals, with no
// types) to the types it owns. Records are in hash order; the last one
// points back to the first.
func buildChain(zone string, names map[string][]uint16, ttl uint32) []*dns.NSEC3 {
	links := make([]chainLink, 0, len(names))
	for name, types := range names {
		links = append(links, chainLink{hash: hashName(name), types: typeBitmap(types)})
	}
	slices.SortFunc(links, func(a, b chainLink) int { return strings.Compare(a.hash, b.hash) })

	out := make([]*dns.NSEC3, 0, len(links))
	for i, l := range links {
		next := links[(i+1)%len(links)].hash
		out = append(out, newNSEC3(zone, l.hash, next, l.types, ttl))
	}
	return out
}
