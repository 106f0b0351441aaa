package verify

import (
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

// Policy is the set of rules a relying party applies to handles. The zero
// value is the production default: every handle, DNSSEC required, the did=
// binding required, no PKIX usages.
type Policy struct {
	// Allow lists handle suffixes. "example.edu" matches example.edu and
	// every name below it, and "*.example.edu" matches only names below it.
	// An empty Allow accepts every handle that Deny does not reject.
	Allow []string
	// Deny lists handle suffixes in the same form. Deny wins over Allow.
	Deny []string
	// AllowInsecure accepts TLSA and TXT RRsets whose DNSSEC status is
	// insecure or indeterminate, and records that status in the Identity.
	// Bogus RRsets are always rejected. Use it for development only.
	AllowInsecure bool
	// AllowMissingDID accepts a handle without a did= value in DNS.
	AllowMissingDID bool
	// AllowPKIX accepts TLSA usages 0 (PKIX-TA) and 1 (PKIX-EE). The chain
	// must then also verify against Verifier.PKIXRoots.
	AllowPKIX bool
}

// check applies Deny and then Allow to h. Every entry is validated first,
// so a mistyped entry fails every verification instead of being skipped.
// It does no I/O.
func (p *Policy) check(h handle.Handle) error {
	for _, list := range [][]string{p.Deny, p.Allow} {
		for _, entry := range list {
			if _, ok := suffixMatches(entry, h); !ok {
				return &PolicyError{Handle: string(h), Rule: "invalid", Suffix: entry}
			}
		}
	}

	for _, entry := range p.Deny {
		if matched, _ := suffixMatches(entry, h); matched {
			return &PolicyError{Handle: string(h), Rule: "deny", Suffix: entry}
		}
	}
	if len(p.Allow) == 0 {
		return nil
	}
	for _, entry := range p.Allow {
		if matched, _ := suffixMatches(entry, h); matched {
			return nil
		}
	}
	return &PolicyError{Handle: string(h), Rule: "allow"}
}

// suffixMatches reports whether h falls under the policy entry, and whether
// the entry is valid. Entries compare case-insensitively and may end in a
// dot. A leading "*." limits the match to names strictly below the suffix.
func suffixMatches(entry string, h handle.Handle) (matched, ok bool) {
	suffix := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(entry)), ".")
	below, wildcard := strings.CutPrefix(suffix, "*.")
	if wildcard {
		suffix = below
	}
	if !validSuffix(suffix) {
		return false, false
	}

	if wildcard {
		return strings.HasSuffix(string(h), "."+suffix), true
	}
	return h.IsSubdomainOf(handle.Handle(suffix)), true
}

// validSuffix accepts one or more non-empty labels of letters, digits and
// hyphens, so an entry can never match by accident of its punctuation.
func validSuffix(s string) bool {
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
