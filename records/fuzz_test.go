package records

import (
	"bytes"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Fuzz input for FuzzParseATProto: RRs are separated by rrSeparator and the
// character-strings of one RR by stringSeparator.
const (
	rrSeparator     = "\n"
	stringSeparator = "|"
)

func splitFuzzRRset(input string) [][]string {
	if input == "" {
		return nil
	}
	var txts [][]string
	for _, rr := range strings.Split(input, rrSeparator) {
		txts = append(txts, strings.Split(rr, stringSeparator))
	}
	return txts
}

func FuzzParseATProto(f *testing.F) {
	f.Add("did=" + plcA)
	f.Add("oauth=idp.test|did=" + plcA)
	f.Add("did=" + plcA + "\ndid=" + plcB)
	f.Add("did=did:web:aaaa|aaaa.test\noauth=https://idp.test/?x=y")
	f.Fuzz(func(t *testing.T, input string) {
		txts := splitFuzzRRset(input)
		got, err := ParseATProto(txts)

		// An RRset has no order, so the reversed RRset must read the same.
		reversed := slices.Clone(txts)
		slices.Reverse(reversed)
		gotReversed, errReversed := ParseATProto(reversed)
		if (err == nil) != (errReversed == nil) {
			t.Fatalf("order changes the outcome: %v versus %v", err, errReversed)
		}

		if err != nil {
			var ambiguous *AmbiguousError
			if !errors.As(err, &ambiguous) {
				t.Fatalf("error %v is not *AmbiguousError", err)
			}
			var ambiguousReversed *AmbiguousError
			if !errors.As(errReversed, &ambiguousReversed) || ambiguousReversed.Key != ambiguous.Key {
				t.Fatalf("order changes the ambiguous key: %v versus %v", err, errReversed)
			}
			if len(ambiguous.Values) < 2 {
				t.Fatalf("ambiguous with %d values", len(ambiguous.Values))
			}
			return
		}
		if got != gotReversed {
			t.Fatalf("order changes the result: %+v versus %+v", got, gotReversed)
		}

		for key, value := range map[string]string{KeyDID: got.DID, KeyOAuth: got.OAuth} {
			if value == "" {
				continue
			}
			if strings.IndexFunc(value, isSpace) >= 0 {
				t.Fatalf("%s value %q contains white space", key, value)
			}
			found := false
			for _, rr := range txts {
				if strings.Contains(joinCharacterStrings(rr), key+"="+value) {
					found = true
				}
			}
			if !found {
				t.Fatalf("%s value %q does not appear in the input", key, value)
			}
		}
	})
}

func FuzzParseTLSA(f *testing.F) {
	f.Add("2 1 1 " + digest32)
	f.Add("DANE-EE SPKI SHA2-512 00")
	f.Add("256 1 1 00")
	f.Add("3 1 1 abc")
	f.Fuzz(func(t *testing.T, input string) {
		record, err := ParseTLSA(input)
		if err != nil {
			var tlsaErr *TLSAError
			if !errors.As(err, &tlsaErr) {
				t.Fatalf("error %v is not *TLSAError", err)
			}
			return
		}
		if len(record.Data) == 0 {
			t.Fatal("parsed a record without data")
		}
		text := record.String()
		if text != strings.ToLower(text) {
			t.Fatalf("String() = %q is not lowercase", text)
		}
		again, err := ParseTLSA(text)
		if err != nil {
			t.Fatalf("ParseTLSA(String()) = %v for %q", err, text)
		}
		if again.Usage != record.Usage || again.Selector != record.Selector || again.MatchingType != record.MatchingType || !bytes.Equal(again.Data, record.Data) {
			t.Fatalf("round trip changed %s into %s", record, again)
		}
	})
}

// fuzzRecord builds a record from fuzz input. The derive byte can replace
// the data with the real association data of a chain certificate: bit 7
// enables it, bits 0-1 pick the certificate, bit 6 flips the last byte and
// bit 5 drops it.
func fuzzRecord(chain []*x509.Certificate, u, s, m uint8, data []byte, derive uint8) TLSA {
	r := TLSA{Usage: Usage(u), Selector: Selector(s), MatchingType: MatchingType(m), Data: data}
	if derive&0x80 == 0 {
		return r
	}
	actual := referenceData(chain[int(derive&0x03)%len(chain)], r.Selector, r.MatchingType)
	if len(actual) == 0 {
		return r
	}
	r.Data = actual
	if derive&0x40 != 0 {
		r.Data[len(r.Data)-1] ^= 0x01
	}
	if derive&0x20 != 0 {
		r.Data = r.Data[:len(r.Data)-1]
	}
	return r
}

func FuzzMatchTLSA(f *testing.F) {
	f.Add(uint8(2), uint8(1), uint8(1), []byte{}, uint8(0x81), uint8(3), uint8(1), uint8(2), []byte{1}, uint8(0x80))
	f.Add(uint8(3), uint8(0), uint8(1), []byte{}, uint8(0x80), uint8(3), uint8(0), uint8(2), []byte{}, uint8(0xc0))
	f.Add(uint8(2), uint8(1), uint8(1), []byte{}, uint8(0x80), uint8(4), uint8(2), uint8(3), []byte{0}, uint8(0))
	f.Fuzz(func(t *testing.T, u1, s1, m1 uint8, d1 []byte, derive1, u2, s2, m2 uint8, d2 []byte, derive2 uint8) {
		chain := fixedChain(t).certs()
		records := []TLSA{
			fuzzRecord(chain, u1, s1, m1, d1, derive1),
			fuzzRecord(chain, u2, s2, m2, d2, derive2),
		}

		matches, err := MatchTLSA(records, chain)
		if (err == nil) != (len(matches) > 0) {
			t.Fatalf("matches %v with error %v", matches, err)
		}
		if err != nil {
			var noMatch *NoMatchError
			if !errors.As(err, &noMatch) {
				t.Fatalf("error %v is not *NoMatchError", err)
			}
			if noMatch.Usable+noMatch.Unusable+noMatch.WeakerDigest != len(records) {
				t.Fatalf("counts %+v do not add up to %d records", noMatch, len(records))
			}
		}

		for _, m := range matches {
			checkMatchHolds(t, m, records, chain)
		}
		checkEveryMatchFound(t, matches, records, chain)
	})
}

// checkMatchHolds fails unless m is a real match of a usable record that
// digest algorithm agility keeps, at a position its usage allows.
func checkMatchHolds(t *testing.T, m Match, records []TLSA, chain []*x509.Certificate) {
	t.Helper()
	r := m.Record
	if !r.Usable() {
		t.Fatalf("unusable record %s matched", r)
	}
	if m.Index < 0 || m.Index >= len(chain) {
		t.Fatalf("match index %d outside the chain", m.Index)
	}
	isTA := r.Usage == PKIXTA || r.Usage == DANETA
	if isTA && m.Index == 0 {
		t.Fatalf("trust-anchor record %s matched the leaf", r)
	}
	if !isTA && m.Index != 0 {
		t.Fatalf("end-entity record %s matched certificate %d", r, m.Index)
	}
	if !bytes.Equal(referenceData(chain[m.Index], r.Selector, r.MatchingType), r.Data) {
		t.Fatalf("record %s matched certificate %d, but the data differs", r, m.Index)
	}
	if weakerThanAnother(r, records) {
		t.Fatalf("record %s matched beside a stronger digest for the same usage and selector", r)
	}
}

// checkEveryMatchFound fails when a usable record that agility keeps equals
// the data of an allowed certificate but is missing from matches.
func checkEveryMatchFound(t *testing.T, matches []Match, records []TLSA, chain []*x509.Certificate) {
	t.Helper()
	for _, r := range records {
		if !r.Usable() || weakerThanAnother(r, records) {
			continue
		}
		first, last := 0, 1
		if r.Usage == PKIXTA || r.Usage == DANETA {
			first, last = 1, len(chain)
		}
		for i := first; i < last; i++ {
			if !bytes.Equal(referenceData(chain[i], r.Selector, r.MatchingType), r.Data) {
				continue
			}
			found := false
			for _, m := range matches {
				if m.Index == i && m.Record.String() == r.String() {
					found = true
				}
			}
			if !found {
				t.Fatalf("record %s equals certificate %d but is not among the matches", r, i)
			}
		}
	}
}

// weakerThanAnother reports whether r is a SHA2-256 record beside a usable
// SHA2-512 record of the same usage and selector.
func weakerThanAnother(r TLSA, records []TLSA) bool {
	if r.MatchingType != MatchSHA256 {
		return false
	}
	for _, other := range records {
		if other.Usable() && other.MatchingType == MatchSHA512 && other.Usage == r.Usage && other.Selector == r.Selector {
			return true
		}
	}
	return false
}
