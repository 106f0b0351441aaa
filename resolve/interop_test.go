//go:build interop

package resolve_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/internal/interop"
	"github.com/dnshandle/dnshandle/resolve"
)

const interopDID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

// interopZones builds . -> test. -> dhp.test. with the records of
// alice.dhp.test, signed with NSEC or NSEC3, and with alice's TLSA data
// changed after signing when tamper is set.
func interopZones(t *testing.T, nsec3, tamper bool) []*dnstest.Zone {
	t.Helper()
	root := dnstest.MustZone(t, ".")
	tld := dnstest.MustZone(t, "test.")
	dhp := dnstest.MustZone(t, "dhp.test.",
		"alice.dhp.test. 300 IN TLSA 2 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		`_atproto.alice.dhp.test. 300 IN TXT "did=`+interopDID+`"`)
	if err := dnstest.SignChain(dnstest.SignOptions{NSEC3: nsec3}, root, tld, dhp); err != nil {
		t.Fatal(err)
	}
	if tamper {
		err := dhp.Tamper("alice.dhp.test.", dns.TypeTLSA, func(rr dns.RR) {
			rr.(*dns.TLSA).Certificate = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return []*dnstest.Zone{root, tld, dhp}
}

// TestInteropUnboundKnot runs the resolver against unbound (validating,
// with the test root as its trust anchor) in front of knotd serving the
// signed zones, in both DNSSEC modes: trusting unbound's AD bit, and
// validating locally from the same anchor.
func TestInteropUnboundKnot(t *testing.T) {
	alice := handle.Handle("alice.dhp.test")
	for _, nsec3 := range []bool{false, true} {
		denial := "NSEC"
		if nsec3 {
			denial = "NSEC3"
		}
		t.Run(denial+"/good", func(t *testing.T) {
			zones := interopZones(t, nsec3, false)
			knot := interop.StartKnot(t, zones...)
			unbound := interop.StartUnbound(t, knot.Addr, zones[0])

			for mode, cfg := range modes(unbound.Addr, zones[0]) {
				r, err := resolve.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				res, err := r.Resolve(interopContext(t), alice)
				if err != nil {
					t.Fatalf("%s: Resolve: %v", mode, err)
				}
				if res.TLSAInfo.Status != resolve.Secure || res.ATProtoInfo.Status != resolve.Secure {
					t.Errorf("%s: statuses TLSA %s (%s), TXT %s (%s); want secure", mode,
						res.TLSAInfo.Status, res.TLSAInfo.Reason, res.ATProtoInfo.Status, res.ATProtoInfo.Reason)
				}
				if len(res.TLSA) != 1 || res.ATProto.DID != interopDID {
					t.Errorf("%s: got %d TLSA records and did=%q", mode, len(res.TLSA), res.ATProto.DID)
				}

				missing, err := r.Resolve(interopContext(t), handle.Handle("bob.dhp.test"))
				if err != nil {
					t.Fatalf("%s: Resolve of a missing handle: %v", mode, err)
				}
				if !missing.TLSAInfo.NXDomain || missing.TLSAInfo.Status != resolve.Secure {
					t.Errorf("%s: bob.dhp.test: NXDOMAIN %v, status %s (%s); want a secure NXDOMAIN", mode,
						missing.TLSAInfo.NXDomain, missing.TLSAInfo.Status, missing.TLSAInfo.Reason)
				}
			}
		})
		t.Run(denial+"/tampered", func(t *testing.T) {
			zones := interopZones(t, nsec3, true)
			knot := interop.StartKnot(t, zones...)
			unbound := interop.StartUnbound(t, knot.Addr, zones[0])

			for mode, cfg := range modes(unbound.Addr, zones[0]) {
				r, err := resolve.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				res, err := r.Resolve(interopContext(t), alice)
				var bogus *resolve.BogusError
				if !errors.As(err, &bogus) {
					t.Fatalf("%s: Resolve = %v; want *resolve.BogusError", mode, err)
				}
				if res != nil && len(res.TLSA) != 0 {
					t.Errorf("%s: tampered TLSA records were returned: %v", mode, res.TLSA)
				}
			}
		})
	}
}

// modes returns the two resolver configurations: AD trust in a loopback
// validating resolver, and local validation from the root's DS.
func modes(upstream string, root *dnstest.Zone) map[string]resolve.Config {
	return map[string]resolve.Config{
		"AD from unbound": {
			Servers: []string{upstream},
			Cache:   resolve.CacheConfig{Disabled: true},
		},
		"local validation": {
			Servers:      []string{upstream},
			TrustAnchors: root.DS(),
			Cache:        resolve.CacheConfig{Disabled: true},
		},
	}
}

func interopContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
