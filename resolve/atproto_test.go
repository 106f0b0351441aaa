package resolve

import (
	"errors"
	"testing"
)

// A bogus TLSA RRset fails Resolve but not ResolveATProto, which reads the
// secure TXT RRset beside it.
func TestResolveATProtoSkipsTLSA(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})
	ctx := testContext(t)

	if _, err := r.Resolve(ctx, "dave.bad.test"); err == nil {
		t.Fatal("Resolve of dave.bad.test succeeded, want the bogus TLSA RRset to fail it")
	}
	res, err := r.ResolveATProto(ctx, "dave.bad.test")
	if err != nil {
		t.Fatalf("ResolveATProto: %v", err)
	}
	if res.ATProto.DID != didAlice {
		t.Errorf("DID = %q, want %q", res.ATProto.DID, didAlice)
	}
	if res.ATProtoInfo.Status != Secure {
		t.Errorf("TXT status = %v, want secure", res.ATProtoInfo.Status)
	}
	if res.TLSA != nil || res.TLSAInfo.Status != 0 {
		t.Errorf("TLSA = %v with status %v, want no TLSA data", res.TLSA, res.TLSAInfo.Status)
	}
	if res.TLSAInfo.Name != "dave.bad.test." {
		t.Errorf("TLSAInfo.Name = %q", res.TLSAInfo.Name)
	}
}

// The second ResolveATProto is served from the cache, and Resolve then
// needs only the TLSA lookup.
func TestResolveATProtoCache(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})
	ctx := testContext(t)

	first, err := r.ResolveATProto(ctx, "alice.test")
	if err != nil {
		t.Fatalf("ResolveATProto: %v", err)
	}
	if first.FromCache {
		t.Error("first ResolveATProto reports FromCache")
	}
	second, err := r.ResolveATProto(ctx, "alice.test")
	if err != nil {
		t.Fatalf("second ResolveATProto: %v", err)
	}
	if !second.FromCache {
		t.Error("second ResolveATProto was not served from the cache")
	}
	if second.ATProto.OAuth != "https://idp.test" {
		t.Errorf("OAuth = %q", second.ATProto.OAuth)
	}
	full, err := r.Resolve(ctx, "alice.test")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if full.FromCache {
		t.Error("Resolve after ResolveATProto reports FromCache, want a TLSA lookup")
	}
	if len(full.TLSA) != 2 {
		t.Errorf("Resolve after ResolveATProto found %d TLSA records, want 2", len(full.TLSA))
	}
}

// Policy errors of the TXT RRset still fail ResolveATProto.
func TestResolveATProtoErrors(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})
	ctx := testContext(t)

	_, err := r.ResolveATProto(ctx, "erin.expired.test")
	var be *BogusError
	if !errors.As(err, &be) {
		t.Errorf("expired signatures: %v, want *BogusError", err)
	}
	_, err = r.ResolveATProto(ctx, "bob.unsigned.test")
	var ie *InsecureError
	if !errors.As(err, &ie) {
		t.Errorf("insecure under RequireSecure: %v, want *InsecureError", err)
	}
	if _, err := r.ResolveATProto(ctx, "-bad-.test"); err == nil {
		t.Error("invalid handle accepted")
	}
}
