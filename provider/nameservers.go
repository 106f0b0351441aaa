package provider

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/dnsserver"
	"github.com/dnshandle/dnshandle/provider/store"
)

// GlueTTL is the TTL, in seconds, of the A and AAAA records of the name
// servers inside a provider zone: one hour, as the zone's NS records.
const GlueTTL = 3600

// NameserverError reports a name server of a zone, or one of its
// addresses, that the configuration gets wrong.
type NameserverError struct {
	// Zone is the zone apex, such as "dhp.test.".
	Zone string

	// Nameserver is the name server's host name, such as "ns1.dhp.test.".
	Nameserver string

	// Address is the rejected address as written, or "" when the problem
	// is not one address.
	Address string

	// Reason describes what is wrong and what to write instead.
	Reason string
}

// Error returns the zone, the name server, the address and the reason.
func (e *NameserverError) Error() string {
	if e.Address != "" {
		return fmt.Sprintf("zone %s: name server %s: address %q %s", e.Zone, showName(e.Nameserver), e.Address, e.Reason)
	}
	return fmt.Sprintf("zone %s: name server %s %s", e.Zone, showName(e.Nameserver), e.Reason)
}

// showName returns name as it is, or quoted when white space in it would
// not show in a message.
func showName(name string) string {
	if strings.ContainsAny(name, " \t\r\n") {
		return strconv.Quote(name)
	}
	return name
}

// normalizeAddressKeys returns m with each name as a lowercase FQDN. The
// address lists of names that become equal are joined.
func normalizeAddressKeys(m map[string][]string) map[string][]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string][]string, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		key := strings.ToLower(dns.Fqdn(strings.TrimSpace(name)))
		out[key] = append(out[key], m[name]...)
	}
	return out
}

// isLoopbackListen reports whether the "host:port" address listen is on
// a loopback address or on "localhost".
func isLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateNameservers checks the name servers of z and their addresses. A
// name server inside the zone needs addresses, unless it is ns1.<zone> and
// the DNS server listens on a loopback address (loopbackListen), as in a
// test setup.
func (z ZoneConfig) validateNameservers(loopbackListen bool) []error {
	var errs []error
	listed := map[string]bool{}
	for _, ns := range z.Nameservers {
		listed[ns] = true
		if _, ok := dns.IsDomainName(ns); !ok || ns == "." {
			errs = append(errs, &NameserverError{Zone: z.Name, Nameserver: ns, Reason: "is not a valid domain name"})
			continue
		}
		if _, err := netip.ParseAddr(strings.TrimSuffix(ns, ".")); err == nil {
			errs = append(errs, &NameserverError{Zone: z.Name, Nameserver: ns, Reason: "is an IP address: give the name server's host name here, and its addresses in nameserver_addresses"})
			continue
		}
		if !isHostName(ns) {
			errs = append(errs, &NameserverError{Zone: z.Name, Nameserver: ns, Reason: "is not a host name: use letters, digits and inner hyphens in each label"})
			continue
		}
		if _, given := z.NameserverAddresses[ns]; given || !dns.IsSubDomain(z.Name, ns) {
			continue
		}
		if ns == "ns1."+z.Name && loopbackListen {
			continue
		}
		errs = append(errs, &NameserverError{Zone: z.Name, Nameserver: ns, Reason: missingAddressReason(z.Name, ns)})
	}

	for _, name := range slices.Sorted(maps.Keys(z.NameserverAddresses)) {
		addrs := z.NameserverAddresses[name]
		switch {
		case !listed[name]:
			errs = append(errs, &NameserverError{Zone: z.Name, Nameserver: name, Reason: fmt.Sprintf(
				"has addresses in nameserver_addresses but is not in nameservers %v: add it to nameservers or remove its addresses", z.Nameservers)})
			continue
		case !dns.IsSubDomain(z.Name, name):
			errs = append(errs, &NameserverError{Zone: z.Name, Nameserver: name, Reason: "is outside the zone, so its addresses belong in the zone that contains it: remove them from nameserver_addresses"})
			continue
		case len(addrs) == 0:
			errs = append(errs, &NameserverError{Zone: z.Name, Nameserver: name, Reason: "has an empty list in nameserver_addresses: give at least one IPv4 or IPv6 address"})
		}
		for _, a := range addrs {
			if _, reason := parseNameserverAddress(a); reason != "" {
				errs = append(errs, &NameserverError{Zone: z.Name, Nameserver: name, Address: a, Reason: reason})
			}
		}
	}
	return errs
}

// missingAddressReason explains what to add for the in-zone name server
// ns of zone that has no addresses.
func missingAddressReason(zone, ns string) string {
	reason := fmt.Sprintf("is inside the zone but has no addresses, so resolvers cannot reach it: "+
		"give its public addresses in the zone's [[dns.zones]] entry of the configuration file, "+
		`as nameserver_addresses = {%q = ["192.0.2.1", "2001:db8::1"]}, or list only name servers outside the zone`,
		strings.TrimSuffix(ns, "."))
	if ns == "ns1."+zone {
		reason += " (ns1 of the zone may go without addresses only while dns.listen is a loopback address)"
	}
	return reason
}

// parseNameserverAddress parses the address s of a name server. A
// non-empty reason explains why s cannot be published.
func parseNameserverAddress(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	switch {
	case err != nil:
		return a, "is not an IP address: write it as 192.0.2.1 or 2001:db8::1"
	case a.Zone() != "":
		return a, "has an interface zone, which an AAAA record cannot carry: remove the %-suffix"
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified(), a.IsMulticast():
		return a, "is not a unicast address: give the address the name server answers on"
	case a.IsLinkLocalUnicast():
		return a, "is a link-local address, which resolvers on other links cannot reach"
	}
	return a, ""
}

// glueRRsets returns the A and AAAA RRsets of the name servers of z that
// are inside the zone and have addresses. Each such name gets both keys:
// an empty RRset deletes the records of a type that the configuration no
// longer gives.
func glueRRsets(z ZoneConfig) (map[dnsserver.RRsetKey][]dns.RR, error) {
	sets := map[dnsserver.RRsetKey][]dns.RR{}
	for _, ns := range z.Nameservers {
		addrs, ok := z.NameserverAddresses[ns]
		if !ok || !dns.IsSubDomain(z.Name, ns) {
			continue
		}
		var v4, v6 []dns.RR
		for _, s := range addrs {
			a, reason := parseNameserverAddress(s)
			if reason != "" {
				return nil, &NameserverError{Zone: z.Name, Nameserver: ns, Address: s, Reason: reason}
			}
			if a.Is4() {
				v4 = append(v4, &dns.A{Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: GlueTTL}, A: a.AsSlice()})
			} else {
				v6 = append(v6, &dns.AAAA{Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: GlueTTL}, AAAA: a.AsSlice()})
			}
		}
		sets[dnsserver.RRsetKey{Name: ns, Type: dns.TypeA}] = v4
		sets[dnsserver.RRsetKey{Name: ns, Type: dns.TypeAAAA}] = v6
	}
	return sets, nil
}

// publishGlue sets the A and AAAA records of the in-zone name servers of z
// within tx and appends an audit entry when they changed. It reports
// whether the zone changed.
func (s *Service) publishGlue(ctx context.Context, tx store.Tx, z ZoneConfig, sets map[dnsserver.RRsetKey][]dns.RR) (bool, error) {
	before, err := tx.ZoneSerial(ctx, z.Name)
	if err != nil {
		return false, err
	}
	after, err := s.Signer.ReplaceRRsets(ctx, tx, z.Name, sets)
	if err != nil {
		return false, fmt.Errorf("publish the name server addresses: %w", err)
	}
	if after == before {
		return false, nil
	}

	var names []string
	for key := range sets {
		if !slices.Contains(names, key.Name) {
			names = append(names, key.Name)
		}
	}
	slices.Sort(names)
	entry := store.AuditEntry{At: s.now(), Actor: "system", Action: "zone.nameserver-addresses", Subject: z.Name, Detail: strings.Join(names, " ")}
	return true, tx.AppendAudit(ctx, entry)
}

// isHostName reports whether name, fully qualified, is a host name: each
// label of letters, digits and hyphens, not starting or ending with a
// hyphen (RFC 1123, section 2.1).
func isHostName(name string) bool {
	for label := range strings.SplitSeq(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
