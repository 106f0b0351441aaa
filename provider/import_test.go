package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/resolve"
)

func TestImportIdentitiesPublishesSigned(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	if _, err := svc.CreateIdentity(ctx, "alice", "alice.dhp.test", IdentityOptions{}); err != nil {
		t.Fatal(err)
	}
	var hs []handle.Handle
	for i := range 25 {
		hs = append(hs, handle.Handle(fmt.Sprintf("h%d.dhp.test", i)))
	}
	var calls []int
	result, err := svc.ImportIdentities(ctx, "Alice", hs, IdentityOptions{OAuth: "https://dhp.test"}, func(done int) { calls = append(calls, done) })
	if err != nil {
		t.Fatalf("ImportIdentities: %v", err)
	}
	if result.Identities != len(hs) || len(calls) == 0 || calls[len(calls)-1] != len(hs) {
		t.Fatalf("result %+v, progress %v, want %d identities", result, calls, len(hs))
	}
	serial, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil || result.Serials["dhp.test."] != serial {
		t.Fatalf("serials %v, zone serial %d (%v)", result.Serials, serial, err)
	}

	acct, err := svc.Store.AccountByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := svc.Store.Identities(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1+len(hs) {
		t.Fatalf("%d identities stored, want %d", len(ids), 1+len(hs))
	}
	audit, err := svc.Store.Audit(ctx, 5)
	if err != nil || audit[0].Action != "identity.import" {
		t.Fatalf("newest audit entry %+v (%v), want identity.import", audit, err)
	}

	// Each imported handle resolves, DNSSEC-secure, to its stored DID,
	// and the handle created before the import still does.
	addr := startDNS(t, svc)
	ds, err := svc.Signer.DS(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolve.New(resolve.Config{Servers: []string{addr}, TrustAnchors: []dns.RR{ds[0]}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []handle.Handle{"alice.dhp.test", hs[0], hs[24]} {
		res, err := r.Resolve(ctx, h)
		if err != nil {
			t.Fatalf("Resolve %s: %v", h, err)
		}
		id, err := svc.Store.IdentityByHandle(ctx, h.String())
		if err != nil {
			t.Fatal(err)
		}
		if res.TLSAInfo.Status != resolve.Secure || res.ATProtoInfo.Status != resolve.Secure || res.ATProto.DID != id.DID {
			t.Errorf("%s: TLSA %s, TXT %s, DID %s, want secure and %s", h, res.TLSAInfo.Status, res.ATProtoInfo.Status, res.ATProto.DID, id.DID)
		}
		if _, err := svc.LoadCSC(ctx, h); err != nil {
			t.Errorf("LoadCSC %s: %v", h, err)
		}
	}
}

func TestImportIdentitiesAllOrNothing(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	if _, err := svc.CreateIdentity(ctx, "alice", "taken.dhp.test", IdentityOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		handles []handle.Handle
		want    string
	}{
		{"taken handle", []handle.Handle{"new1.dhp.test", "taken.dhp.test"}, "already taken"},
		{"listed twice", []handle.Handle{"new1.dhp.test", "new1.dhp.test"}, "listed twice"},
		{"own domain", []handle.Handle{"new1.dhp.test", "bob.example.com"}, "not directly under a provider zone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.ImportIdentities(ctx, "alice", tc.handles, IdentityOptions{}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if tc.want != "not directly under a provider zone" && !errors.Is(err, store.ErrConflict) {
				t.Errorf("error %v does not wrap store.ErrConflict", err)
			}
			if _, err := svc.Store.IdentityByHandle(ctx, "new1.dhp.test"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("new1 exists after a failed import: %v", err)
			}
		})
	}
	if after, err := svc.Store.ZoneSerial(ctx, "dhp.test."); err != nil || after != before {
		t.Fatalf("serial %d after failed imports, want %d (%v)", after, before, err)
	}
}
