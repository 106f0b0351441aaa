package acmestore_test

import (
	"testing"

	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acme/acmetest"
	"github.com/dnshandle/dnshandle/provider/acmestore"
)

// BenchmarkIssuanceSQLite measures issuance by acmetest.Clients concurrent
// golang.org/x/crypto/acme clients against the server persisting to the
// SQLite store (WAL, synchronous=FULL, in a temporary directory), with
// Debian's pebble driven by the same clients as the baseline (see
// acmetest.BenchmarkIssuance).
func BenchmarkIssuanceSQLite(b *testing.B) {
	p := newSeededStore(b)
	backend, err := acmestore.New(p.st, p.sealer)
	if err != nil {
		b.Fatal(err)
	}
	srv, hc := acmetest.Serve(b, acme.Config{Backend: backend})
	acmetest.BenchmarkIssuance(b, acmetest.Target{Server: srv, HTTPClient: hc, IdentityID: p.identity, Name: alice.String()})
}
