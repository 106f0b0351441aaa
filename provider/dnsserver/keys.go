package dnsserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// DNSKEY flags of the two keys of every zone (RFC 4034, section 2.1.1):
// the KSK has the zone key and secure entry point bits, the ZSK only the
// zone key bit.
const (
	kskFlags = 257
	zskFlags = 256
)

// keyAlgorithm is ECDSA P-256 with SHA-256 (RFC 6605), DNSSEC algorithm 13.
const keyAlgorithm = dns.ECDSAP256SHA256

// zoneKey is one DNSSEC key of a zone with its private half.
type zoneKey struct {
	dnskey *dns.DNSKEY
	priv   *ecdsa.PrivateKey
	tag    uint16
}

// zoneKeys are the KSK and the ZSK of one zone.
type zoneKeys struct {
	ksk, zsk zoneKey
	// fingerprint is the DNSKEY RDATA of both keys, to notice a key
	// change in the store that makes a cached copy stale.
	fingerprint string
}

// sealPurpose returns the purpose string that binds a sealed private key
// to its zone and role, so a sealed ZSK cannot be opened as another
// zone's key.
func sealPurpose(zone string, flags uint16) string {
	if flags == kskFlags {
		return "ksk:" + zone
	}
	return "zsk:" + zone
}

// generateKey creates a new ECDSA P-256 key pair for zone and returns it
// with the row the store keeps, where the private key is sealed.
func (s *Signer) generateKey(zone string, flags uint16, now time.Time) (zoneKey, store.ZoneKey, error) {
	var priv *ecdsa.PrivateKey
	var dnskey *dns.DNSKEY
	// miekg/dns refuses to sign with a key whose key tag is 0, which one
	// key in 65,536 has: make another.
	for dnskey == nil || dnskey.KeyTag() == 0 {
		var err error
		if priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return zoneKey{}, store.ZoneKey{}, &KeyError{Zone: zone, Flags: flags, Reason: "generating the key failed", Err: err}
		}
		dnskey = &dns.DNSKEY{
			Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: keyTTL},
			Flags:     flags,
			Protocol:  3,
			Algorithm: keyAlgorithm,
			PublicKey: publicKeyText(&priv.PublicKey),
		}
	}

	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return zoneKey{}, store.ZoneKey{}, &KeyError{Zone: zone, Flags: flags, Reason: "encoding the private key as PKCS#8 failed", Err: err}
	}
	sealed, err := s.Sealer.Seal(der, sealPurpose(zone, flags))
	if err != nil {
		return zoneKey{}, store.ZoneKey{}, &KeyError{Zone: zone, Flags: flags, Reason: "sealing the private key failed", Err: err}
	}
	row := store.ZoneKey{
		Zone:       zone,
		Flags:      flags,
		Algorithm:  keyAlgorithm,
		DNSKEY:     rdataText(dnskey),
		PrivateKey: sealed,
		CreatedAt:  now,
	}
	return zoneKey{dnskey: dnskey, priv: priv, tag: dnskey.KeyTag()}, row, nil
}

// publicKeyText encodes an ECDSA P-256 public key as DNSKEY public key
// field: the 32-byte X and Y coordinates, base64 (RFC 6605, section 4).
func publicKeyText(pub *ecdsa.PublicKey) string {
	raw, err := pub.Bytes()
	if err != nil || len(raw) != 65 {
		return ""
	}
	// Bytes returns the uncompressed point 0x04 || X || Y.
	return base64.StdEncoding.EncodeToString(raw[1:])
}

// loadKeys returns the unsealed keys of zone, from the Signer's memory
// when the store still holds the same DNSKEYs.
func (s *Signer) loadKeys(ctx context.Context, r store.Reader, zone string) (*zoneKeys, error) {
	rows, err := r.ZoneKeys(ctx, zone)
	if err != nil {
		return nil, &KeyError{Zone: zone, Reason: "reading the zone keys from the store failed", Err: err}
	}
	var fp bytes.Buffer
	for _, row := range rows {
		fmt.Fprintf(&fp, "%d %s\n", row.Flags, row.DNSKEY)
	}

	s.mu.Lock()
	cached := s.keys[zone]
	s.mu.Unlock()
	if cached != nil && cached.fingerprint == fp.String() {
		return cached, nil
	}

	keys := &zoneKeys{fingerprint: fp.String()}
	var haveKSK, haveZSK bool
	for _, row := range rows {
		if row.Algorithm != keyAlgorithm {
			continue
		}
		k, err := s.openKey(zone, row)
		if err != nil {
			return nil, err
		}
		switch row.Flags {
		case kskFlags:
			keys.ksk, haveKSK = k, true
		case zskFlags:
			keys.zsk, haveZSK = k, true
		}
	}
	if !haveKSK {
		return nil, &KeyError{Zone: zone, Flags: kskFlags, Reason: "no algorithm 13 KSK in the store: create the zone with Signer.CreateZone"}
	}
	if !haveZSK {
		return nil, &KeyError{Zone: zone, Flags: zskFlags, Reason: "no algorithm 13 ZSK in the store: create the zone with Signer.CreateZone"}
	}

	s.mu.Lock()
	if s.keys == nil {
		s.keys = map[string]*zoneKeys{}
	}
	s.keys[zone] = keys
	s.mu.Unlock()
	return keys, nil
}

// openKey unseals one stored key and checks that it matches its DNSKEY.
func (s *Signer) openKey(zone string, row store.ZoneKey) (zoneKey, error) {
	rr, err := dns.NewRR(zone + " " + strconv.Itoa(keyTTL) + " IN DNSKEY " + row.DNSKEY)
	if err != nil || rr == nil {
		return zoneKey{}, &KeyError{Zone: zone, Flags: row.Flags, Reason: "stored DNSKEY does not parse", Err: err}
	}
	dnskey, ok := rr.(*dns.DNSKEY)
	if !ok || dnskey.Flags != row.Flags {
		return zoneKey{}, &KeyError{Zone: zone, Flags: row.Flags, Reason: "stored DNSKEY flags differ from the key row"}
	}

	der, err := s.Sealer.Open(row.PrivateKey, sealPurpose(zone, row.Flags))
	if err != nil {
		return zoneKey{}, &KeyError{Zone: zone, Flags: row.Flags, Reason: "opening the sealed private key failed (wrong key-encryption key?)", Err: err}
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return zoneKey{}, &KeyError{Zone: zone, Flags: row.Flags, Reason: "private key is not valid PKCS#8", Err: err}
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return zoneKey{}, &KeyError{Zone: zone, Flags: row.Flags, Reason: fmt.Sprintf("private key is %T, want an ECDSA P-256 key", parsed)}
	}
	if publicKeyText(&priv.PublicKey) != dnskey.PublicKey {
		return zoneKey{}, &KeyError{Zone: zone, Flags: row.Flags, Reason: "private key does not match the public key of the stored DNSKEY"}
	}
	return zoneKey{dnskey: dnskey, priv: priv, tag: dnskey.KeyTag()}, nil
}

// sign makes the RRSIG of key over set, valid from inception to
// expiration. The set must be non-empty and share owner, type and TTL.
func (k zoneKey) sign(zone string, set []dns.RR, inception, expiration time.Time) (*dns.RRSIG, error) {
	h := set[0].Header()
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		Algorithm:  keyAlgorithm,
		Inception:  uint32(inception.Unix()),
		Expiration: uint32(expiration.Unix()),
		KeyTag:     k.tag,
		SignerName: zone,
	}
	if err := sig.Sign(k.priv, set); err != nil {
		return nil, &RecordError{Zone: zone, Name: h.Name, Type: h.Rrtype, Reason: "signing the RRset failed: " + err.Error()}
	}
	return sig, nil
}
