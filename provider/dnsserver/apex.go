package dnsserver

import (
	"context"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// SetApex makes the NS RRset of zone and the MNAME and RNAME of its SOA
// those that CreateZone would write for nameservers and soaEmail, within
// tx, so that a zone follows a changed configuration after its creation.
// It signs what changed, bumps the serial and returns the new serial.
// When the apex is already as given it writes nothing and returns the
// current serial. Name servers inside the zone need address records,
// which the caller sets with ReplaceRRsets. Errors are those of
// CreateZone for invalid input and of ReplaceRRsets otherwise.
func (s *Signer) SetApex(ctx context.Context, tx store.Tx, zone string, nameservers []string, soaEmail string) (uint32, error) {
	if s.Sealer == nil {
		return 0, &ZoneError{Zone: zone, Reason: "Signer.Sealer is nil: the zone keys cannot be opened"}
	}
	zone, err := canonicalZone(zone)
	if err != nil {
		return 0, err
	}
	want, ns, err := apexRecords(zone, nameservers, soaEmail)
	if err != nil {
		return 0, err
	}
	return s.edit(ctx, tx, zone, map[RRsetKey][]dns.RR{{Name: zone, Type: dns.TypeNS}: ns}, want)
}

// soaDiffers reports whether the stored SOA of the zone has another MNAME
// or RNAME than want.
func (e *zoneEditor) soaDiffers(want *dns.SOA) (bool, error) {
	rows, err := e.lookup(e.zone)
	if err != nil {
		return false, err
	}
	old, _ := rrsetRows(rows, dns.TypeSOA)
	if len(old) != 1 {
		return false, &ZoneError{Zone: e.zone, Reason: "the apex does not have exactly one SOA record"}
	}
	rr, err := fromStoreRR(old[0])
	if err != nil {
		return false, err
	}
	soa := rr.(*dns.SOA)
	return !equalNames(soa.Ns, want.Ns) || !equalNames(soa.Mbox, want.Mbox), nil
}

// equalNames compares two domain names in canonical form.
func equalNames(a, b string) bool {
	return dns.CanonicalName(a) == dns.CanonicalName(b)
}
