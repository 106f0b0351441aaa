package dnsserver

import (
	"strings"

	"github.com/miekg/dns"
)

// parentName returns name without its first label, "." for a top-level
// name and "" for the root.
func parentName(name string) string {
	if name == "." || name == "" {
		return ""
	}
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// inZone reports whether name is zone or lies below it.
func inZone(zone, name string) bool {
	return dns.IsSubDomain(zone, name)
}

// ancestorsBelow returns the ancestors of name strictly between zone and
// name, nearest first: ancestorsBelow("z.", "a.b.c.z.") is
// ["b.c.z.", "c.z."].
func ancestorsBelow(zone, name string) []string {
	var out []string
	for n := parentName(name); n != "" && n != zone && inZone(zone, n); n = parentName(n) {
		out = append(out, n)
	}
	return out
}

// childOf returns the name made of label and parent.
func childOf(label, parent string) string {
	if parent == "." {
		return label + "."
	}
	return label + "." + parent
}

// nextCloser returns the child of encloser on the way down to name: the
// "next closer name" of RFC 5155, section 1.3.
func nextCloser(encloser, name string) string {
	labels := dns.SplitDomainName(name)
	depth := dns.CountLabel(encloser)
	return dns.Fqdn(strings.Join(labels[len(labels)-depth-1:], "."))
}

// zoneFor returns the deepest zone of zones that contains name, or "".
// Names and zones are lowercase and fully qualified.
func zoneFor(zones []string, name string) string {
	best := ""
	for _, z := range zones {
		if inZone(z, name) && len(z) > len(best) {
			best = z
		}
	}
	return best
}
