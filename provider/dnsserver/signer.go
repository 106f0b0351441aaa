package dnsserver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// DefaultValidity is the lifetime of the RRSIGs the Signer makes when
// Signer.Validity is zero.
const DefaultValidity = 14 * 24 * time.Hour

// inceptionBackdate moves the start of every signature's validity into
// the past, so that validators whose clocks run slow accept it at once.
const inceptionBackdate = time.Hour

// TTLs, in seconds, of the records the Signer writes itself. The negative
// caching TTL (SOA MINIMUM) also becomes the TTL of the NSEC3 records.
const (
	soaTTL      = 3600
	nsTTL       = 3600
	keyTTL      = 3600
	negativeTTL = 300
	soaRefresh  = 3600
	soaRetry    = 600
	// soaMaxExpire is one week. A secondary that loses its primary stops
	// serving the zone after SOA EXPIRE, and the Signer lowers it further
	// to a third of the signature validity, so that a secondary does not
	// keep serving signatures that have expired.
	soaMaxExpire = 7 * 24 * 3600
)

// Signer keeps provider zones DNSSEC-signed in the store: an ECDSA P-256
// (algorithm 13) KSK and ZSK per zone, sealed by Sealer, an NSEC3 chain
// (SHA-1, no extra iterations, empty salt as RFC 9276 recommends, no
// opt-out) that stays complete as RRsets come and go, and a ZSK signature
// over every RRset except the DNSKEY RRset, which the KSK signs.
//
// Every change is computed in full (records, signatures, NSEC3 records,
// SOA) before one call of store.Tx.UpdateZone, so one change is one
// serial step and one IXFR diff. Set the exported fields before first use
// and do not change them after; a Signer is then safe for concurrent use.
// It must not be copied after first use. It never logs: every failure is
// returned as an error.
type Signer struct {
	// Store is read by DS and written by Resign. CreateZone and
	// ReplaceRRsets work inside the caller's transaction instead.
	Store store.Store

	// Sealer seals the private keys with the purposes "ksk:<zone>" and
	// "zsk:<zone>". It is required.
	Sealer *store.Sealer

	// Now returns the signing time; nil means time.Now.
	Now func() time.Time

	// Validity is the RRSIG lifetime counted from the signing time; zero
	// means DefaultValidity. Inception is always one hour before the
	// signing time.
	Validity time.Duration

	mu   sync.Mutex
	keys map[string]*zoneKeys // unsealed keys by zone
}

// RRsetKey names one RRset of a zone: a lowercase fully qualified owner
// name and a type.
type RRsetKey struct {
	Name string
	Type uint16
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Signer) validity() time.Duration {
	if s.Validity > 0 {
		return s.Validity
	}
	return DefaultValidity
}

// window returns the inception and expiration of signatures made now.
func (s *Signer) window() (time.Time, time.Time) {
	now := s.now()
	return now.Add(-inceptionBackdate), now.Add(s.validity())
}

// CreateZone creates zone in the store within tx: a KSK and a ZSK sealed
// with Sealer, the SOA (MNAME the first of nameservers, RNAME from
// soaEmail such as "hostmaster@dhp.test"), the NS RRset, the DNSKEY
// RRset, NSEC3PARAM, the NSEC3 chain and their signatures. The initial
// serial is the current Unix time, so a zone created again later starts
// above the serials secondaries may still hold; the first update adds 1.
//
// It returns a *ZoneError wrapping store.ErrConflict when the zone exists,
// a *RecordError for an invalid zone, name server or email, and a
// *KeyError when a key cannot be made or sealed. Nameservers inside the
// zone need address records, which the caller adds with ReplaceRRsets.
func (s *Signer) CreateZone(ctx context.Context, tx store.Tx, zone string, nameservers []string, soaEmail string) error {
	if s.Sealer == nil {
		return &ZoneError{Zone: zone, Reason: "Signer.Sealer is nil: the zone keys cannot be sealed"}
	}
	zone, err := canonicalZone(zone)
	if err != nil {
		return err
	}
	soa, ns, err := apexRecords(zone, nameservers, soaEmail)
	if err != nil {
		return err
	}

	now := s.now()
	first := uint32(now.Unix())
	if err := tx.CreateZone(ctx, zone, first); err != nil {
		return &ZoneError{Zone: zone, Reason: "creating the zone in the store failed", Err: err}
	}
	keys := &zoneKeys{}
	for _, flags := range []uint16{kskFlags, zskFlags} {
		k, row, err := s.generateKey(zone, flags, now)
		if err != nil {
			return err
		}
		if err := tx.PutZoneKey(ctx, row); err != nil {
			return &KeyError{Zone: zone, Flags: flags, Reason: "storing the key failed", Err: err}
		}
		if flags == kskFlags {
			keys.ksk = k
		} else {
			keys.zsk = k
		}
	}

	soa.Serial = first + 1
	soa.Expire = min(soa.Expire, uint32(s.validity()/3/time.Second))
	sets := [][]dns.RR{
		{soa},
		ns,
		{keys.ksk.dnskey, keys.zsk.dnskey},
		{newNSEC3PARAM(zone, nsec3TTL(soa))},
	}
	apexTypes := []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeNSEC3PARAM}
	for _, n := range buildChain(zone, map[string][]uint16{zone: apexTypes}, nsec3TTL(soa)) {
		sets = append(sets, []dns.RR{n})
	}

	inception, expiration := s.window()
	var rows []store.RR
	for _, set := range sets {
		signed, err := signSet(zone, keys, set, inception, expiration)
		if err != nil {
			return err
		}
		rows = append(rows, signed...)
	}
	serial, err := tx.UpdateZone(ctx, zone, nil, rows)
	if err != nil {
		return &ZoneError{Zone: zone, Reason: "storing the signed apex failed", Err: err}
	}
	if serial != soa.Serial {
		return &ZoneError{Zone: zone, Reason: fmt.Sprintf("store chose serial %d but the SOA was signed with serial %d", serial, soa.Serial)}
	}
	return nil
}

// ReplaceRRsets sets the given RRsets of zone within tx: each key's
// records replace the RRset at that name and type, and an empty or nil
// slice deletes it. It signs the new RRsets, updates the NSEC3 chain
// (new names, names that disappear, empty non-terminals above them,
// changed type bitmaps and the links around them) and the SOA, then calls
// tx.UpdateZone once and returns the new serial. When no record changes
// it writes nothing and returns the current serial.
//
// Records must be of class IN, owned by the name of their key, and share
// one TTL (RFC 2181, section 5.2); duplicates are dropped. The Signer
// manages SOA, DNSKEY, RRSIG, NSEC, NSEC3 and NSEC3PARAM itself and
// rejects them, as it rejects NS below the apex (the server answers no
// delegations), DS, DNAME, wildcard owners (the server does not expand
// wildcards) and a CNAME beside other data (RFC 2181, section 10.1). Such
// input returns a *RecordError; a zone that was not created returns a
// *ZoneError wrapping store.ErrNotFound.
func (s *Signer) ReplaceRRsets(ctx context.Context, tx store.Tx, zone string, rrsets map[RRsetKey][]dns.RR) (uint32, error) {
	if s.Sealer == nil {
		return 0, &ZoneError{Zone: zone, Reason: "Signer.Sealer is nil: the zone keys cannot be opened"}
	}
	zone, err := canonicalZone(zone)
	if err != nil {
		return 0, err
	}
	return s.edit(ctx, tx, zone, rrsets, nil)
}

// edit replaces rrsets in the canonical zone within tx and, when soa is
// not nil, sets the MNAME and RNAME of the SOA to those of soa. It signs
// what changed, updates the NSEC3 chain and commits one serial step, or
// writes nothing and returns the current serial when nothing changed.
func (s *Signer) edit(ctx context.Context, tx store.Tx, zone string, rrsets map[RRsetKey][]dns.RR, soa *dns.SOA) (uint32, error) {
	sets, err := normalizeRRsets(zone, rrsets)
	if err != nil {
		return 0, err
	}
	serial, err := tx.ZoneSerial(ctx, zone)
	if err != nil {
		return 0, &ZoneError{Zone: zone, Reason: "reading the zone serial failed", Err: err}
	}
	keys, err := s.loadKeys(ctx, tx, zone)
	if err != nil {
		return 0, err
	}

	e := s.newEditor(ctx, tx, zone, keys)
	if err := e.replaceRRsets(sets); err != nil {
		return 0, err
	}
	soaChanged := false
	if soa != nil {
		if soaChanged, err = e.soaDiffers(soa); err != nil {
			return 0, err
		}
	}
	if len(e.deleted) == 0 && len(e.added) == 0 && !soaChanged {
		return serial, nil
	}
	if soaChanged {
		e.soa = soa
	}
	if err := e.updateChain(); err != nil {
		return 0, err
	}
	return e.commit(serial)
}

// DS returns the DS record (SHA-256 digest, RFC 4509) of the zone's KSK,
// for the parent zone or for use as a trust anchor. It reads Signer.Store
// and returns a *KeyError when the zone has no KSK.
func (s *Signer) DS(ctx context.Context, zone string) ([]*dns.DS, error) {
	zone, err := canonicalZone(zone)
	if err != nil {
		return nil, err
	}
	if s.Store == nil {
		return nil, &ZoneError{Zone: zone, Reason: "Signer.Store is nil"}
	}
	rows, err := s.Store.ZoneKeys(ctx, zone)
	if err != nil {
		return nil, &KeyError{Zone: zone, Flags: kskFlags, Reason: "reading the zone keys from the store failed", Err: err}
	}
	var out []*dns.DS
	for _, row := range rows {
		if row.Flags != kskFlags {
			continue
		}
		rr, err := dns.NewRR(zone + " 3600 IN DNSKEY " + row.DNSKEY)
		if err != nil || rr == nil {
			return nil, &KeyError{Zone: zone, Flags: kskFlags, Reason: "stored DNSKEY does not parse", Err: err}
		}
		ds := rr.(*dns.DNSKEY).ToDS(dns.SHA256)
		if ds == nil {
			return nil, &KeyError{Zone: zone, Flags: kskFlags, Reason: "computing the DS digest failed"}
		}
		out = append(out, ds)
	}
	if len(out) == 0 {
		return nil, &KeyError{Zone: zone, Flags: kskFlags, Reason: "zone has no KSK in the store: create it with Signer.CreateZone"}
	}
	return out, nil
}

// Resign replaces, in one transaction of Signer.Store, every signature of
// zone that expires within a third of Validity (or has expired), and
// returns how many RRsets it signed again. The SOA is signed again as part
// of the serial step whenever anything changed. With nothing to do it
// writes nothing and returns 0. Call it at least once per third of
// Validity, for example daily.
func (s *Signer) Resign(ctx context.Context, zone string) (int, error) {
	zone, err := canonicalZone(zone)
	if err != nil {
		return 0, err
	}
	if s.Store == nil || s.Sealer == nil {
		return 0, &ZoneError{Zone: zone, Reason: "Signer.Store and Signer.Sealer are required to sign again"}
	}
	var count int
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		count = 0
		serial, err := tx.ZoneSerial(ctx, zone)
		if err != nil {
			return &ZoneError{Zone: zone, Reason: "reading the zone serial failed", Err: err}
		}
		keys, err := s.loadKeys(ctx, tx, zone)
		if err != nil {
			return err
		}
		e := s.newEditor(ctx, tx, zone, keys)
		if count, err = e.resignExpiring(s.now(), s.validity()/3); err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		_, err = e.commit(serial)
		return err
	})
	return count, err
}

// canonicalZone checks and lowercases a zone apex name.
func canonicalZone(zone string) (string, error) {
	if _, ok := dns.IsDomainName(zone); !ok || zone == "" {
		return "", &ZoneError{Zone: zone, Reason: "not a valid domain name"}
	}
	return dns.CanonicalName(zone), nil
}

// apexRecords builds the SOA (serial 0, set by the caller) and NS RRset
// of a new zone.
func apexRecords(zone string, nameservers []string, email string) (*dns.SOA, []dns.RR, error) {
	if len(nameservers) == 0 {
		return nil, nil, &RecordError{Zone: zone, Name: zone, Type: dns.TypeNS, Reason: "no name servers given: a zone needs at least one NS record"}
	}
	var ns []dns.RR
	for _, host := range nameservers {
		if _, ok := dns.IsDomainName(host); !ok || host == "" {
			return nil, nil, &RecordError{Zone: zone, Name: zone, Type: dns.TypeNS, Reason: fmt.Sprintf("name server %q is not a valid domain name", host)}
		}
		ns = append(ns, &dns.NS{
			Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL},
			Ns:  dns.CanonicalName(host),
		})
	}
	mbox, err := mailbox(email)
	if err != nil {
		return nil, nil, &RecordError{Zone: zone, Name: zone, Type: dns.TypeSOA, Reason: err.Error()}
	}
	soa := &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
		Ns:      dns.CanonicalName(nameservers[0]),
		Mbox:    mbox,
		Refresh: soaRefresh,
		Retry:   soaRetry,
		Expire:  soaMaxExpire,
		Minttl:  negativeTTL,
	}
	return soa, ns, nil
}

// mailbox converts an email address to the SOA RNAME form (RFC 1035,
// section 8): "host.master@dhp.test" becomes "host\.master.dhp.test.".
// A value without "@" is taken as a domain name already in that form.
func mailbox(email string) (string, error) {
	local, domain, ok := strings.Cut(email, "@")
	if !ok {
		if _, valid := dns.IsDomainName(email); !valid || email == "" {
			return "", fmt.Errorf("SOA email %q is neither an address nor a domain name", email)
		}
		return dns.CanonicalName(email), nil
	}
	if local == "" || domain == "" {
		return "", fmt.Errorf("SOA email %q needs a local part and a domain", email)
	}
	name := strings.ReplaceAll(local, ".", `\.`) + "." + domain
	if _, valid := dns.IsDomainName(name); !valid {
		return "", fmt.Errorf("SOA email %q does not form a valid domain name", email)
	}
	return dns.CanonicalName(name), nil
}

// nsec3TTL returns the TTL of NSEC3 records: the smaller of the SOA TTL
// and the SOA MINIMUM field (RFC 9077, section 3).
func nsec3TTL(soa *dns.SOA) uint32 {
	return min(soa.Hdr.Ttl, soa.Minttl)
}

// signSet returns the rows of set and of its RRSIG: the KSK signs the
// DNSKEY RRset and the ZSK every other RRset.
func signSet(zone string, keys *zoneKeys, set []dns.RR, inception, expiration time.Time) ([]store.RR, error) {
	key := keys.zsk
	if set[0].Header().Rrtype == dns.TypeDNSKEY {
		key = keys.ksk
	}
	sig, err := key.sign(zone, set, inception, expiration)
	if err != nil {
		return nil, err
	}
	rows := make([]store.RR, 0, len(set)+1)
	for _, rr := range set {
		rows = append(rows, toStoreRR(zone, rr))
	}
	return append(rows, toStoreRR(zone, sig)), nil
}
