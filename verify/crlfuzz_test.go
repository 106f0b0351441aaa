package verify

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// FuzzCRLResponse feeds a body and a Cache-Control value, as a
// distribution point sends them, through the fetcher's handling of a
// response: size and max-age reading, then the checks against the CSC
// and the CRL kept before. It must never panic, a body over the limit
// never passes, max-age is -1 or not negative, and a CRL that passes is
// signed by the CSC and not older than the kept one.
func FuzzCRLResponse(f *testing.F) {
	const limit = 4096
	now := time.Now()
	csc, err := pki.NewCSC(nil, "alice.dhp.test", pki.CSCOptions{})
	if err != nil {
		f.Fatal(err)
	}
	newCRL := func(number int64) []byte {
		der, err := pki.CreateCRL(nil, csc, []pki.RevokedCert{{Serial: big.NewInt(42), RevokedAt: now}}, big.NewInt(number), now.Add(-time.Minute), now.Add(time.Hour))
		if err != nil {
			f.Fatal(err)
		}
		return der
	}
	previous, err := pki.ParseCRL(newCRL(5))
	if err != nil {
		f.Fatal(err)
	}

	f.Add(newCRL(6), "max-age=60")
	f.Add(newCRL(4), "")
	f.Add(newCRL(6)[:100], "public, max-age=\"300\"")

	f.Fuzz(func(t *testing.T, body []byte, cacheControl string) {
		resp := &http.Response{
			StatusCode:    http.StatusOK,
			ContentLength: -1,
			Header:        http.Header{"Cache-Control": {cacheControl}},
			Body:          io.NopCloser(bytes.NewReader(body)),
		}
		der, age, err := readCRLResponse(resp, "https://dhp.test/crl/alice", limit)
		if len(body) > limit {
			if _, ok := errors.AsType[*CRLTooLargeError](err); !ok {
				t.Fatalf("body of %d bytes over the limit %d: error %v, want *CRLTooLargeError", len(body), limit, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("body within the limit: %v", err)
		}
		if age < -1 {
			t.Fatalf("max-age %s from %q is negative", age, cacheControl)
		}

		crl, err := checkFetchedCRL(der, csc.Certificate, previous, now)
		if err != nil {
			return
		}
		if err := crl.CheckSignatureFrom(csc.Certificate); err != nil {
			t.Fatalf("a CRL passed whose signature does not verify: %v", err)
		}
		if crl.Number != nil && crl.Number.Cmp(previous.Number) < 0 {
			t.Fatalf("a CRL numbered %v passed after number %s", crl.Number, previous.Number)
		}
	})
}
