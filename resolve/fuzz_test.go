package resolve

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

var updateSeeds = flag.Bool("update", false, "rewrite the fuzz seed corpus under testdata/fuzz")

// FuzzParseAnswer feeds packed DNS responses through the code that turns a
// response into an RRset: CNAME following, denial classification, TTLs,
// and the TLSA and TXT record conversions.
func FuzzParseAnswer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := new(dns.Msg)
		if err := resp.Unpack(data); err != nil || len(resp.Question) != 1 {
			return
		}
		qname := dns.CanonicalName(resp.Question[0].Name)
		r := &Resolver{now: time.Now}
		_ = extendedError(resp)

		for _, qtype := range []uint16{dns.TypeTLSA, dns.TypeTXT} {
			st, err := parseResponse(qname, qtype, resp, nil)
			if err != nil {
				var le *LookupError
				if !errors.As(err, &le) || le.Kind != KindCNAME {
					t.Fatalf("parseResponse error %v, want only CNAME errors", err)
				}
				continue
			}
			checkStep(t, st, qtype)
			if st.next {
				continue
			}
			ans := &answer{info: RRsetInfo{Name: qname, Type: qtype}}
			if err := r.fillAnswer(ans, st, resp, st.ttl); err != nil {
				continue
			}
			if qtype == dns.TypeTLSA && st.rrs != nil && len(ans.tlsa) != len(st.rrs) {
				t.Fatalf("%d TLSA RRs became %d records", len(st.rrs), len(ans.tlsa))
			}
		}
	})
}

// checkStep asserts the invariants of a parsed response.
func checkStep(t *testing.T, st step, qtype uint16) {
	t.Helper()
	if len(st.chain) > MaxCNAMEs+1 {
		t.Fatalf("chain of %d names exceeds the limit", len(st.chain))
	}
	if st.nxdomain && st.nodata {
		t.Fatal("answer is both NXDOMAIN and NODATA")
	}
	if st.rrs != nil && (st.nxdomain || st.nodata || st.next) {
		t.Fatal("answer has data and a denial")
	}
	for _, rr := range st.rrs {
		if rr.Header().Rrtype != qtype || !strings.EqualFold(rr.Header().Name, st.final) {
			t.Fatalf("RR %s is not %s at %s", rr, dns.TypeToString[qtype], st.final)
		}
	}
}

// FuzzReadSnapshot checks that ReadSnapshot rejects bad files with
// *SnapshotError and that an offline lookup on an accepted file never panics.
func FuzzReadSnapshot(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			var se *SnapshotError
			if !errors.As(err, &se) {
				t.Fatalf("ReadSnapshot error %T %v, want *SnapshotError", err, err)
			}
			return
		}
		r, err := New(Config{Snapshot: s, Policy: AcceptInsecure})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range s.Handles {
			_, _ = r.Resolve(context.Background(), h)
		}
	})
}

// FuzzParseDIDBody checks the body checks of the HTTPS DID method.
func FuzzParseDIDBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		did, reason, _ := parseDIDBody(contentType, body)
		if reason != "" {
			return
		}
		if len(body) > MaxDIDBodySize {
			t.Fatalf("accepted a %d-byte body", len(body))
		}
		if _, err := handle.ParseDID(did.String()); err != nil {
			t.Fatalf("accepted DID %q does not parse again: %v", did, err)
		}
	})
}

// TestWriteFuzzSeeds rewrites the seed corpus from the test zones when run
// with -update. The seeds are checked in, so plain go test runs them.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update to rewrite testdata/fuzz")
	}
	w := testWorld(t)
	srv := w.start(t)

	queries := []struct {
		file, name string
		qtype      uint16
	}{
		{"tlsa-secure", "alice.test.", dns.TypeTLSA},
		{"txt-secure", "_atproto.alice.test.", dns.TypeTXT},
		{"txt-two-did", "_atproto.twodid.test.", dns.TypeTXT},
		{"nxdomain-nsec", "nobody.test.", dns.TypeTLSA},
		{"nodata-nsec3", "notlsa.nsec3.test.", dns.TypeTLSA},
		{"cname", "cname.test.", dns.TypeTLSA},
		{"cname-loop", "loop1.test.", dns.TypeTLSA},
		{"txt-large", "_atproto.big.test.", dns.TypeTXT},
	}
	for _, q := range queries {
		resp := srv.Answer(newQuery(q.name, q.qtype, false))
		wire, err := resp.Pack()
		if err != nil {
			t.Fatal(err)
		}
		writeSeed(t, "FuzzParseAnswer", q.file, wire)
	}
	// A CNAME chain inside one response, with the data at its end.
	chained := srv.Answer(newQuery("cname.test.", dns.TypeTLSA, false))
	chained.Answer = append(chained.Answer, srv.Answer(newQuery("alice.test.", dns.TypeTLSA, false)).Answer...)
	wire, err := chained.Pack()
	if err != nil {
		t.Fatal(err)
	}
	writeSeed(t, "FuzzParseAnswer", "cname-in-response", wire)

	var snap bytes.Buffer
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})
	if err := r.WriteSnapshot(testContext(t), &snap, []handle.Handle{"alice.test"}); err != nil {
		t.Fatal(err)
	}
	writeSeed(t, "FuzzReadSnapshot", "alice", snap.Bytes())
	writeSeed(t, "FuzzReadSnapshot", "wrong-version", []byte(`{"format":"dnshandle-resolve-snapshot","version":9}`))

	writeSeed(t, "FuzzParseDIDBody", "plain", []byte("text/plain"), []byte(didAlice+"\n"))
	writeSeed(t, "FuzzParseDIDBody", "html", []byte("text/html; charset=utf-8"), []byte("<p>"+didAlice+"</p>"))
	writeSeed(t, "FuzzParseDIDBody", "did-key", []byte(""), []byte("did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"))
}

// writeSeed writes one corpus file with one line per value. The first
// argument of FuzzParseDIDBody is a string, so it is written as one.
func writeSeed(t *testing.T, target, name string, values ...[]byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for i, v := range values {
		if target == "FuzzParseDIDBody" && i == 0 {
			fmt.Fprintf(&b, "string(%q)\n", v)
			continue
		}
		fmt.Fprintf(&b, "[]byte(%q)\n", v)
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
