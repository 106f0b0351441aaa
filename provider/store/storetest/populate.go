package storetest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// Defaults of Population.
const (
	DefaultPopulationZone  = "dhp.test."
	DefaultPopulationBatch = 10000
)

// RecordsPerIdentity is the number of zone records Populate writes for each
// identity: TLSA at the handle, TXT at _atproto.<handle>, an NSEC3 record
// for each of the two names, and an RRSIG over each of these four RRsets.
const RecordsPerIdentity = 8

// Population describes what Populate writes.
type Population struct {
	// Zone is the provider zone, a lowercase FQDN. Populate creates it, so
	// it must not exist. The default is DefaultPopulationZone.
	Zone string

	// Identities is the number of identities, each with its own account.
	Identities int

	// Batch is the number of identities written per transaction, each
	// transaction with one UpdateZone. The default is
	// DefaultPopulationBatch.
	Batch int
}

// Populated describes the data that Populate wrote.
type Populated struct {
	// Zone is the zone apex and Serial its serial after the last batch.
	Zone   string
	Serial uint32

	// Records is the number of records in the zone.
	Records int
}

// Populate fills st with generated identities of a hosted zone, shaped like
// a signed provider zone: an apex with SOA, NS, DNSKEY and NSEC3PARAM, and
// per identity RecordsPerIdentity records. The NSEC3 chain is complete and
// its hashes are real (SHA-1, no extra iterations, empty salt), so
// LookupNSEC3 finds covering records as in a real zone. The RRSIG
// signatures and the CSC certificates and keys are random bytes of
// realistic size, not valid signatures or keys. The data is the same for
// the same Population.
//
// It writes Batch identities per transaction, with single-row inserts for
// accounts and identities and one UpdateZone for the records, so it runs at
// the speed of the store's own write path.
func Populate(ctx context.Context, st store.Store, p Population) (*Populated, error) {
	if p.Zone == "" {
		p.Zone = DefaultPopulationZone
	}
	if p.Batch <= 0 {
		p.Batch = DefaultPopulationBatch
	}
	if p.Identities < 0 {
		return nil, errors.New("populate: the number of identities is negative")
	}

	g := newGenerator(p.Zone, p.Identities)
	out := &Populated{Zone: p.Zone}
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateZone(ctx, p.Zone, 1); err != nil {
			return err
		}
		apex := g.apexRecords()
		serial, err := tx.UpdateZone(ctx, p.Zone, nil, apex)
		out.Serial, out.Records = serial, len(apex)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("populate zone %s: %w", p.Zone, err)
	}

	for start := 0; start < p.Identities; start += p.Batch {
		end := min(start+p.Batch, p.Identities)
		err := st.InTx(ctx, func(tx store.Tx) error {
			records := make([]store.RR, 0, RecordsPerIdentity*(end-start))
			for i := start; i < end; i++ {
				if err := g.createIdentity(ctx, tx, i); err != nil {
					return err
				}
				records = g.identityRecords(records, i)
			}
			serial, err := tx.UpdateZone(ctx, p.Zone, nil, records)
			out.Serial = serial
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("populate identities %d to %d: %w", start, end-1, err)
		}
		out.Records += RecordsPerIdentity * (end - start)
	}
	return out, nil
}

// PopulatedOwner returns the owner name of the handle of identity i written
// by Populate into zone, such as "h0000042.dhp.test.".
func PopulatedOwner(zone string, i int) string {
	return fmt.Sprintf("h%07d.%s", i, zone)
}

// generator makes the data of Populate.
type generator struct {
	zone   string
	labels int
	rand   *rand.Rand

	// hashes is the sorted NSEC3 hash of every owner name of the zone,
	// for the next-hash field of each NSEC3 record.
	hashes []string
}

func newGenerator(zone string, identities int) *generator {
	g := &generator{zone: zone, labels: dns.CountLabel(zone), rand: rand.New(rand.NewPCG(1, uint64(identities)))}
	g.hashes = make([]string, 0, 1+2*identities)
	g.hashes = append(g.hashes, nsec3Hash(zone))
	for i := range identities {
		owner := PopulatedOwner(zone, i)
		g.hashes = append(g.hashes, nsec3Hash(owner), nsec3Hash("_atproto."+owner))
	}
	sort.Strings(g.hashes)
	return g
}

// nsec3Hash returns the NSEC3 hash of name in lowercase base32hex, for the
// parameters this project uses: SHA-1, no extra iterations, empty salt
// (RFC 9276, section 3.1).
func nsec3Hash(name string) string {
	return strings.ToLower(dns.HashName(name, dns.SHA1, 0, ""))
}

// nextHash returns the hash after hash in the chain, wrapping around.
func (g *generator) nextHash(hash string) string {
	i := sort.SearchStrings(g.hashes, hash)
	return strings.ToUpper(g.hashes[(i+1)%len(g.hashes)])
}

func (g *generator) randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rand.Uint32())
	}
	return b
}

// signature returns an RRSIG over the RRset (owner, covered) with a random
// 64-byte ECDSA P-256 signature field.
func (g *generator) signature(owner string, covered uint16) store.RR {
	data := fmt.Sprintf("%s 13 %d 300 20260601000000 20260501000000 4711 %s %s", dns.TypeToString[covered],
		dns.CountLabel(owner), g.zone, base64.StdEncoding.EncodeToString(g.randomBytes(64)))
	return store.RR{Name: owner, Type: dns.TypeRRSIG, Covered: covered, TTL: 300, Data: data}
}

// nsec3 returns the NSEC3 record of owner and its signature.
func (g *generator) nsec3(owner, types string) []store.RR {
	hash := nsec3Hash(owner)
	name := hash + "." + g.zone
	rr := store.RR{Name: name, Type: dns.TypeNSEC3, TTL: 300, Hash: hash,
		Data: fmt.Sprintf("1 0 0 - %s %s", g.nextHash(hash), types)}
	return []store.RR{rr, g.signature(name, dns.TypeNSEC3)}
}

func (g *generator) apexRecords() []store.RR {
	z := g.zone
	rrs := []store.RR{
		{Name: z, Type: dns.TypeSOA, TTL: 3600, Data: fmt.Sprintf("ns1.%s hostmaster.%s 1 7200 3600 1209600 300", z, z)},
		{Name: z, Type: dns.TypeNS, TTL: 3600, Data: "ns1." + z},
		{Name: z, Type: dns.TypeNS, TTL: 3600, Data: "ns2." + z},
		{Name: z, Type: dns.TypeDNSKEY, TTL: 3600, Data: "257 3 13 " + base64.StdEncoding.EncodeToString(g.randomBytes(64))},
		{Name: z, Type: dns.TypeDNSKEY, TTL: 3600, Data: "256 3 13 " + base64.StdEncoding.EncodeToString(g.randomBytes(64))},
		{Name: z, Type: dns.TypeNSEC3PARAM, TTL: 0, Data: "1 0 0 -"},
	}
	for _, covered := range []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeNSEC3PARAM} {
		rrs = append(rrs, g.signature(z, covered))
	}
	return append(rrs, g.nsec3(z, "NS SOA RRSIG DNSKEY NSEC3PARAM")...)
}

// identityRecords appends the records of identity i to rrs.
func (g *generator) identityRecords(rrs []store.RR, i int) []store.RR {
	owner := PopulatedOwner(g.zone, i)
	atproto := "_atproto." + owner
	rrs = append(rrs,
		store.RR{Name: owner, Type: dns.TypeTLSA, TTL: 300, Data: "2 1 1 " + hex.EncodeToString(g.randomBytes(32))},
		g.signature(owner, dns.TypeTLSA),
		store.RR{Name: atproto, Type: dns.TypeTXT, TTL: 300, Data: fmt.Sprintf(`"did=%s"`, g.did(i))},
		g.signature(atproto, dns.TypeTXT),
	)
	rrs = append(rrs, g.nsec3(owner, "RRSIG TLSA")...)
	return append(rrs, g.nsec3(atproto, "TXT RRSIG")...)
}

// did returns a did:key-shaped identifier for identity i.
func (g *generator) did(i int) string {
	return fmt.Sprintf("did:key:zDnae%043d", i)
}

func (g *generator) createIdentity(ctx context.Context, tx store.Tx, i int) error {
	a := &store.Account{Name: fmt.Sprintf("account-%07d", i),
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}
	if err := tx.CreateAccount(ctx, a); err != nil {
		return err
	}
	// A P-256 CSC in DER is about 420 bytes and a sealed PKCS#8 P-256 key
	// 167 bytes: 138 bytes of key, a version byte, a nonce and a tag.
	return tx.CreateIdentity(ctx, &store.Identity{
		AccountID: a.ID, Handle: strings.TrimSuffix(PopulatedOwner(g.zone, i), "."), DID: g.did(i), Hosted: true,
		CSCCert: g.randomBytes(420), CSCKey: g.randomBytes(167),
	})
}
