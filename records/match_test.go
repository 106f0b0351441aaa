package records

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// record builds a record with correct data for cert.
func record(tb testing.TB, u Usage, s Selector, m MatchingType, cert *x509.Certificate) TLSA {
	tb.Helper()
	data := referenceData(cert, s, m)
	if data == nil {
		tb.Fatalf("no reference data for selector %d, matching type %d", s, m)
	}
	return TLSA{Usage: u, Selector: s, MatchingType: m, Data: data}
}

// wrong builds a record of the right length whose data matches nothing.
func wrong(tb testing.TB, u Usage, s Selector, m MatchingType, cert *x509.Certificate) TLSA {
	tb.Helper()
	r := record(tb, u, s, m, cert)
	r.Data = bytes.Clone(r.Data)
	r.Data[len(r.Data)-1] ^= 0x01
	return r
}

// withData returns r with other data, for unusable lengths.
func withData(r TLSA, data []byte) TLSA {
	r.Data = data
	return r
}

// withFields returns r with other fields and the same data.
func withFields(r TLSA, u Usage, s Selector, m MatchingType) TLSA {
	r.Usage, r.Selector, r.MatchingType = u, s, m
	return r
}

// pos names an expected match: the record at rr matched chain[index].
type pos struct{ rr, index int }

func TestMatchTLSA(t *testing.T) {
	t.Parallel()
	c := fixedChain(t)
	leaf, csc, inter := c.leaf, c.csc, c.intermediate
	full := c.certs()

	tests := []struct {
		name    string
		records []TLSA
		chain   []*x509.Certificate
		want    []pos
		// wantNoMatch holds the expected counts when nothing matches.
		wantNoMatch *NoMatchError
	}{
		{
			name:    "3 1 1 leaf",
			records: []TLSA{DeviceRecord(leaf)},
			chain:   full,
			want:    []pos{{0, 0}},
		},
		{
			name:    "2 1 1 CSC at index 1",
			records: []TLSA{CSCRecord(csc)},
			chain:   full,
			want:    []pos{{0, 1}},
		},
		{
			name:    "2 1 1 intermediate at index 2",
			records: []TLSA{record(t, DANETA, SelectorSPKI, MatchSHA256, inter)},
			chain:   full,
			want:    []pos{{0, 2}},
		},
		{
			name:        "2 1 1 with leaf key does not match",
			records:     []TLSA{record(t, DANETA, SelectorSPKI, MatchSHA256, leaf)},
			chain:       full,
			wantNoMatch: &NoMatchError{Usable: 1, TrustAnchor: 1, ChainLength: 3},
		},
		{
			name:        "2 0 0 leaf certificate does not match",
			records:     []TLSA{record(t, DANETA, SelectorCert, MatchFull, leaf)},
			chain:       full,
			wantNoMatch: &NoMatchError{Usable: 1, TrustAnchor: 1, ChainLength: 3},
		},
		{
			name:        "3 1 1 CSC key does not match",
			records:     []TLSA{record(t, DANEEE, SelectorSPKI, MatchSHA256, csc)},
			chain:       full,
			wantNoMatch: &NoMatchError{Usable: 1, ChainLength: 3},
		},
		{
			name:        "valid 3 0 1 beside wrong 3 0 2",
			records:     []TLSA{record(t, DANEEE, SelectorCert, MatchSHA256, leaf), wrong(t, DANEEE, SelectorCert, MatchSHA512, leaf)},
			chain:       full,
			wantNoMatch: &NoMatchError{Usable: 1, WeakerDigest: 1, ChainLength: 3},
		},
		{
			name:    "valid 3 1 2 beside wrong 3 1 1",
			records: []TLSA{wrong(t, DANEEE, SelectorSPKI, MatchSHA256, leaf), record(t, DANEEE, SelectorSPKI, MatchSHA512, leaf)},
			chain:   full,
			want:    []pos{{1, 0}},
		},
		{
			name:    "valid 3 1 1 ignored beside valid 3 1 2",
			records: []TLSA{record(t, DANEEE, SelectorSPKI, MatchSHA256, leaf), record(t, DANEEE, SelectorSPKI, MatchSHA512, leaf)},
			chain:   full,
			want:    []pos{{1, 0}},
		},
		{
			name:    "agility is per selector",
			records: []TLSA{record(t, DANEEE, SelectorSPKI, MatchSHA256, leaf), wrong(t, DANEEE, SelectorCert, MatchSHA512, leaf)},
			chain:   full,
			want:    []pos{{0, 0}},
		},
		{
			name:    "agility is per usage",
			records: []TLSA{CSCRecord(csc), wrong(t, DANEEE, SelectorSPKI, MatchSHA512, leaf)},
			chain:   full,
			want:    []pos{{0, 1}},
		},
		{
			name: "full record kept beside stronger digest",
			records: []TLSA{
				record(t, DANEEE, SelectorSPKI, MatchFull, leaf),
				record(t, DANEEE, SelectorSPKI, MatchSHA256, leaf),
				wrong(t, DANEEE, SelectorSPKI, MatchSHA512, leaf),
			},
			chain: full,
			want:  []pos{{0, 0}},
		},
		{
			name: "full record does not hide digests",
			records: []TLSA{
				wrong(t, DANETA, SelectorCert, MatchFull, csc),
				record(t, DANETA, SelectorCert, MatchSHA256, csc),
			},
			chain: full,
			want:  []pos{{1, 1}},
		},
		{
			name:    "3 0 0 full leaf certificate",
			records: []TLSA{record(t, DANEEE, SelectorCert, MatchFull, leaf)},
			chain:   full,
			want:    []pos{{0, 0}},
		},
		{
			name:    "2 1 0 full CSC key",
			records: []TLSA{record(t, DANETA, SelectorSPKI, MatchFull, csc)},
			chain:   full,
			want:    []pos{{0, 1}},
		},
		{
			name:    "2 0 2 intermediate certificate",
			records: []TLSA{record(t, DANETA, SelectorCert, MatchSHA512, inter)},
			chain:   full,
			want:    []pos{{0, 2}},
		},
		{
			name: "unusable usage selector and matching type ignored",
			records: []TLSA{
				withFields(DeviceRecord(leaf), 4, SelectorSPKI, MatchSHA256),
				withFields(DeviceRecord(leaf), DANEEE, 2, MatchSHA256),
				withFields(DeviceRecord(leaf), DANEEE, SelectorSPKI, 3),
			},
			chain:       full,
			wantNoMatch: &NoMatchError{Unusable: 3, ChainLength: 3},
		},
		{
			name: "unusable records beside a usable match",
			records: []TLSA{
				withFields(CSCRecord(csc), 255, SelectorSPKI, MatchSHA256),
				CSCRecord(csc),
			},
			chain: full,
			want:  []pos{{1, 1}},
		},
		{
			name: "wrong-length digests ignored",
			records: []TLSA{
				withData(DeviceRecord(leaf), DeviceRecord(leaf).Data[:31]),
				withData(record(t, DANEEE, SelectorSPKI, MatchSHA512, leaf), DeviceRecord(leaf).Data),
				withData(DeviceRecord(leaf), nil),
			},
			chain:       full,
			wantNoMatch: &NoMatchError{Unusable: 3, ChainLength: 3},
		},
		{
			name: "wrong-length SHA-512 does not hide SHA-256",
			records: []TLSA{
				withData(record(t, DANEEE, SelectorSPKI, MatchSHA512, leaf), make([]byte, 63)),
				DeviceRecord(leaf),
			},
			chain: full,
			want:  []pos{{1, 0}},
		},
		{
			name:    "PKIX-EE leaf",
			records: []TLSA{record(t, PKIXEE, SelectorSPKI, MatchSHA256, leaf)},
			chain:   full,
			want:    []pos{{0, 0}},
		},
		{
			name:    "PKIX-TA intermediate",
			records: []TLSA{record(t, PKIXTA, SelectorCert, MatchSHA256, inter)},
			chain:   full,
			want:    []pos{{0, 2}},
		},
		{
			name:        "PKIX-TA leaf does not match",
			records:     []TLSA{record(t, PKIXTA, SelectorSPKI, MatchSHA256, leaf)},
			chain:       full,
			wantNoMatch: &NoMatchError{Usable: 1, TrustAnchor: 1, ChainLength: 3},
		},
		{
			name:        "PKIX-EE CSC does not match",
			records:     []TLSA{record(t, PKIXEE, SelectorSPKI, MatchSHA256, csc)},
			chain:       full,
			wantNoMatch: &NoMatchError{Usable: 1, ChainLength: 3},
		},
		{
			name:    "all matches returned in record order",
			records: []TLSA{CSCRecord(csc), DeviceRecord(leaf), record(t, PKIXTA, SelectorSPKI, MatchSHA256, inter)},
			chain:   full,
			want:    []pos{{0, 1}, {1, 0}, {2, 2}},
		},
		{
			name:    "repeated certificate matches twice",
			records: []TLSA{CSCRecord(csc)},
			chain:   []*x509.Certificate{leaf, csc, csc},
			want:    []pos{{0, 1}, {0, 2}},
		},
		{
			name:        "leaf alone cannot match 2 1 1",
			records:     []TLSA{CSCRecord(csc)},
			chain:       []*x509.Certificate{leaf},
			wantNoMatch: &NoMatchError{Usable: 1, TrustAnchor: 1, ChainLength: 1},
		},
		{
			name:    "leaf alone matches 3 1 1",
			records: []TLSA{DeviceRecord(leaf)},
			chain:   []*x509.Certificate{leaf},
			want:    []pos{{0, 0}},
		},
		{
			name:        "no records",
			records:     nil,
			chain:       full,
			wantNoMatch: &NoMatchError{ChainLength: 3},
		},
		{
			name:        "empty chain",
			records:     []TLSA{DeviceRecord(leaf), CSCRecord(csc)},
			chain:       nil,
			wantNoMatch: &NoMatchError{Usable: 2, TrustAnchor: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			matches, err := MatchTLSA(tt.records, tt.chain)
			if tt.wantNoMatch != nil {
				var noMatch *NoMatchError
				if !errors.As(err, &noMatch) {
					t.Fatalf("error = %v, matches = %v, want *NoMatchError", err, matches)
				}
				if *noMatch != *tt.wantNoMatch {
					t.Errorf("counts = %+v, want %+v", *noMatch, *tt.wantNoMatch)
				}
				if matches != nil {
					t.Errorf("matches = %v, want nil with the error", matches)
				}
				return
			}
			if err != nil {
				t.Fatalf("MatchTLSA: %v", err)
			}
			if len(matches) != len(tt.want) {
				t.Fatalf("got %d matches, want %d: %v", len(matches), len(tt.want), matches)
			}
			for i, w := range tt.want {
				if matches[i].Index != w.index {
					t.Errorf("match %d: Index = %d, want %d", i, matches[i].Index, w.index)
				}
				if matches[i].Record.String() != tt.records[w.rr].String() {
					t.Errorf("match %d: Record = %s, want record %d %s", i, matches[i].Record, w.rr, tt.records[w.rr])
				}
			}
		})
	}
}

func TestMatchTLSAP256Chain(t *testing.T) {
	t.Parallel()
	c := p256Chain(t)
	matches, err := MatchTLSA([]TLSA{CSCRecord(c.csc), DeviceRecord(c.leaf)}, c.certs())
	if err != nil {
		t.Fatalf("MatchTLSA: %v", err)
	}
	if len(matches) != 2 || matches[0].Index != 1 || matches[1].Index != 0 {
		t.Errorf("matches = %+v, want the CSC at 1 and the leaf at 0", matches)
	}
}

func TestMatchTLSANilCertificate(t *testing.T) {
	t.Parallel()
	c := fixedChain(t)
	_, err := MatchTLSA([]TLSA{CSCRecord(c.csc)}, []*x509.Certificate{c.leaf, nil})
	var chainErr *InvalidChainError
	if !errors.As(err, &chainErr) {
		t.Fatalf("error = %v, want *InvalidChainError", err)
	}
	if chainErr.Index != 1 {
		t.Errorf("Index = %d, want 1", chainErr.Index)
	}
}

func TestNoMatchErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  NoMatchError
		want []string
	}{
		{"no certificate", NoMatchError{Usable: 1}, []string{"no certificate was presented"}},
		{"empty RRset", NoMatchError{ChainLength: 2}, []string{"the TLSA RRset is empty", "2 1 1"}},
		{"only unusable", NoMatchError{Unusable: 3, ChainLength: 2}, []string{"none of the 3 records is usable", "usage 0 to 3"}},
		{"leaf only", NoMatchError{Usable: 1, TrustAnchor: 1, ChainLength: 1}, []string{"sent only its leaf", "send its CSC"}},
		{"digest mismatch", NoMatchError{Usable: 2, Unusable: 1, WeakerDigest: 1, ChainLength: 3},
			[]string{"any of the 3 presented certificates", "2 usable, 1 unusable, 1 ignored for a weaker digest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msg := tt.err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestMatchTLSADoesNotChangeInput(t *testing.T) {
	t.Parallel()
	c := fixedChain(t)
	records := []TLSA{CSCRecord(c.csc), wrong(t, DANEEE, SelectorSPKI, MatchSHA256, c.leaf)}
	before := []string{records[0].String(), records[1].String()}
	if _, err := MatchTLSA(records, c.certs()); err != nil {
		t.Fatalf("MatchTLSA: %v", err)
	}
	for i, r := range records {
		if r.String() != before[i] {
			t.Errorf("record %d changed from %s to %s", i, before[i], r)
		}
	}
}
