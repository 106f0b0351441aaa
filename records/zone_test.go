package records

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

func TestZoneTextExact(t *testing.T) {
	t.Parallel()
	records := HandleRecords{
		Handle: "alice.test",
		TTL:    300,
		TLSA:   []TLSA{{DANETA, SelectorSPKI, MatchSHA256, []byte{0xab, 0xcd}}},
		DID:    plcA,
		OAuth:  "https://idp.test",
	}
	want := "alice.test.\t300\tIN\tTLSA\t2 1 1 abcd\n" +
		"_atproto.alice.test.\t300\tIN\tTXT\t\"did=" + plcA + "\"\n" +
		"_atproto.alice.test.\t300\tIN\tTXT\t\"oauth=https://idp.test\"\n"
	if got := records.ZoneText(); got != want {
		t.Errorf("ZoneText =\n%s\nwant\n%s", got, want)
	}
}

func TestZoneTextDefaultsAndOmissions(t *testing.T) {
	t.Parallel()
	got := HandleRecords{Handle: "bob.test", DID: plcB}.ZoneText()
	want := "_atproto.bob.test.\t3600\tIN\tTXT\t\"did=" + plcB + "\"\n"
	if got != want {
		t.Errorf("ZoneText = %q, want %q", got, want)
	}
	if got := (HandleRecords{Handle: "bob.test"}).ZoneText(); got != "" {
		t.Errorf("ZoneText of no records = %q, want empty", got)
	}
}

func TestQuoteCharacterString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"did=did:plc:a", `"did=did:plc:a"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{"a\x00b\x1f\x7f", `"a\000b\031\127"`},
		{"é", `"\195\169"`},
		{"semi;colon (paren) $dollar", `"semi;colon (paren) $dollar"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := quoteCharacterString(tt.in); got != tt.want {
			t.Errorf("quoteCharacterString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestSplitCharacterStrings(t *testing.T) {
	t.Parallel()
	// "oauth=" plus 249 bytes puts the start of the next "oauth=" exactly
	// at byte 255, where a plain cut would make it begin a string.
	trap := "oauth=https://idp.test/?" + strings.Repeat("p", 255-len("oauth=https://idp.test/?")) + "oauth=1&did=2"
	tests := []struct {
		name    string
		text    string
		lengths []int
	}{
		{"short", "did=" + plcA, []int{36}},
		{"exactly 255", strings.Repeat("x", 255), []int{255}},
		{"256 bytes", strings.Repeat("x", 256), []int{255, 1}},
		{"600 bytes", strings.Repeat("x", 600), []int{255, 255, 90}},
		{"key at the cut moves the cut", trap, []int{254, len(trap) - 254}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parts := splitCharacterStrings(tt.text)
			if strings.Join(parts, "") != tt.text {
				t.Fatalf("parts do not join to the text: %q", parts)
			}
			if len(parts) != len(tt.lengths) {
				t.Fatalf("got %d parts, want %d", len(parts), len(tt.lengths))
			}
			for i, p := range parts {
				if len(p) != tt.lengths[i] {
					t.Errorf("part %d has %d bytes, want %d", i, len(p), tt.lengths[i])
				}
				if i > 0 && startsKnownAttribute(p) {
					t.Errorf("part %d begins with a known key: %q", i, p[:10])
				}
			}
		})
	}
}

// parseZone parses text with miekg/dns, the zone parser CoreDNS uses.
func parseZone(t *testing.T, text string) []dns.RR {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), "", "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone text does not parse: %v\n%s", err, text)
	}
	return rrs
}

// wireStrings packs a TXT RR to wire form and returns its character-strings
// as raw bytes, without the escaping of the presentation form.
func wireStrings(t *testing.T, rr dns.RR) []string {
	t.Helper()
	buf := make([]byte, dns.Len(rr)+16)
	end, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("pack %s: %v", rr, err)
	}
	// Owner name (no escapes, no compression), type, class, TTL, RDLENGTH.
	nameLen := len(rr.Header().Name) + 1
	rdlen := int(binary.BigEndian.Uint16(buf[nameLen+8:]))
	rdata := buf[nameLen+10 : end]
	if len(rdata) != rdlen {
		t.Fatalf("RDATA has %d bytes, RDLENGTH says %d", len(rdata), rdlen)
	}
	var parts []string
	for len(rdata) > 0 {
		n := int(rdata[0])
		parts = append(parts, string(rdata[1:1+n]))
		rdata = rdata[1+n:]
	}
	return parts
}

func TestZoneTextRoundTrip(t *testing.T) {
	t.Parallel()
	c := fixedChain(t)
	full, err := NewTLSA(DANEEE, SelectorCert, MatchFull, c.leaf)
	if err != nil {
		t.Fatalf("NewTLSA: %v", err)
	}
	sha512Record, err := NewTLSA(DANETA, SelectorSPKI, MatchSHA512, c.csc)
	if err != nil {
		t.Fatalf("NewTLSA: %v", err)
	}
	trapURL := "https://idp.test/?" + strings.Repeat("p", 255-len("oauth=https://idp.test/?")) + "oauth=1&did=2"

	tests := []struct {
		name    string
		records HandleRecords
	}{
		{"profile records", HandleRecords{Handle: "alice.test", TLSA: []TLSA{CSCRecord(c.csc), DeviceRecord(c.leaf)}, DID: plcA, OAuth: "https://idp.test"}},
		{"full and SHA-512 data", HandleRecords{Handle: "alice.test", TTL: 60, TLSA: []TLSA{full, sha512Record}}},
		{"long did:web", HandleRecords{Handle: "a.b.test", DID: "did:web:" + strings.Repeat("long-label.", 60) + "test"}},
		{"long oauth url", HandleRecords{Handle: "alice.test", OAuth: "https://idp.test/" + strings.Repeat("segment/", 80)}},
		{"key at a string boundary", HandleRecords{Handle: "alice.test", DID: plcA, OAuth: trapURL}},
		{"bytes that need escapes", HandleRecords{Handle: "alice.test", OAuth: "https://idp.test/\"q\"\\x\x01é;(x)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := tt.records.ZoneText()
			if !strings.HasSuffix(text, "\n") || strings.Count(text, "\n") != len(tt.records.TLSA)+countAttributes(tt.records) {
				t.Fatalf("want one line per RR, got:\n%s", text)
			}
			rrs := parseZone(t, text)

			var tlsa []*dns.TLSA
			var txts [][]string
			for _, rr := range rrs {
				if rr.Header().Class != dns.ClassINET {
					t.Errorf("class = %d, want IN", rr.Header().Class)
				}
				wantTTL := tt.records.TTL
				if wantTTL == 0 {
					wantTTL = DefaultTTL
				}
				if rr.Header().Ttl != wantTTL {
					t.Errorf("TTL = %d, want %d", rr.Header().Ttl, wantTTL)
				}
				switch v := rr.(type) {
				case *dns.TLSA:
					if v.Hdr.Name != OwnerTLSA(tt.records.Handle) {
						t.Errorf("TLSA owner = %q, want %q", v.Hdr.Name, OwnerTLSA(tt.records.Handle))
					}
					tlsa = append(tlsa, v)
				case *dns.TXT:
					if v.Hdr.Name != OwnerATProto(tt.records.Handle) {
						t.Errorf("TXT owner = %q, want %q", v.Hdr.Name, OwnerATProto(tt.records.Handle))
					}
					parts := wireStrings(t, v)
					for i, p := range parts {
						if len(p) > 255 {
							t.Errorf("character-string %d has %d bytes", i, len(p))
						}
					}
					txts = append(txts, parts)
				default:
					t.Errorf("unexpected RR %s", rr)
				}
			}

			if len(tlsa) != len(tt.records.TLSA) {
				t.Fatalf("parsed %d TLSA RRs, want %d", len(tlsa), len(tt.records.TLSA))
			}
			for i, v := range tlsa {
				want := tt.records.TLSA[i]
				if Usage(v.Usage) != want.Usage || Selector(v.Selector) != want.Selector || MatchingType(v.MatchingType) != want.MatchingType {
					t.Errorf("TLSA %d fields = %d %d %d, want %s", i, v.Usage, v.Selector, v.MatchingType, want)
				}
				if !strings.EqualFold(v.Certificate, hex.EncodeToString(want.Data)) {
					t.Errorf("TLSA %d data differs after parsing", i)
				}
			}

			got, err := ParseATProto(txts)
			if err != nil {
				t.Fatalf("ParseATProto of parsed zone: %v", err)
			}
			if got.DID != tt.records.DID || got.OAuth != tt.records.OAuth {
				t.Errorf("round trip = %+v, want DID %q OAuth %q", got, tt.records.DID, tt.records.OAuth)
			}
		})
	}
}

func countAttributes(r HandleRecords) int {
	n := 0
	if r.DID != "" {
		n++
	}
	if r.OAuth != "" {
		n++
	}
	return n
}

func TestHandleRecordsValidate(t *testing.T) {
	t.Parallel()
	c := fixedChain(t)
	good := HandleRecords{Handle: "alice.test", TLSA: []TLSA{CSCRecord(c.csc)}, DID: plcA, OAuth: "https://idp.test"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate of good records: %v", err)
	}

	tests := []struct {
		name   string
		change func(*HandleRecords)
		field  string
	}{
		{"unusable TLSA", func(r *HandleRecords) { r.TLSA = append(r.TLSA, TLSA{DANETA, SelectorSPKI, MatchSHA256, []byte{1}}) }, "tlsa"},
		{"space in did", func(r *HandleRecords) { r.DID = "did:plc:a b" }, "did"},
		{"newline in oauth", func(r *HandleRecords) { r.OAuth = "https://idp.test\n" }, "oauth"},
		{"control byte in oauth", func(r *HandleRecords) { r.OAuth = "https://idp.test/\x7f" }, "oauth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := good
			r.TLSA = append([]TLSA(nil), good.TLSA...)
			tt.change(&r)
			var recordErr *InvalidRecordError
			if err := r.Validate(); !errors.As(err, &recordErr) {
				t.Fatalf("Validate error = %v, want *InvalidRecordError", err)
			}
			if recordErr.Field != tt.field {
				t.Errorf("Field = %q, want %q", recordErr.Field, tt.field)
			}
		})
	}

	t.Run("invalid handle", func(t *testing.T) {
		t.Parallel()
		r := good
		r.Handle = "laptop.local"
		var reserved *handle.ReservedTLDError
		if err := r.Validate(); !errors.As(err, &reserved) {
			t.Fatalf("Validate error = %v, want *handle.ReservedTLDError", err)
		}
	})
}
