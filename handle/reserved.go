package handle

import "strings"

// reservedTLDs are the top-level domains that Parse rejects, with the source
// that sets each one apart from the public DNS.
var reservedTLDs = map[string]bool{
	"alt":       true, // RFC 9476: names outside the DNS
	"arpa":      true, // RFC 3172: infrastructure, including reverse DNS
	"example":   true, // RFC 6761, section 6.5: documentation
	"internal":  true, // reserved by ICANN in 2024 for private networks
	"invalid":   true, // RFC 6761, section 6.4: always fails to resolve
	"local":     true, // RFC 6762: multicast DNS on the local link
	"localhost": true, // RFC 6761, section 6.3: the local host
	"onion":     true, // RFC 7686: Tor onion services
}

// reservedTLD returns the last label of h and whether it is reserved.
func reservedTLD(h Handle) (string, bool) {
	s := string(h)
	tld := s[strings.LastIndexByte(s, '.')+1:]
	return tld, reservedTLDs[tld]
}
