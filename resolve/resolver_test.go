package resolve

import (
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
)

// TestResolveValidation runs Resolve with local validation against the
// signed test tree, one case per DNSSEC outcome.
func TestResolveValidation(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)

	type want struct {
		tlsaStatus, txtStatus Status
		tlsaCount             int
		did                   string
		tlsaNXDomain          bool
		tlsaNoData            bool
		tlsaTTL               uint32
		bogus                 string // RRset name expected in a *BogusError
	}
	cases := []struct {
		name   string
		handle handle.Handle
		policy Policy
		want   want
	}{
		{"secure NSEC zone", "alice.test", RequireSecure,
			want{tlsaStatus: Secure, txtStatus: Secure, tlsaCount: 2, did: didAlice, tlsaTTL: 300}},
		{"secure NSEC3 zone", "carol.nsec3.test", RequireSecure,
			want{tlsaStatus: Secure, txtStatus: Secure, tlsaCount: 1, did: didAlice, tlsaTTL: 300}},
		{"NXDOMAIN with NSEC", "nobody.test", RequireSecure,
			want{tlsaStatus: Secure, txtStatus: Secure, tlsaNXDomain: true, tlsaTTL: 60}},
		{"NODATA with NSEC", "notlsa.test", RequireSecure,
			want{tlsaStatus: Secure, txtStatus: Secure, tlsaNoData: true, tlsaTTL: 60}},
		{"NXDOMAIN with NSEC3", "nobody.nsec3.test", RequireSecure,
			want{tlsaStatus: Secure, txtStatus: Secure, tlsaNXDomain: true, tlsaTTL: 90}},
		{"NODATA with NSEC3", "notlsa.nsec3.test", RequireSecure,
			want{tlsaStatus: Secure, txtStatus: Secure, tlsaNoData: true, tlsaTTL: 90}},
		{"insecure accepted", "bob.unsigned.test", AcceptInsecure,
			want{tlsaStatus: Insecure, txtStatus: Insecure, tlsaCount: 1, did: didAlice, tlsaTTL: 300}},
		{"bad signature", "dave.bad.test", AcceptInsecure,
			want{tlsaStatus: Bogus, txtStatus: Secure, bogus: "dave.bad.test."}},
		{"expired signature", "erin.expired.test", AcceptInsecure,
			want{tlsaStatus: Bogus, txtStatus: Bogus, bogus: "erin.expired.test."}},
		{"wrong DS", "frank.wrongds.test", AcceptInsecure,
			want{tlsaStatus: Bogus, txtStatus: Bogus, bogus: "frank.wrongds.test."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors, Policy: tc.policy})
			res, err := r.Resolve(testContext(t), tc.handle)

			if tc.want.bogus != "" {
				var be *BogusError
				if !errors.As(err, &be) {
					t.Fatalf("Resolve error = %v, want *BogusError", err)
				}
				if be.Name != tc.want.bogus || be.Reason == "" {
					t.Errorf("BogusError = %+v, want name %s and a reason", be, tc.want.bogus)
				}
				if res.TLSA != nil {
					t.Errorf("bogus TLSA RRset returned %d records, want none", len(res.TLSA))
				}
			} else if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.TLSAInfo.Status != tc.want.tlsaStatus {
				t.Errorf("TLSA status = %v (%s), want %v", res.TLSAInfo.Status, res.TLSAInfo.Reason, tc.want.tlsaStatus)
			}
			if res.ATProtoInfo.Status != tc.want.txtStatus {
				t.Errorf("TXT status = %v (%s), want %v", res.ATProtoInfo.Status, res.ATProtoInfo.Reason, tc.want.txtStatus)
			}
			if tc.want.bogus != "" {
				return
			}
			if len(res.TLSA) != tc.want.tlsaCount {
				t.Errorf("TLSA records = %d, want %d", len(res.TLSA), tc.want.tlsaCount)
			}
			if res.ATProto.DID != tc.want.did {
				t.Errorf("DID = %q, want %q", res.ATProto.DID, tc.want.did)
			}
			if res.TLSAInfo.NXDomain != tc.want.tlsaNXDomain || res.TLSAInfo.NoData != tc.want.tlsaNoData {
				t.Errorf("TLSA NXDomain/NoData = %v/%v, want %v/%v", res.TLSAInfo.NXDomain, res.TLSAInfo.NoData,
					tc.want.tlsaNXDomain, tc.want.tlsaNoData)
			}
			if res.TLSAInfo.TTL != tc.want.tlsaTTL {
				t.Errorf("TLSA TTL = %d, want %d", res.TLSAInfo.TTL, tc.want.tlsaTTL)
			}
		})
	}
}

func TestResolveRecords(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})

	res, err := r.Resolve(testContext(t), "alice.test")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	wantTLSA := map[string]bool{tlsaAlice: true, tlsaDevice: true}
	for _, rec := range res.TLSA {
		if !wantTLSA[rec.String()] {
			t.Errorf("unexpected TLSA %s", rec)
		}
		delete(wantTLSA, rec.String())
	}
	if len(wantTLSA) != 0 {
		t.Errorf("missing TLSA records %v", wantTLSA)
	}
	if res.ATProto.OAuth != "https://idp.test" {
		t.Errorf("OAuth = %q, want https://idp.test", res.ATProto.OAuth)
	}
	if res.TLSAInfo.Name != "alice.test." || res.ATProtoInfo.Name != "_atproto.alice.test." {
		t.Errorf("RRset names = %q, %q", res.TLSAInfo.Name, res.ATProtoInfo.Name)
	}
	if res.TLSAInfo.Server != srv.Addr || res.TLSAInfo.Rcode != dns.RcodeSuccess {
		t.Errorf("TLSA server/rcode = %q/%d", res.TLSAInfo.Server, res.TLSAInfo.Rcode)
	}
	if res.FromCache {
		t.Error("first Resolve reports FromCache")
	}
}

func TestResolveRequireSecure(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})

	res, err := r.Resolve(testContext(t), "bob.unsigned.test")
	var ie *InsecureError
	if !errors.As(err, &ie) {
		t.Fatalf("Resolve error = %v, want *InsecureError", err)
	}
	if ie.Status != Insecure || ie.Reason == "" {
		t.Errorf("InsecureError = %+v, want status insecure with a reason", ie)
	}
	if res == nil || res.TLSA != nil || res.ATProto.DID != "" {
		t.Errorf("insecure data returned under RequireSecure: %+v", res)
	}
	if res.TLSAInfo.Status != Insecure {
		t.Errorf("TLSA status = %v, want insecure in the diagnostic result", res.TLSAInfo.Status)
	}
}

func TestResolveAmbiguousDID(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})

	res, err := r.Resolve(testContext(t), "twodid.test")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	var ae *records.AmbiguousError
	if !errors.As(res.ATProtoErr, &ae) {
		t.Fatalf("ATProtoErr = %v, want *records.AmbiguousError", res.ATProtoErr)
	}
	if ae.Key != "did" || len(ae.Values) != 2 {
		t.Errorf("AmbiguousError = %+v, want two did values", ae)
	}
	if res.ATProto.DID != "" {
		t.Errorf("DID = %q, want none picked", res.ATProto.DID)
	}

	// The cached path must report the same error.
	res, err = r.Resolve(testContext(t), "twodid.test")
	if err != nil || !res.FromCache || !errors.As(res.ATProtoErr, &ae) {
		t.Errorf("cached Resolve = %+v, %v, want FromCache with the ambiguity", res, err)
	}
}

func TestResolveADTrust(t *testing.T) {
	t.Parallel()
	w := testWorld(t)

	cases := []struct {
		name    string
		ad      bool
		trusted []string
		want    Status
	}{
		{"AD from loopback trusted by default", true, nil, Secure},
		{"no AD from trusted upstream", false, nil, Insecure},
		{"AD from untrusted upstream", true, []string{}, Indeterminate},
		{"no AD from untrusted upstream", false, []string{}, Indeterminate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := w.start(t)
			if tc.ad {
				setAD(srv)
			}
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Trusted: tc.trusted, Policy: AcceptInsecure})
			res, err := r.Resolve(testContext(t), "alice.test")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.TLSAInfo.Status != tc.want || res.ATProtoInfo.Status != tc.want {
				t.Errorf("statuses = %v/%v, want %v (%s)", res.TLSAInfo.Status, res.ATProtoInfo.Status, tc.want, res.TLSAInfo.Reason)
			}
		})
	}
}

func TestResolveCNAME(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})

	res, err := r.Resolve(testContext(t), "cname.test")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if len(res.TLSA) != 2 || res.ATProto.DID != didAlice {
		t.Errorf("records through CNAME = %d TLSA, DID %q", len(res.TLSA), res.ATProto.DID)
	}
	if len(res.TLSAInfo.CNAMEs) != 1 || res.TLSAInfo.CNAMEs[0] != "alice.test." {
		t.Errorf("TLSA CNAMEs = %v, want [alice.test.]", res.TLSAInfo.CNAMEs)
	}
	if res.ATProtoInfo.TTL != 120 {
		t.Errorf("TXT TTL = %d, want the CNAME's 120", res.ATProtoInfo.TTL)
	}
	if res.TLSAInfo.Status != Secure {
		t.Errorf("TLSA status = %v (%s), want secure", res.TLSAInfo.Status, res.TLSAInfo.Reason)
	}
}

func TestResolveCNAMELimits(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Policy: AcceptInsecure})

	for _, name := range []string{"loop1.test", "chain0.test"} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Resolve(testContext(t), handle.Handle(name))
			var le *LookupError
			if !errors.As(err, &le) || le.Kind != KindCNAME {
				t.Fatalf("Resolve error = %v, want LookupError of kind cname", err)
			}
			if le.Name != name+"." || le.Type != dns.TypeTLSA || len(le.CNAMEs) == 0 || len(le.CNAMEs) > MaxCNAMEs+1 {
				t.Errorf("LookupError = %+v", le)
			}
		})
	}
}

func TestResolveInvalidHandle(t *testing.T) {
	t.Parallel()
	r := newTestResolver(t, Config{Servers: []string{"127.0.0.1:1"}})
	_, err := r.Resolve(testContext(t), "not a handle")
	var se *handle.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Resolve error = %v, want *handle.SyntaxError", err)
	}
}
