package resolve

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

func TestDiagnose(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	failing := w.start(t)
	failing.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool {
		if r.Question[0].Qtype == dns.TypeTXT {
			return true // dropped: the TXT lookup times out
		}
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		_ = rw.WriteMsg(m)
		return true
	})

	cases := []struct {
		name   string
		server string
		handle handle.Handle
		policy Policy
		want   []string // substrings, one per expected line, in order
	}{
		{"all good", srv.Addr, "alice.test", RequireSecure, nil},
		{"no TLSA", srv.Addr, "notlsa.test", RequireSecure, []string{
			`no TLSA record at notlsa.test.: publish "notlsa.test. IN TLSA 2 1 1 <sha256 of your CSC key>"`,
			`_atproto.notlsa.test. does not exist (NXDOMAIN): publish "_atproto.notlsa.test. IN TXT \"did=<your DID>\""`,
		}},
		{"two did values", srv.Addr, "twodid.test", RequireSecure, []string{
			"two different did= values at _atproto.twodid.test. (" + didAlice + ", " + didOther + "): keep one",
		}},
		{"bogus", srv.Addr, "dave.bad.test", RequireSecure, []string{
			"TLSA at dave.bad.test. is bogus: RRSIG",
		}},
		{"insecure refused", srv.Addr, "bob.unsigned.test", RequireSecure, []string{
			"TLSA at bob.unsigned.test. is not signed (insecure)",
			"TXT at _atproto.bob.unsigned.test. is not signed (insecure)",
		}},
		{"insecure accepted", srv.Addr, "bob.unsigned.test", AcceptInsecure, nil},
		{"upstream failures", failing.Addr, "alice.test", RequireSecure, []string{
			failing.Addr + " returned SERVFAIL for TLSA at alice.test.",
			"the query for TXT at _atproto.alice.test. timed out",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResolver(t, Config{Servers: []string{tc.server}, TrustAnchors: w.anchors, Policy: tc.policy,
				Timeout: 300 * time.Millisecond})
			res, err := r.Resolve(testContext(t), tc.handle)
			lines := Diagnose(res, err)
			if len(lines) != len(tc.want) {
				t.Fatalf("Diagnose returned %d lines, want %d:\n%s", len(lines), len(tc.want), strings.Join(lines, "\n"))
			}
			for i, want := range tc.want {
				if !strings.Contains(lines[i], want) {
					t.Errorf("line %d = %q\nwant it to contain %q", i, lines[i], want)
				}
			}
		})
	}
}

func TestNotesInsecureAccepted(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors, Policy: AcceptInsecure})
	res, err := r.Resolve(testContext(t), "bob.unsigned.test")
	if err != nil {
		t.Fatalf("Resolve under AcceptInsecure: %v", err)
	}

	notes := Notes(res)
	want := []string{
		"TLSA at bob.unsigned.test. is insecure and accepted only because the policy is AcceptInsecure",
		"TXT at _atproto.bob.unsigned.test. is insecure and accepted only because the policy is AcceptInsecure",
	}
	if len(notes) != len(want) {
		t.Fatalf("Notes returned %d lines, want %d:\n%s", len(notes), len(want), strings.Join(notes, "\n"))
	}
	for i := range want {
		if !strings.Contains(notes[i], want[i]) {
			t.Errorf("note %d = %q\nwant it to contain %q", i, notes[i], want[i])
		}
	}
	if !strings.Contains(Render(res, nil), "notes:\n  - TLSA at bob.unsigned.test. is insecure") {
		t.Errorf("Render does not list the notes:\n%s", Render(res, nil))
	}
}

func TestRenderNotesOnlyWhenUsable(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	tests := []struct {
		name   string
		server string
		policy Policy
		handle handle.Handle
	}{
		{"insecure under RequireSecure", srv.Addr, RequireSecure, "bob.unsigned.test"},
		{"lookup failed under AcceptInsecure", "127.0.0.1:1", AcceptInsecure, "alice.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResolver(t, Config{Servers: []string{tc.server}, TrustAnchors: w.anchors, Policy: tc.policy,
				Timeout: 300 * time.Millisecond})
			res, err := r.Resolve(testContext(t), tc.handle)
			if err == nil {
				t.Fatal("Resolve succeeded, want an error")
			}
			text := Render(res, err)
			if strings.Contains(text, "notes:") || strings.Contains(text, "accepted only because") {
				t.Errorf("Render of a failed resolution lists notes:\n%s", text)
			}
			if !strings.Contains(text, "problems:") {
				t.Errorf("Render of a failed resolution lacks problems:\n%s", text)
			}
			if notes := NewView(res, err).Notes; len(notes) != 0 {
				t.Errorf("view of a failed resolution has notes %q", notes)
			}
		})
	}
}

func TestDiagnoseNothing(t *testing.T) {
	t.Parallel()
	if lines := Diagnose(nil, nil); lines != nil {
		t.Errorf("Diagnose(nil, nil) = %v, want nil", lines)
	}
}

func TestRenderAndView(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})
	res, err := r.Resolve(testContext(t), "alice.test")
	if err != nil {
		t.Fatal(err)
	}

	text := Render(res, nil)
	for _, want := range []string{"handle  @alice.test", "TLSA    alice.test.  secure, ttl 300s", tlsaAlice, "did=" + didAlice, "oauth=https://idp.test"} {
		if !strings.Contains(text, want) {
			t.Errorf("Render output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "problems:") {
		t.Errorf("Render lists problems for a good handle:\n%s", text)
	}

	data, err := json.Marshal(NewView(res, nil))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got["handle"] != "alice.test" || got["did"] != didAlice {
		t.Errorf("view handle/did = %v/%v", got["handle"], got["did"])
	}
	rrset, _ := got["tlsa_rrset"].(map[string]any)
	if rrset["status"] != "secure" || rrset["type"] != "TLSA" || rrset["rcode"] != "NOERROR" || rrset["ttl"] != float64(300) {
		t.Errorf("tlsa_rrset = %v", rrset)
	}
	tlsa, _ := got["tlsa"].([]any)
	if len(tlsa) != 2 {
		t.Fatalf("tlsa = %v, want two records", got["tlsa"])
	}
	first, _ := tlsa[0].(map[string]any)
	for _, key := range []string{"usage", "selector", "matching_type", "data", "record"} {
		if _, ok := first[key]; !ok {
			t.Errorf("TLSA view lacks %q: %v", key, first)
		}
	}
}

func TestViewOfError(t *testing.T) {
	t.Parallel()
	r := newTestResolver(t, Config{Servers: []string{"127.0.0.1:1"}})
	res, err := r.Resolve(testContext(t), "bad handle")
	v := NewView(res, err)
	if v.Error == "" || len(v.Problems) == 0 || v.TLSA == nil {
		t.Errorf("view of an error = %+v, want error, problems and an empty TLSA list", v)
	}
	if text := Render(res, err); !strings.Contains(text, "problems:") {
		t.Errorf("Render of an error lacks problems:\n%s", text)
	}
}

func TestDiagnoseNoADAdvisesTrustAnchor(t *testing.T) {
	err := &InsecureError{Name: "alice.dhp.test.", Type: dns.TypeTLSA, Status: Insecure, Reason: "trusted upstream 127.0.0.1:53" + reasonNoAD}
	line, _ := diagnoseError(err)
	if !strings.Contains(line, "--trust-anchor") {
		t.Errorf("advice %q does not point at a trust anchor", line)
	}
	if strings.Contains(line, "sign the zone") {
		t.Errorf("advice %q tells to sign a zone that may be signed already", line)
	}
}
