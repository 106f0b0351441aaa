package dnssec

import (
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ClockSkew is the tolerance allowed between Validator.Now and the clock
// of the signer: an RRSIG is accepted from ClockSkew before its inception
// until ClockSkew after its expiration.
const ClockSkew = 5 * time.Minute

// supportedAlgorithm reports whether signatures of the DNSSEC algorithm
// alg can be verified (the algorithms github.com/miekg/dns implements).
func supportedAlgorithm(alg uint8) bool {
	switch alg {
	case dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512,
		dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519:
		return true
	}
	return false
}

// usableKey reports whether k may verify RRSIGs: a zone key (RFC 4034,
// section 2.1.1) with protocol 3 and without the REVOKE flag of RFC 5011.
func usableKey(k *dns.DNSKEY) bool {
	return k.Flags&dns.ZONE != 0 && k.Flags&dns.REVOKE == 0 && k.Protocol == 3
}

// serialTime converts an RRSIG time field to the instant nearest to now,
// using the serial number arithmetic of RFC 4034, section 3.1.5.
func serialTime(v uint32, now time.Time) time.Time {
	n := now.Unix()
	return time.Unix(n+int64(int32(v-uint32(n))), 0).UTC()
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// rrsetLabel names an RRset in messages, as "alice.dhp.test./TLSA".
func rrsetLabel(name string, t uint16) string {
	return name + "/" + typeName(t)
}

// maxSignatureChecks bounds the signature verifications of one Validate
// call, so that a response crafted with many RRSIGs or keys sharing a key
// tag cannot make validation expensive. A chain of ten zones with denial
// proofs needs well under a hundred.
const maxSignatureChecks = 256

// verifyRRset returns the first RRSIG in sigs that is valid at s.now and
// verifies set with one of keys, following RFC 4035, section 5.3. When none
// does, it returns nil and the reasons, most useful first.
func (s *session) verifyRRset(set []dns.RR, sigs []*dns.RRSIG, keys []*dns.DNSKEY) (*dns.RRSIG, string) {
	if len(set) == 0 {
		return nil, "empty RRset"
	}
	canonical := canonicalSet(set)
	owner := canonical[0].Header().Name
	label := rrsetLabel(owner, canonical[0].Header().Rrtype)
	if len(sigs) == 0 {
		return nil, label + " has no RRSIG"
	}

	var reasons []string
	for _, sig := range sigs {
		why := s.verifyOne(canonical, label, sig, keys)
		if why == "" {
			return sig, ""
		}
		if !contains(reasons, why) {
			reasons = append(reasons, why)
		}
	}
	return nil, strings.Join(reasons, "; ")
}

// verifyOne checks one RRSIG over set and returns "" when it verifies, or
// why it does not.
func (s *session) verifyOne(set []dns.RR, label string, sig *dns.RRSIG, keys []*dns.DNSKEY) string {
	now := s.now
	h := set[0].Header()
	signer := dns.CanonicalName(sig.SignerName)

	// RFC 4035, section 5.3.1: the signer must be the zone that holds the
	// RRset, and the labels field may not exceed the owner's label count.
	if !isAncestorOrSelf(signer, h.Name) {
		return fmt.Sprintf("RRSIG over %s names signer %s, which does not enclose the owner name", label, signer)
	}
	if sig.Hdr.Class != h.Class {
		return fmt.Sprintf("RRSIG over %s has class %s, not %s", label, dns.Class(sig.Hdr.Class), dns.Class(h.Class))
	}
	if int(sig.Labels) > dns.CountLabel(h.Name) {
		return fmt.Sprintf("RRSIG over %s has labels field %d, more than the %d labels of the owner name", label, sig.Labels, dns.CountLabel(h.Name))
	}
	if !supportedAlgorithm(sig.Algorithm) {
		return fmt.Sprintf("RRSIG over %s uses unsupported algorithm %s", label, algorithmName(sig.Algorithm))
	}

	inception, expiration := serialTime(sig.Inception, now), serialTime(sig.Expiration, now)
	switch {
	case now.Add(ClockSkew).Before(inception):
		return fmt.Sprintf("RRSIG over %s is not valid before %s (validation time %s)", label, formatTime(inception), formatTime(now))
	case now.Add(-ClockSkew).After(expiration):
		return fmt.Sprintf("RRSIG over %s expired at %s (validation time %s)", label, formatTime(expiration), formatTime(now))
	}

	found := false
	for _, k := range keys {
		if k.KeyTag() != sig.KeyTag || k.Algorithm != sig.Algorithm || !usableKey(k) ||
			dns.CanonicalName(k.Hdr.Name) != signer {
			continue
		}
		found = true
		if s.checks >= maxSignatureChecks {
			return fmt.Sprintf("validation stopped after %d signature checks: the responses hold too many signatures or keys with colliding key tags", maxSignatureChecks)
		}
		s.checks++
		if err := sig.Verify(k, set); err == nil {
			return ""
		}
	}
	if !found {
		return fmt.Sprintf("RRSIG over %s names key tag %d of %s, which is not in the validated DNSKEY RRset", label, sig.KeyTag, signer)
	}
	return fmt.Sprintf("RRSIG over %s by key tag %d of %s does not verify: the data or the signature was changed after signing", label, sig.KeyTag, signer)
}

// canonicalSet returns copies of set with lowercase owner names, so that
// records whose names differ only in case form one RRset.
func canonicalSet(set []dns.RR) []dns.RR {
	out := make([]dns.RR, len(set))
	for i, rr := range set {
		c := dns.Copy(rr)
		c.Header().Name = dns.CanonicalName(c.Header().Name)
		out[i] = c
	}
	return out
}

// wildcardSource returns the wildcard name an RRSIG was made over when it
// covers a wildcard expansion (RFC 4035, section 5.3.4), or "" when the
// owner name is the one that was signed.
func wildcardSource(owner string, sig *dns.RRSIG) string {
	n := dns.CountLabel(owner)
	if int(sig.Labels) >= n {
		return ""
	}
	source := childOf("*", suffixLabels(owner, int(sig.Labels)))
	if source == owner {
		return "" // the owner is the literal wildcard name
	}
	return source
}

func algorithmName(alg uint8) string {
	if s, ok := dns.AlgorithmToString[alg]; ok {
		return fmt.Sprintf("%d (%s)", alg, s)
	}
	return fmt.Sprintf("%d", alg)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
