package resolve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

// writeTestSnapshot records handles from a server that is stopped when it
// returns, so later lookups cannot reach it. It returns the file and the
// server's address.
func writeTestSnapshot(t *testing.T, w *world, clock *fakeClock, handles ...handle.Handle) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	var addr string
	t.Run("record", func(t *testing.T) {
		srv := w.start(t)
		addr = srv.Addr
		r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors, Now: clock.Now})
		if err := r.WriteSnapshot(testContext(t), &buf, handles); err != nil {
			t.Fatalf("WriteSnapshot: %v", err)
		}
	})
	if buf.Len() == 0 {
		t.FailNow()
	}
	return buf.Bytes(), addr
}

func TestSnapshotOffline(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	clock := newFakeClock()
	data, addr := writeTestSnapshot(t, w, clock, "alice.test", "nobody.nsec3.test", "bob.unsigned.test")

	// The server is gone: a network resolver for its address fails.
	online := newTestResolver(t, Config{Servers: []string{addr}, Timeout: 500 * time.Millisecond})
	if _, err := online.Resolve(context.Background(), "alice.test"); err == nil {
		t.Fatal("the recording server still answers")
	}

	off, err := NewOffline(Config{TrustAnchors: w.anchors, Now: clock.Now}, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("NewOffline: %v", err)
	}
	ctx := testContext(t)

	t.Run("secure answer", func(t *testing.T) {
		res, err := off.Resolve(ctx, "alice.test")
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if len(res.TLSA) != 2 || res.ATProto.DID != didAlice || res.TLSAInfo.Status != Secure {
			t.Errorf("offline result = %d TLSA, DID %q, status %v", len(res.TLSA), res.ATProto.DID, res.TLSAInfo.Status)
		}
		if res.TLSAInfo.Server != snapshotServer {
			t.Errorf("server = %q, want %q", res.TLSAInfo.Server, snapshotServer)
		}
	})
	t.Run("secure denial", func(t *testing.T) {
		res, err := off.Resolve(ctx, "nobody.nsec3.test")
		if err != nil || !res.TLSAInfo.NXDomain || res.TLSAInfo.Status != Secure {
			t.Errorf("offline denial = NXDomain %v status %v err %v", res.TLSAInfo.NXDomain, res.TLSAInfo.Status, err)
		}
	})
	t.Run("insecure answer", func(t *testing.T) {
		_, err := off.Resolve(ctx, "bob.unsigned.test")
		var ie *InsecureError
		if !errors.As(err, &ie) {
			t.Errorf("error = %v, want *InsecureError", err)
		}
	})
	t.Run("handle not recorded", func(t *testing.T) {
		res, err := off.Resolve(ctx, "carol.nsec3.test")
		var le *LookupError
		if !errors.As(err, &le) || le.Kind != KindOffline {
			t.Errorf("error = %v, want LookupError of kind offline", err)
		}
		lines := Diagnose(res, err)
		if len(lines) == 0 || !strings.Contains(lines[0], "the handle is not in it, so write a new snapshot that lists it") {
			t.Errorf("diagnosis = %q, want advice to write a snapshot that lists the handle", lines)
		}
	})
	t.Run("signatures expired by the clock", func(t *testing.T) {
		later := &fakeClock{now: clock.Now().Add(60 * 24 * time.Hour)}
		expired, err := NewOffline(Config{TrustAnchors: w.anchors, Now: later.Now}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		_, err = expired.Resolve(ctx, "alice.test")
		var be *BogusError
		if !errors.As(err, &be) || !strings.Contains(be.Reason, "expired") {
			t.Errorf("error = %v, want *BogusError about expired signatures", err)
		}
	})
	t.Run("no trust anchors", func(t *testing.T) {
		noAnchor, err := NewOffline(Config{Policy: AcceptInsecure, Now: clock.Now}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		res, err := noAnchor.Resolve(ctx, "alice.test")
		if err != nil || res.TLSAInfo.Status != Indeterminate {
			t.Errorf("status = %v err %v, want indeterminate: AD bits in a file prove nothing", res.TLSAInfo.Status, err)
		}
	})
}

func TestSnapshotContents(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	data, _ := writeTestSnapshot(t, w, newFakeClock(), "alice.test")

	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if f.Format != SnapshotFormat || f.Version != SnapshotVersion || len(f.Handles) != 1 {
		t.Errorf("header = %q v%d handles %v", f.Format, f.Version, f.Handles)
	}
	have := map[string]bool{}
	for _, m := range f.Messages {
		have[m.Name+" "+m.Type] = true
	}
	for _, want := range []string{"alice.test. TLSA", "_atproto.alice.test. TXT", ". DNSKEY", "test. DS", "test. DNSKEY"} {
		if !have[want] {
			t.Errorf("snapshot lacks %s; has %v", want, have)
		}
	}
	for _, m := range f.Messages {
		if m.Name == "alice.test." && !strings.Contains(strings.Join(m.Records, "\n"), "RRSIG\tTLSA") {
			t.Errorf("TLSA message lacks its RRSIG: %v", m.Records)
		}
	}
}

func TestReadSnapshotErrors(t *testing.T) {
	t.Parallel()
	valid := func(mutate func(*snapshotFile)) string {
		q := newQuery("alice.test.", dns.TypeTLSA, false)
		q.Response = true
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		f := snapshotFile{Format: SnapshotFormat, Version: SnapshotVersion, Handles: []string{"alice.test"},
			Messages: []snapshotMessage{{Name: "alice.test.", Type: "TLSA", Wire: wire}}}
		mutate(&f)
		out, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	cases := []struct {
		name    string
		input   string
		message int
	}{
		{"not JSON", "{", 0},
		{"other format", valid(func(f *snapshotFile) { f.Format = "zone" }), 0},
		{"future version", valid(func(f *snapshotFile) { f.Version = 2 }), 0},
		{"invalid handle", valid(func(f *snapshotFile) { f.Handles = []string{"-bad-"} }), 0},
		{"unknown type", valid(func(f *snapshotFile) { f.Messages[0].Type = "BOGUS" }), 1},
		{"relative name", valid(func(f *snapshotFile) { f.Messages[0].Name = "alice.test" }), 1},
		{"bad wire", valid(func(f *snapshotFile) { f.Messages[0].Wire = []byte{1, 2, 3} }), 1},
		{"question mismatch", valid(func(f *snapshotFile) { f.Messages[0].Name = "bob.test." }), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadSnapshot(strings.NewReader(tc.input))
			var se *SnapshotError
			if !errors.As(err, &se) || se.Message != tc.message {
				t.Errorf("ReadSnapshot error = %v, want *SnapshotError for message %d", err, tc.message)
			}
		})
	}

	if _, err := ReadSnapshot(strings.NewReader(valid(func(*snapshotFile) {}))); err != nil {
		t.Errorf("valid snapshot rejected: %v", err)
	}
}
