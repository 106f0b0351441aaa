package dnssec

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/internal/dnstest"
)

// rootDS is the DS record of the root zone's KSK-2017 (key tag 20326), as
// IANA publishes it.
const rootDS = ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"

func TestParseAnchors(t *testing.T) {
	t.Parallel()
	zone := dnstest.MustZone(t, "dhp.test.")
	ksk := zone.DNSKEYs()[0].String()

	tests := []struct {
		name  string
		text  string
		types []uint16
	}{
		{"root DS", rootDS + "\n", []uint16{dns.TypeDS}},
		{"DNSKEY", ksk, []uint16{dns.TypeDNSKEY}},
		{"comments, directives and blank lines",
			"; trust anchors\n$TTL 86400\n\n" + rootDS + " ; KSK-2017\n$ORIGIN dhp.test.\n" + ksk + "\n",
			[]uint16{dns.TypeDS, dns.TypeDNSKEY}},
		{"DS from a test zone", zone.DS()[0].String(), []uint16{dns.TypeDS}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			anchors, err := ParseAnchors(strings.NewReader(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if len(anchors) != len(tc.types) {
				t.Fatalf("got %d anchors, want %d", len(anchors), len(tc.types))
			}
			for i, rr := range anchors {
				if rr.Header().Rrtype != tc.types[i] {
					t.Errorf("anchor %d has type %s, want %s", i, dns.TypeToString[rr.Header().Rrtype], dns.TypeToString[tc.types[i]])
				}
			}
		})
	}
}

func TestParseAnchorsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		text   string
		record int
		reason string
	}{
		{"empty", "", 0, "no DS or DNSKEY records found"},
		{"only comments", "; nothing here\n", 0, "no DS or DNSKEY records found"},
		{"syntax", ". IN DS twenty 8 2 00", 0, "not in zone-file format"},
		{"include", "$INCLUDE /etc/passwd\n", 0, "not in zone-file format"},
		{"wrong type", ". IN A 192.0.2.1", 1, "type A is not a trust anchor; use DS or DNSKEY records"},
		{"short digest", ". IN DS 20326 8 2 E06D44B8", 1, "digest type 2 needs 32 bytes (64 hex digits)"},
		{"unknown digest type", ". IN DS 20326 8 9 E06D44B8", 1, "digest type 9 is not supported"},
		{"unsupported algorithm", ". IN DS 20326 3 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D", 1, "algorithm 3 (DSA) is not supported"},
		{"second record wrong", rootDS + "\n. IN TXT \"x\"", 2, "type TXT is not a trust anchor"},
		{"class CH", ". CH DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D", 1, "class CH is not IN"},
		{"DNSKEY without zone flag", ". IN DNSKEY 1 3 13 " + strings.Repeat("A", 88), 1, "zone key flag (256) is not set"},
		{"revoked DNSKEY", ". IN DNSKEY 385 3 13 " + strings.Repeat("A", 88), 1, "the key is revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			anchors, err := ParseAnchors(strings.NewReader(tc.text))
			var ae *AnchorError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v (%T), want *AnchorError", err, err)
			}
			if anchors != nil {
				t.Errorf("got %d anchors alongside the error", len(anchors))
			}
			if ae.Record != tc.record {
				t.Errorf("Record = %d, want %d", ae.Record, tc.record)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error = %q, want it to contain %q", err, tc.reason)
			}
		})
	}
}
