package dnssec

import (
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

	"github.com/dnshandle/dnshandle/internal/dnstest"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpora in testdata/fuzz from a fresh test world")

// fuzzAnchor is a DS whose digest no known key has, so nothing can chain
// up to it: any Secure result in FuzzValidate is a forgery.
var fuzzAnchor = []dns.RR{&dns.DS{
	Hdr:        dns.RR_Header{Name: ".", Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: 3600},
	KeyTag:     4242,
	Algorithm:  dns.ECDSAP256SHA256,
	DigestType: dns.SHA256,
	Digest:     strings.Repeat("5a", 32),
}}

// replayExchanger answers every query with a copy of one message.
type replayExchanger struct{ msg *dns.Msg }

func (r replayExchanger) Exchange(context.Context, string, uint16) (*dns.Msg, error) {
	return r.msg.Copy(), nil
}

func FuzzValidate(f *testing.F) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, wire []byte) {
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			return
		}
		qname, qtype := "alice.dhp.test.", dns.TypeTLSA
		if len(m.Question) > 0 {
			qname, qtype = m.Question[0].Name, m.Question[0].Qtype
		}

		v := &Validator{Anchors: fuzzAnchor, Exchanger: replayExchanger{m}, Now: func() time.Time { return now }}
		got := v.Validate(context.Background(), qname, qtype, m)
		if got.Status == Secure {
			t.Fatalf("garbage validated as secure: %s", got.Reason)
		}
		if got.Reason == "" {
			t.Fatalf("status %s without a reason", got.Status)
		}
	})
}

func FuzzParseAnchors(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		anchors, err := ParseAnchors(strings.NewReader(text))
		if err != nil {
			var ae *AnchorError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is %T, want *AnchorError", err, err)
			}
			if anchors != nil {
				t.Fatalf("%d anchors returned with error %v", len(anchors), err)
			}
			return
		}
		if len(anchors) == 0 {
			t.Fatal("no anchors and no error")
		}
		for _, rr := range anchors {
			if why := checkAnchor(rr); why != "" {
				t.Fatalf("returned anchor %s is unusable: %s", rr, why)
			}
		}
	})
}

// TestUpdateFuzzSeeds rewrites the seed corpora when run with
// -update-seeds; otherwise it does nothing.
func TestUpdateFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz")
	}

	for _, nsec3 := range []bool{false, true} {
		w := newWorld(t, worldOptions{sign: dnstest.SignOptions{NSEC3: nsec3}})
		queries := []struct {
			name  string
			qtype uint16
		}{
			{"alice.dhp.test.", dns.TypeTLSA},
			{"_atproto.alice.dhp.test.", dns.TypeTXT},
			{"bob.dhp.test.", dns.TypeTLSA},
			{"alice.dhp.test.", dns.TypeTXT},
			{"x.wild.dhp.test.", dns.TypeTXT},
			{"www.dhp.test.", dns.TypeTLSA},
			{"dhp.test.", dns.TypeDNSKEY},
			{"dhp.test.", dns.TypeDS},
			{"insecure.test.", dns.TypeDS},
		}
		for _, q := range queries {
			wire, err := w.query(t, q.name, q.qtype).Pack()
			if err != nil {
				t.Fatal(err)
			}
			kind := "nsec"
			if nsec3 {
				kind = "nsec3"
			}
			file := fmt.Sprintf("%s-%s-%s", kind, strings.TrimSuffix(q.name, "."), dns.TypeToString[q.qtype])
			writeSeed(t, "FuzzValidate", file, fmt.Sprintf("[]byte(%q)", wire))
		}
	}

	anchorSeeds := map[string]string{
		"root-ds":      rootDS + "\n",
		"dnskey":       newWorld(t, worldOptions{}).dhp.DNSKEYs()[0].String() + "\n",
		"directives":   "; trust anchors\n$TTL 86400\n$ORIGIN test.\n" + rootDS + " ; KSK-2017\n",
		"wrong-type":   ". IN A 192.0.2.1\n",
		"short-digest": ". IN DS 20326 8 2 E06D44B8\n",
		"include":      "$INCLUDE /etc/hosts\n",
	}
	for name, text := range anchorSeeds {
		writeSeed(t, "FuzzParseAnchors", name, fmt.Sprintf("string(%q)", text))
	}
}

func writeSeed(t *testing.T, target, name, value string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n" + value + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
