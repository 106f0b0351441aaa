package dnsserver

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// toStoreRR converts rr, a record of zone, to the row the store keeps.
// Owner names are lowercased; RDATA keeps its presentation format.
func toStoreRR(zone string, rr dns.RR) store.RR {
	h := rr.Header()
	row := store.RR{
		Zone: zone,
		Name: dns.CanonicalName(h.Name),
		Type: h.Rrtype,
		TTL:  h.Ttl,
		Data: rdataText(rr),
	}
	switch v := rr.(type) {
	case *dns.RRSIG:
		row.Covered = v.TypeCovered
	case *dns.NSEC3:
		label, _, _ := strings.Cut(row.Name, ".")
		row.Hash = strings.ToLower(label)
	}
	return row
}

// rdataText returns the RDATA of rr in presentation format: what follows
// the type in rr.String().
func rdataText(rr dns.RR) string {
	full := rr.String()
	head := rr.Header().String()
	if strings.HasPrefix(full, head) {
		return full[len(head):]
	}
	// Header.String pads with tabs and RR.String may differ only in that
	// padding; fall back to cutting the first four fields.
	fields := strings.SplitN(full, "\t", 5)
	if len(fields) == 5 {
		return fields[4]
	}
	return ""
}

// fromStoreRR parses a row of the store back into a record.
func fromStoreRR(row store.RR) (dns.RR, error) {
	typ, ok := dns.TypeToString[row.Type]
	if !ok {
		typ = "TYPE" + strconv.Itoa(int(row.Type))
	}
	text := row.Name + " " + strconv.FormatUint(uint64(row.TTL), 10) + " IN " + typ + " " + row.Data
	rr, err := dns.NewRR(text)
	if err != nil {
		return nil, &RecordError{Zone: row.Zone, Name: row.Name, Type: row.Type, Reason: "stored record does not parse: " + err.Error()}
	}
	if rr == nil {
		return nil, &RecordError{Zone: row.Zone, Name: row.Name, Type: row.Type, Reason: "stored record is empty"}
	}
	return rr, nil
}

// rowKey identifies a stored row for comparisons between the old and the
// new version of an RRset.
func rowKey(row store.RR) string {
	return fmt.Sprintf("%s|%d|%d|%d|%s", row.Name, row.Type, row.Covered, row.TTL, row.Data)
}
