package records

import (
	"bytes"
	"crypto/x509"
	"fmt"
)

// Match is one TLSA record that matched one certificate of the chain.
type Match struct {
	// Record is the matching record, as passed to MatchTLSA.
	Record TLSA
	// Index is the position of the matched certificate in the chain:
	// 0 for the leaf (usages 1 and 3), 1 or more for a CA (usages 0 and 2).
	Index int
}

// NoMatchError reports that no TLSA record matched the chain. The counts
// show whether the records, the chain or the digests are at fault, and
// Error describes what to change.
type NoMatchError struct {
	// Usable counts the records that were compared with the chain.
	Usable int
	// Unusable counts the records ignored for an unassigned usage, selector
	// or matching type, empty data, or a digest of the wrong length.
	Unusable int
	// WeakerDigest counts usable records ignored by digest algorithm
	// agility because a stronger digest was published for the same usage
	// and selector (RFC 7671, section 9).
	WeakerDigest int
	// TrustAnchor counts the usable records with usage PKIX-TA or DANE-TA.
	TrustAnchor int
	// ChainLength is the number of certificates presented.
	ChainLength int
}

func (e *NoMatchError) Error() string {
	counts := fmt.Sprintf("%d usable, %d unusable, %d ignored for a weaker digest", e.Usable, e.Unusable, e.WeakerDigest)
	switch {
	case e.ChainLength == 0:
		return "no TLSA record matched because no certificate was presented"
	case e.Usable+e.Unusable+e.WeakerDigest == 0:
		return "no TLSA record matched because the TLSA RRset is empty: publish a TLSA record at the handle, such as \"2 1 1\" with the SHA-256 digest of the CSC public key"
	case e.Usable == 0:
		return fmt.Sprintf("no TLSA record matched because none of the %d records is usable (unassigned usage, selector or matching type, empty data, or a digest of the wrong length): publish records with usage 0 to 3, selector 0 or 1, matching type 0 to 2 and a digest of the right length", e.Unusable)
	case e.ChainLength == 1 && e.TrustAnchor == e.Usable:
		return fmt.Sprintf("no TLSA record matched (%s) because trust-anchor records match only CA certificates and the client sent only its leaf: configure the client to send its CSC with the leaf", counts)
	}
	return fmt.Sprintf("no TLSA record matched any of the %d presented certificates (%s): publish the digest of the presented leaf or CA key, or present the chain whose CA the records name", e.ChainLength, counts)
}

// InvalidChainError reports a chain that MatchTLSA cannot read.
type InvalidChainError struct {
	// Index is the position of the nil certificate.
	Index int
}

func (e *InvalidChainError) Error() string {
	return fmt.Sprintf("invalid certificate chain: certificate %d is nil", e.Index)
}

// MatchTLSA compares the TLSA records rrs with chain, where chain[0] is the
// leaf and chain[1:] are the CA certificates the client sent, following
// RFC 6698, section 2.1 and RFC 7671:
//
//   - PKIX-EE (1) and DANE-EE (3) records are compared with chain[0] only.
//   - PKIX-TA (0) and DANE-TA (2) records are compared with chain[1:] only,
//     never with the leaf, so a "2 1 1" record holding the leaf's own key
//     does not match. The trust anchor must be in the presented chain,
//     even for a "2 0 0" record whose data is the whole CA certificate.
//   - Unusable records (see TLSA.Usable) are ignored and counted.
//   - Digest algorithm agility, RFC 7671, section 9: for each pair of usage
//     and selector, only the records with the strongest digest present
//     among the usable records are compared (SHA2-512 ranks above
//     SHA2-256). Full(0) records are not digests and are always compared.
//
// MatchTLSA returns every match, in record order and then chain order,
// because the verifier decides which matches it accepts. A match of a PKIX
// usage (0 or 1) is not enough on its own: the verifier must also validate
// the PKIX path to its system roots. A DANE-TA match needs the verifier to
// check the path from the leaf to chain[Index]. This function checks no
// signature, validity period or name.
//
// When nothing matches, the error is *NoMatchError. A nil certificate in
// chain returns *InvalidChainError.
func MatchTLSA(rrs []TLSA, chain []*x509.Certificate) ([]Match, error) {
	for i, cert := range chain {
		if cert == nil {
			return nil, &InvalidChainError{Index: i}
		}
	}

	strongest := strongestDigests(rrs)
	result := NoMatchError{ChainLength: len(chain)}
	cache := newContentCache(chain)
	var matches []Match
	for _, rr := range rrs {
		if !rr.Usable() {
			result.Unusable++
			continue
		}
		// RFC 7671, section 9: beside "3 1 0" and "3 1 2" records, a key that
		// matches only a "3 1 1" record is not accepted. Full(0) is not a
		// digest and never yields to a stronger one.
		if digestLen(rr.MatchingType) != 0 && digestStrength(rr.MatchingType) < strongest[pairOf(rr)] {
			result.WeakerDigest++
			continue
		}
		result.Usable++

		first, last := 0, min(1, len(chain))
		if rr.Usage == PKIXTA || rr.Usage == DANETA {
			result.TrustAnchor++
			first, last = 1, len(chain)
		}
		for i := first; i < last; i++ {
			if bytes.Equal(cache.data(i, rr.Selector, rr.MatchingType), rr.Data) {
				matches = append(matches, Match{Record: rr, Index: i})
			}
		}
	}

	if len(matches) == 0 {
		return nil, &result
	}
	return matches, nil
}

// usageSelector is the key of digest algorithm agility.
type usageSelector struct {
	usage    Usage
	selector Selector
}

func pairOf(t TLSA) usageSelector {
	return usageSelector{t.Usage, t.Selector}
}

// digestStrength ranks the digest matching types, higher is stronger, and
// returns 0 for anything that is not a supported digest.
func digestStrength(m MatchingType) int {
	switch m {
	case MatchSHA256:
		return 1
	case MatchSHA512:
		return 2
	}
	return 0
}

// strongestDigests returns, for each usage and selector, the strength of
// the strongest digest among the usable records. Unusable records take no
// part, so a malformed SHA2-512 record does not hide a valid SHA2-256 one.
func strongestDigests(rrs []TLSA) map[usageSelector]int {
	strongest := map[usageSelector]int{}
	for _, rr := range rrs {
		if !rr.Usable() {
			continue
		}
		if s := digestStrength(rr.MatchingType); s > strongest[pairOf(rr)] {
			strongest[pairOf(rr)] = s
		}
	}
	return strongest
}

// contentCache computes the association data of each certificate once per
// selector and matching type.
type contentCache struct {
	chain    []*x509.Certificate
	computed [][2][3][]byte
}

func newContentCache(chain []*x509.Certificate) *contentCache {
	return &contentCache{chain: chain, computed: make([][2][3][]byte, len(chain))}
}

// data returns the association data of chain[i]. The selector s and the
// matching type m must be assigned values.
func (c *contentCache) data(i int, s Selector, m MatchingType) []byte {
	slot := &c.computed[i][s][m]
	if *slot == nil {
		*slot = associationData(c.chain[i], s, m)
	}
	return *slot
}
