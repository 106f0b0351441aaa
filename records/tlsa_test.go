package records

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

const digest32 = "d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971"

func TestParseTLSA(t *testing.T) {
	t.Parallel()
	want32, _ := hex.DecodeString(digest32)
	tests := []struct {
		name  string
		input string
		want  TLSA
	}{
		{"csc record", "2 1 1 " + digest32, TLSA{DANETA, SelectorSPKI, MatchSHA256, want32}},
		{"upper case hex", "3 1 1 " + strings.ToUpper(digest32), TLSA{DANEEE, SelectorSPKI, MatchSHA256, want32}},
		{"hex split by white space", "3 1 1 " + digest32[:10] + " " + digest32[10:40] + "\t\n" + digest32[40:], TLSA{DANEEE, SelectorSPKI, MatchSHA256, want32}},
		{"leading and trailing space", "  2 1 1 " + digest32 + "  \n", TLSA{DANETA, SelectorSPKI, MatchSHA256, want32}},
		{"acronyms", "DANE-TA SPKI SHA2-256 " + digest32, TLSA{DANETA, SelectorSPKI, MatchSHA256, want32}},
		{"acronyms any case", "pkix-ee cert full 0a0b", TLSA{PKIXEE, SelectorCert, MatchFull, []byte{10, 11}}},
		{"unassigned values parse", "255 2 3 00", TLSA{255, 2, 3, []byte{0}}},
		{"leading zeros", "02 01 01 ff", TLSA{DANETA, SelectorSPKI, MatchSHA256, []byte{0xff}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTLSA(tt.input)
			if err != nil {
				t.Fatalf("ParseTLSA(%q): %v", tt.input, err)
			}
			if got.Usage != tt.want.Usage || got.Selector != tt.want.Selector || got.MatchingType != tt.want.MatchingType {
				t.Errorf("fields = %d %d %d, want %d %d %d", got.Usage, got.Selector, got.MatchingType, tt.want.Usage, tt.want.Selector, tt.want.MatchingType)
			}
			if !bytes.Equal(got.Data, tt.want.Data) {
				t.Errorf("data = %x, want %x", got.Data, tt.want.Data)
			}
		})
	}
}

func TestParseTLSAErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		input     string
		field     string
		inMessage string
	}{
		{"empty", "", "usage", "is missing"},
		{"only usage", "2", "selector", "is missing"},
		{"no matching type", "2 1", "matching type", "is missing"},
		{"no data", "2 1 1", "data", "is missing"},
		{"usage out of range", "256 1 1 00", "usage", `"256" is out of range`},
		{"selector out of range", "2 99999999999999999999 1 00", "selector", "out of range"},
		{"negative usage", "-1 1 1 00", "usage", "is not a number from 0 to 255"},
		{"selector not a number", "2 x 1 00", "selector", `"x" is not a number`},
		{"unknown acronym", "2 1 SHA3 00", "matching type", "SHA2-256"},
		{"odd hex", "2 1 1 abc", "data", "odd number of hex digits (3)"},
		{"bad hex", "2 1 1 zz", "data", "is not valid hex"},
		{"data too long", "2 1 0 " + strings.Repeat("00", maxDataLen+1), "data", "more than the 65532"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTLSA(tt.input)
			var tlsaErr *TLSAError
			if !errors.As(err, &tlsaErr) {
				t.Fatalf("ParseTLSA(%q) error = %v, want *TLSAError", tt.input, err)
			}
			if tlsaErr.Field != tt.field {
				t.Errorf("Field = %q, want %q", tlsaErr.Field, tt.field)
			}
			if !strings.Contains(err.Error(), tt.inMessage) {
				t.Errorf("message %q does not contain %q", err.Error(), tt.inMessage)
			}
			if !strings.HasPrefix(err.Error(), "invalid TLSA record ") {
				t.Errorf("message %q does not start with the common prefix", err.Error())
			}
		})
	}
}

func TestParseTLSAErrorTruncatesInput(t *testing.T) {
	t.Parallel()
	_, err := ParseTLSA("2 1 1 " + strings.Repeat("a", 1001))
	if err == nil {
		t.Fatal("odd hex accepted")
	}
	if len(err.Error()) > 200 {
		t.Errorf("message has %d bytes, want the input cut short: %q", len(err.Error()), err.Error())
	}
}

func TestTLSAString(t *testing.T) {
	t.Parallel()
	record := TLSA{Usage: DANETA, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: []byte{0xAB, 0x01, 0xff}}
	if got, want := record.String(), "2 1 1 ab01ff"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	parsed, err := ParseTLSA(record.String())
	if err != nil {
		t.Fatalf("ParseTLSA(String()): %v", err)
	}
	if parsed.String() != record.String() {
		t.Errorf("round trip = %q, want %q", parsed.String(), record.String())
	}
}

func TestFieldStrings(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{PKIXTA.String(), "PKIX-TA(0)"},
		{DANEEE.String(), "DANE-EE(3)"},
		{Usage(4).String(), "unassigned(4)"},
		{SelectorSPKI.String(), "SPKI(1)"},
		{Selector(2).String(), "unassigned(2)"},
		{MatchSHA512.String(), "SHA2-512(2)"},
		{MatchingType(255).String(), "unassigned(255)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

func TestTLSAUsable(t *testing.T) {
	t.Parallel()
	d32 := make([]byte, 32)
	d64 := make([]byte, 64)
	tests := []struct {
		name   string
		record TLSA
		want   bool
	}{
		{"2 1 1", TLSA{DANETA, SelectorSPKI, MatchSHA256, d32}, true},
		{"3 0 2", TLSA{DANEEE, SelectorCert, MatchSHA512, d64}, true},
		{"0 1 0 any length", TLSA{PKIXTA, SelectorSPKI, MatchFull, []byte{1}}, true},
		{"usage 4", TLSA{4, SelectorSPKI, MatchSHA256, d32}, false},
		{"selector 2", TLSA{DANEEE, 2, MatchSHA256, d32}, false},
		{"matching type 3", TLSA{DANEEE, SelectorSPKI, 3, d32}, false},
		{"empty full data", TLSA{DANEEE, SelectorSPKI, MatchFull, nil}, false},
		{"short SHA-256", TLSA{DANEEE, SelectorSPKI, MatchSHA256, d32[:31]}, false},
		{"SHA-256 length for SHA-512", TLSA{DANEEE, SelectorSPKI, MatchSHA512, d32}, false},
		{"SHA-512 length for SHA-256", TLSA{DANEEE, SelectorSPKI, MatchSHA256, d64}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.record.Usable(); got != tt.want {
				t.Errorf("Usable() = %v, want %v (reason %q)", got, tt.want, tt.record.unusableReason())
			}
		})
	}
}

func TestNewTLSA(t *testing.T) {
	t.Parallel()
	c := fixedChain(t)
	for _, u := range []Usage{PKIXTA, PKIXEE, DANETA, DANEEE} {
		for _, s := range []Selector{SelectorCert, SelectorSPKI} {
			for _, m := range []MatchingType{MatchFull, MatchSHA256, MatchSHA512} {
				record, err := NewTLSA(u, s, m, c.csc)
				if err != nil {
					t.Fatalf("NewTLSA(%d, %d, %d): %v", u, s, m, err)
				}
				if record.Usage != u || record.Selector != s || record.MatchingType != m {
					t.Errorf("NewTLSA(%d, %d, %d) fields = %s", u, s, m, record)
				}
				if want := referenceData(c.csc, s, m); !bytes.Equal(record.Data, want) {
					t.Errorf("NewTLSA(%d, %d, %d) data = %x, want %x", u, s, m, record.Data, want)
				}
				if !record.Usable() {
					t.Errorf("NewTLSA(%d, %d, %d) is not usable: %s", u, s, m, record.unusableReason())
				}
			}
		}
	}
}

func TestNewTLSAFullDataIsCopy(t *testing.T) {
	t.Parallel()
	c := fixedChain(t)
	record, err := NewTLSA(DANEEE, SelectorCert, MatchFull, c.leaf)
	if err != nil {
		t.Fatalf("NewTLSA: %v", err)
	}
	record.Data[0] ^= 0xff
	if c.leaf.Raw[0] == record.Data[0] {
		t.Error("changing the record data changed the certificate")
	}
}

func TestNewTLSAErrors(t *testing.T) {
	t.Parallel()
	c := fixedChain(t)
	tests := []struct {
		name  string
		u     Usage
		s     Selector
		m     MatchingType
		field string
		nilCA bool
	}{
		{"usage 4", 4, SelectorSPKI, MatchSHA256, "usage", false},
		{"selector 2", DANETA, 2, MatchSHA256, "selector", false},
		{"matching type 3", DANETA, SelectorSPKI, 3, "matching type", false},
		{"nil certificate", DANETA, SelectorSPKI, MatchSHA256, "certificate", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert := c.csc
			if tt.nilCA {
				cert = nil
			}
			_, err := NewTLSA(tt.u, tt.s, tt.m, cert)
			var tlsaErr *TLSAError
			if !errors.As(err, &tlsaErr) {
				t.Fatalf("error = %v, want *TLSAError", err)
			}
			if tlsaErr.Field != tt.field {
				t.Errorf("Field = %q, want %q", tlsaErr.Field, tt.field)
			}
		})
	}
}

func TestCSCAndDeviceRecords(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]testChain{"fixed": fixedChain(t), "p256": p256Chain(t)} {
		cscSum := sha256.Sum256(c.csc.RawSubjectPublicKeyInfo)
		if got, want := CSCRecord(c.csc).String(), "2 1 1 "+hex.EncodeToString(cscSum[:]); got != want {
			t.Errorf("%s: CSCRecord = %q, want %q", name, got, want)
		}
		leafSum := sha256.Sum256(c.leaf.RawSubjectPublicKeyInfo)
		if got, want := DeviceRecord(c.leaf).String(), "3 1 1 "+hex.EncodeToString(leafSum[:]); got != want {
			t.Errorf("%s: DeviceRecord = %q, want %q", name, got, want)
		}
	}
}
