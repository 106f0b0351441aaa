package acme_test

import (
	"crypto/rand"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acme/acmetest"
)

// BenchmarkIssuance measures issuance by acmetest.Clients concurrent
// golang.org/x/crypto/acme clients against the server on the memory
// backend, with Debian's pebble driven by the same clients as the
// baseline (see acmetest.BenchmarkIssuance).
func BenchmarkIssuance(b *testing.B) {
	const alice = handle.Handle("alice.dhp.test")
	const identity = "identity-alice"
	csc, err := pki.NewCSC(rand.Reader, alice, pki.CSCOptions{})
	if err != nil {
		b.Fatal(err)
	}
	backend := acme.NewMemoryBackend()
	backend.AddIssuer(&acme.Issuer{IdentityID: identity, CSC: csc})
	srv, hc := acmetest.Serve(b, acme.Config{Backend: backend})
	acmetest.BenchmarkIssuance(b, acmetest.Target{Server: srv, HTTPClient: hc, IdentityID: identity, Name: alice.String()})
}
