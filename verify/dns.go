package verify

import (
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// checkDNSSEC applies the Policy to the DNSSEC status of one RRset. Secure
// always passes, bogus always fails, and insecure or indeterminate pass
// only with Policy.AllowInsecure.
func (v *Verifier) checkDNSSEC(info resolve.RRsetInfo, rrtype string) error {
	switch info.Status {
	case resolve.Secure:
		return nil
	case resolve.Insecure, resolve.Indeterminate:
		if v.Policy.AllowInsecure {
			return nil
		}
	}
	return &DNSSECError{Name: info.Name, Type: rrtype, Status: info.Status, Reason: info.Reason}
}

// statusRank orders DNSSEC statuses from weakest to strongest.
func statusRank(s resolve.Status) int {
	switch s {
	case resolve.Secure:
		return 3
	case resolve.Insecure:
		return 2
	case resolve.Indeterminate:
		return 1
	}
	return 0
}

// weakest returns the weakest of the statuses.
func weakest(statuses ...resolve.Status) resolve.Status {
	result := resolve.Secure
	for _, s := range statuses {
		if statusRank(s) < statusRank(result) {
			result = s
		}
	}
	return result
}

// rrsetName returns the owner name of the TLSA RRset, from the resolver's
// info when it has one.
func rrsetName(info resolve.RRsetInfo, h handle.Handle) string {
	if info.Name != "" {
		return info.Name
	}
	return records.OwnerTLSA(h)
}
