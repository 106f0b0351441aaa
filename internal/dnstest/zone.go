package dnstest

import (
	"crypto"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL, in seconds, of records that NewZone and Sign add
// themselves (SOA, NS, DNSKEY, DS) and of parsed records that carry none.
const DefaultTTL = 3600

// Zone is a test zone held in memory. NewZone creates it with a KSK and a
// ZSK (ECDSA P-256, algorithm 13) that stay the same for the life of the
// zone, so DS records handed to a parent remain valid when the zone is
// signed again.
//
// A Zone is safe for concurrent use through its methods. Read or change RRs
// directly only before a Server serves the zone. After Start, use Edit,
// Tamper, RemoveRRSIGs or SignRRset, which take the zone's lock.
type Zone struct {
	// Origin is the zone apex as a lowercase fully qualified name, such as
	// "test." or "." for the root.
	Origin string

	// RRs are all records of the zone, including glue and, after Sign, the
	// DNSKEY, RRSIG, NSEC or NSEC3 and NSEC3PARAM records.
	RRs []dns.RR

	mu     sync.RWMutex
	index  *zoneIndex // nil when RRs changed since the last build
	signed bool
	ksk    *dns.DNSKEY
	zsk    *dns.DNSKEY
	kskKey crypto.Signer
	zskKey crypto.Signer
}

// NewZone parses rrs, records in RFC 1035 presentation format, into a zone
// at origin. Relative owner names are relative to origin, and records
// without a TTL get DefaultTTL. Each string may hold one or more lines.
// When the records hold no SOA or no apex NS, NewZone adds
// "<origin> SOA ns1.<origin> hostmaster.<origin> 1 7200 3600 1209600 300"
// and "<origin> NS ns1.<origin>".
//
// NewZone returns an error when a record does not parse or lies outside
// origin.
func NewZone(origin string, rrs ...string) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("dnstest: invalid zone origin %q", origin)
	}
	z := &Zone{Origin: origin}
	if err := z.generateKeys(); err != nil {
		return nil, err
	}
	if err := z.Add(rrs...); err != nil {
		return nil, err
	}

	var hasSOA, hasNS bool
	for _, rr := range z.RRs {
		h := rr.Header()
		if !strings.EqualFold(h.Name, origin) {
			continue
		}
		hasSOA = hasSOA || h.Rrtype == dns.TypeSOA
		hasNS = hasNS || h.Rrtype == dns.TypeNS
	}
	host := "ns1." + origin
	if origin == "." {
		host = "ns1."
	}
	if !hasSOA {
		soa := fmt.Sprintf("%s %d IN SOA %s hostmaster.%s 1 7200 3600 1209600 300",
			origin, DefaultTTL, host, strings.TrimPrefix(origin, "."))
		if err := z.Add(soa); err != nil {
			return nil, err
		}
	}
	if !hasNS {
		if err := z.Add(fmt.Sprintf("%s %d IN NS %s", origin, DefaultTTL, host)); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// MustZone is NewZone for test setup: it fails tb when the records are
// invalid.
func MustZone(tb testing.TB, origin string, rrs ...string) *Zone {
	tb.Helper()
	z, err := NewZone(origin, rrs...)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return z
}

func (z *Zone) generateKeys() error {
	newKey := func(flags uint16) (*dns.DNSKEY, crypto.Signer, error) {
		k := &dns.DNSKEY{
			Hdr:       dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: DefaultTTL},
			Flags:     flags,
			Protocol:  3,
			Algorithm: dns.ECDSAP256SHA256,
		}
		// miekg/dns refuses to sign with a key whose key tag is 0, which
		// one key in 65,536 has: make another.
		for {
			priv, err := k.Generate(256)
			if err != nil {
				return nil, nil, fmt.Errorf("dnstest: generating key for %s: %w", z.Origin, err)
			}
			if k.KeyTag() != 0 {
				return k, priv.(crypto.Signer), nil
			}
		}
	}

	var err error
	if z.ksk, z.kskKey, err = newKey(dns.ZONE | dns.SEP); err != nil {
		return err
	}
	z.zsk, z.zskKey, err = newKey(dns.ZONE)
	return err
}

// Add parses records in presentation format, as NewZone does, and appends
// them to the zone. Records added after Sign stay unsigned until the next
// Sign.
func (z *Zone) Add(rrs ...string) error {
	text := fmt.Sprintf("$TTL %d\n%s\n", DefaultTTL, strings.Join(rrs, "\n"))
	zp := dns.NewZoneParser(strings.NewReader(text), z.Origin, "")
	var parsed []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		parsed = append(parsed, rr)
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("dnstest: zone %s: %w", z.Origin, err)
	}
	return z.AddRR(parsed...)
}

// AddRR appends copies of rrs to the zone. It returns an error when an
// owner name lies outside the zone.
func (z *Zone) AddRR(rrs ...dns.RR) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, rr := range rrs {
		if !dns.IsSubDomain(z.Origin, rr.Header().Name) {
			return fmt.Errorf("dnstest: record %q lies outside zone %s", rr.String(), z.Origin)
		}
	}
	for _, rr := range rrs {
		c := dns.Copy(rr)
		c.Header().Name = dns.CanonicalName(c.Header().Name)
		z.RRs = append(z.RRs, c)
	}
	z.index = nil
	return nil
}

// Delegate adds the child's apex NS records to z as a delegation and, when
// the child is already signed, the child's DS record. Sign the child before
// calling Delegate to build a signed delegation; delegate an unsigned child
// to build an insecure one. Sign z afterwards.
func (z *Zone) Delegate(child *Zone) error {
	if child.Origin == z.Origin || !dns.IsSubDomain(z.Origin, child.Origin) {
		return fmt.Errorf("dnstest: %s is not below zone %s", child.Origin, z.Origin)
	}

	child.mu.RLock()
	var add []dns.RR
	for _, rr := range child.RRs {
		if rr.Header().Rrtype == dns.TypeNS && rr.Header().Name == child.Origin {
			add = append(add, dns.Copy(rr))
		}
	}
	signed := child.signed
	child.mu.RUnlock()

	if signed {
		add = append(add, child.DS()...)
	}
	return z.AddRR(add...)
}

// DS returns the DS record (digest type 2, SHA-256) of the zone's KSK, for
// the parent zone or for use as a trust anchor.
func (z *Zone) DS() []dns.RR {
	return []dns.RR{z.ksk.ToDS(dns.SHA256)}
}

// DNSKEYs returns copies of the zone's KSK and ZSK, in that order.
func (z *Zone) DNSKEYs() []dns.RR {
	return []dns.RR{dns.Copy(z.ksk), dns.Copy(z.zsk)}
}

// Signed reports whether Sign has run on the zone.
func (z *Zone) Signed() bool {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.signed
}

// Edit calls fn with the zone's records under the zone's lock and stores
// the slice fn returns. It is the general hook for tests that change a
// signed zone; fn may change records in place.
func (z *Zone) Edit(fn func(rrs []dns.RR) []dns.RR) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.RRs = fn(z.RRs)
	z.index = nil
}

// Tamper calls fn on every record of the RRset name/rrtype (RRSIGs
// excluded), for instance to change a signed TLSA's data so that its RRSIG
// no longer verifies. It returns an error when the zone has no such RRset.
func (z *Zone) Tamper(name string, rrtype uint16, fn func(rr dns.RR)) error {
	name = dns.CanonicalName(name)
	n := 0
	z.Edit(func(rrs []dns.RR) []dns.RR {
		for _, rr := range rrs {
			h := rr.Header()
			if h.Rrtype == rrtype && h.Name == name {
				fn(rr)
				n++
			}
		}
		return rrs
	})
	if n == 0 {
		return fmt.Errorf("dnstest: zone %s has no %s RRset at %s", z.Origin, dns.TypeToString[rrtype], name)
	}
	return nil
}

// RemoveRRSIGs deletes the RRSIGs that cover the RRset name/covered. It
// returns an error when there were none.
func (z *Zone) RemoveRRSIGs(name string, covered uint16) error {
	name = dns.CanonicalName(name)
	n := 0
	z.Edit(func(rrs []dns.RR) []dns.RR {
		kept := rrs[:0]
		for _, rr := range rrs {
			if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == covered && sig.Hdr.Name == name {
				n++
				continue
			}
			kept = append(kept, rr)
		}
		return kept
	})
	if n == 0 {
		return fmt.Errorf("dnstest: zone %s has no RRSIG over %s/%s", z.Origin, name, dns.TypeToString[covered])
	}
	return nil
}

// ZoneText returns the zone in RFC 1035 master-file format, one record a
// line with absolute owner names, in canonical order.
func (z *Zone) ZoneText() string {
	z.mu.RLock()
	rrs := append([]dns.RR(nil), z.RRs...)
	z.mu.RUnlock()

	sort.SliceStable(rrs, func(i, j int) bool {
		a, b := rrs[i].Header(), rrs[j].Header()
		if a.Name != b.Name {
			return canonicalLess(a.Name, b.Name)
		}
		return a.Rrtype < b.Rrtype
	})
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n", z.Origin)
	for _, rr := range rrs {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// WriteFile writes ZoneText to path with mode 0644, for servers such as
// unbound or knot that load zone files.
func (z *Zone) WriteFile(path string) error {
	if err := os.WriteFile(path, []byte(z.ZoneText()), 0o644); err != nil {
		return fmt.Errorf("dnstest: writing zone %s: %w", z.Origin, err)
	}
	return nil
}

// WriteAnchorFile writes the DS records of zones to path in zone-file
// format, as unbound's trust-anchor-file option reads them.
func WriteAnchorFile(path string, zones ...*Zone) error {
	var b strings.Builder
	for _, z := range zones {
		for _, ds := range z.DS() {
			b.WriteString(ds.String())
			b.WriteByte('\n')
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("dnstest: writing trust anchors: %w", err)
	}
	return nil
}

// SignChain delegates each zone from the deepest other zone in zones that
// encloses it, then signs every zone with opts, deepest first, so that each
// parent carries its children's DS records. The zone without a parent in
// the list (often the root ".") is the one whose DS serves as trust anchor.
func SignChain(opts SignOptions, zones ...*Zone) error {
	sorted := append([]*Zone(nil), zones...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return dns.CountLabel(sorted[i].Origin) > dns.CountLabel(sorted[j].Origin)
	})

	for i, child := range sorted {
		if err := child.Sign(opts); err != nil {
			return err
		}
		for _, parent := range sorted[i+1:] {
			if parent.Origin != child.Origin && dns.IsSubDomain(parent.Origin, child.Origin) {
				if err := parent.Delegate(child); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}
