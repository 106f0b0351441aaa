package records

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
)

const (
	plcA = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	plcB = "did:plc:z72i7hdynmk6r22z27h6tvur"
)

func TestParseATProto(t *testing.T) {
	t.Parallel()
	longDID := "did:web:" + strings.Repeat("a", 300) + ".test"
	tests := []struct {
		name string
		txts [][]string
		want ATProto
	}{
		{"one did record", [][]string{{"did=" + plcA}}, ATProto{DID: plcA}},
		{"did and oauth records", [][]string{{"did=" + plcA}, {"oauth=https://idp.test"}}, ATProto{DID: plcA, OAuth: "https://idp.test"}},
		{"draft form two strings in one record", [][]string{{"oauth=idp.test", "did=" + plcA}}, ATProto{DID: plcA, OAuth: "idp.test"}},
		{"draft form did first", [][]string{{"did=" + plcA, "oauth=idp.test"}}, ATProto{DID: plcA, OAuth: "idp.test"}},
		{"long did split at 255 bytes", [][]string{{("did=" + longDID)[:255], ("did=" + longDID)[255:]}}, ATProto{DID: longDID}},
		{"split right after the key", [][]string{{"did=", plcA}}, ATProto{DID: plcA}},
		{"split inside the key", [][]string{{"di", "d=" + plcA}}, ATProto{DID: plcA}},
		{"split inside the value", [][]string{{"did=did:plc:ewvi7", "nxzyoun6zhxrhs64oiz"}}, ATProto{DID: plcA}},
		{"space separated in one string", [][]string{{"did=" + plcA + " oauth=https://idp.test"}}, ATProto{DID: plcA, OAuth: "https://idp.test"}},
		{"trailing space before next string", [][]string{{"oauth=idp.test ", "did=" + plcA}}, ATProto{DID: plcA, OAuth: "idp.test"}},
		{"tabs and newlines separate", [][]string{{"did=" + plcA + "\t\r\noauth=idp.test"}}, ATProto{DID: plcA, OAuth: "idp.test"}},
		{"unknown keys ignored", [][]string{{"v=spf1 -all"}, {"jscontact=https://card.test did=" + plcA}}, ATProto{DID: plcA}},
		{"keys are case-sensitive", [][]string{{"DID=" + plcB}, {"did=" + plcA}}, ATProto{DID: plcA}},
		{"words without equals ignored", [][]string{{"hello did " + plcB + " did=" + plcA}}, ATProto{DID: plcA}},
		{"empty value ignored", [][]string{{"did="}, {"did=" + plcA}}, ATProto{DID: plcA}},
		{"value keeps later equals signs", [][]string{{"oauth=https://idp.test/?a=b"}}, ATProto{OAuth: "https://idp.test/?a=b"}},
		{"identical duplicates across records", [][]string{{"did=" + plcA}, {"did=" + plcA}}, ATProto{DID: plcA}},
		{"identical duplicates in one record", [][]string{{"did=" + plcA, "did=" + plcA}}, ATProto{DID: plcA}},
		{"raw value kept without syntax check", [][]string{{"did=not-a-did"}}, ATProto{DID: "not-a-did"}},
		{"non-ASCII space does not split", [][]string{{"oauth=idp\u00a0test"}}, ATProto{OAuth: "idp\u00a0test"}},
		{"empty RRset", nil, ATProto{}},
		{"record without strings", [][]string{{}}, ATProto{}},
		{"empty strings", [][]string{{"", "", "did=" + plcA, ""}}, ATProto{DID: plcA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseATProto(tt.txts)
			if err != nil {
				t.Fatalf("ParseATProto: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseATProto = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseATProtoAmbiguous(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		txts [][]string
		want AmbiguousError
	}{
		{"two did records", [][]string{{"did=" + plcA}, {"did=" + plcB}}, AmbiguousError{Key: KeyDID, Values: []string{plcA, plcB}}},
		{"two dids in one record", [][]string{{"did=" + plcA + " did=" + plcB}}, AmbiguousError{Key: KeyDID, Values: []string{plcA, plcB}}},
		{"two dids in two strings", [][]string{{"did=" + plcB, "did=" + plcA}}, AmbiguousError{Key: KeyDID, Values: []string{plcB, plcA}}},
		{"repeat plus a different did", [][]string{{"did=" + plcA}, {"did=" + plcA}, {"did=" + plcB}}, AmbiguousError{Key: KeyDID, Values: []string{plcA, plcB}}},
		{"three dids", [][]string{{"did=a"}, {"did=b"}, {"did=c"}}, AmbiguousError{Key: KeyDID, Values: []string{"a", "b", "c"}}},
		{"two oauth issuers", [][]string{{"oauth=idp.test"}, {"oauth=https://idp.test"}}, AmbiguousError{Key: KeyOAuth, Values: []string{"idp.test", "https://idp.test"}}},
		{"did reported before oauth", [][]string{{"oauth=a"}, {"oauth=b"}, {"did=c"}, {"did=d"}}, AmbiguousError{Key: KeyDID, Values: []string{"c", "d"}}},
		// The rule for strings that begin with a known key also cuts a URL
		// whose continuation begins with "oauth=". ZoneText never splits a
		// value there.
		{"continuation starting with a key", [][]string{{"oauth=https://idp.test/?x=", "oauth=y"}}, AmbiguousError{Key: KeyOAuth, Values: []string{"https://idp.test/?x=", "y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseATProto(tt.txts)
			var ambiguous *AmbiguousError
			if !errors.As(err, &ambiguous) {
				t.Fatalf("ParseATProto = %+v, %v, want *AmbiguousError", got, err)
			}
			if !reflect.DeepEqual(*ambiguous, tt.want) {
				t.Errorf("error = %+v, want %+v", *ambiguous, tt.want)
			}
			if got != (ATProto{}) {
				t.Errorf("attributes = %+v, want none with the error", got)
			}
		})
	}
}

func TestAmbiguousErrorMessage(t *testing.T) {
	t.Parallel()
	err := &AmbiguousError{Key: KeyDID, Values: []string{plcA, plcB}}
	want := `_atproto TXT records hold 2 different did= values ("` + plcA + `", "` + plcB + `"), so the handle is ambiguous: publish exactly one did= value`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestOwnerNames(t *testing.T) {
	t.Parallel()
	h, err := handle.Parse("alice.test")
	if err != nil {
		t.Fatalf("handle.Parse: %v", err)
	}
	if got, want := OwnerATProto(h), "_atproto.alice.test."; got != want {
		t.Errorf("OwnerATProto = %q, want %q", got, want)
	}
	if got, want := OwnerTLSA(h), "alice.test."; got != want {
		t.Errorf("OwnerTLSA = %q, want %q", got, want)
	}
}
