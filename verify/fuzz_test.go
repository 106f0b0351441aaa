package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

// FuzzVerifyChain feeds certificate bytes from outside to VerifyChain: the
// DER of a leaf and of a second certificate. It must never panic, every
// error must be a *Error, and an Identity may come only from a leaf whose
// signed part is one that a world identity's key holder made.
func FuzzVerifyChain(f *testing.F) {
	w := newWorld(f)
	v := w.verifier(func(v *Verifier) {
		// Only names in the test zone reach DNS, where the resolver's
		// cache answers repeats.
		v.Policy.Allow = []string{"dhp.test"}
		v.Timeout = 2 * time.Second
	})

	genuine := map[string]bool{}
	for _, leaf := range []*x509.Certificate{w.alice.leaf, w.bob.leaf, w.edward.leaf, w.eeP256.leaf, w.eeEd25519.leaf, w.plc.leaf} {
		genuine[string(leaf.RawTBSCertificate)] = true
	}

	f.Add(w.alice.leaf.Raw, w.alice.csc.Certificate.Raw)
	f.Add(w.edward.leaf.Raw, w.edward.csc.Certificate.Raw)
	f.Add(w.eeP256.leaf.Raw, []byte(nil))
	f.Add(w.alice.leaf.Raw, w.bob.csc.Certificate.Raw)
	f.Add(w.dm.leaf.Raw, w.dm.csc.Certificate.Raw)
	f.Add(w.alice.leaf.Raw[:len(w.alice.leaf.Raw)/2], w.alice.csc.Certificate.Raw)

	f.Fuzz(func(t *testing.T, leafDER, secondDER []byte) {
		leaf, err := x509.ParseCertificate(leafDER)
		if err != nil {
			return
		}
		chain := []*x509.Certificate{leaf}
		if second, err := x509.ParseCertificate(secondDER); err == nil {
			chain = append(chain, second)
		}

		id, err := v.VerifyChain(context.Background(), chain)
		if err != nil {
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Fatalf("error %v (%T) is not a *verify.Error", err, err)
			}
			if id != nil {
				t.Fatal("VerifyChain returned both an Identity and an error")
			}
			return
		}
		if id == nil {
			t.Fatal("VerifyChain returned neither an Identity nor an error")
		}
		if !genuine[string(leaf.RawTBSCertificate)] {
			t.Fatalf("Identity %+v for a leaf that no identity issued", *id)
		}
		if string(id.Handle) != leaf.DNSNames[0] || !bytes.Contains(leafDER, []byte(id.Handle)) {
			t.Fatalf("Identity handle %q is not the leaf's dNSName", id.Handle)
		}
	})
}
