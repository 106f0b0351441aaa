package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// fetchErrors records the calls of CRLFetcher.FetchError.
type fetchErrors struct {
	mu   sync.Mutex
	urls []string
	errs []error
}

func (r *fetchErrors) hook(f *CRLFetcher) {
	f.FetchError = func(url string, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.urls = append(r.urls, url)
		r.errs = append(r.errs, err)
	}
}

func (r *fetchErrors) last() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return "", nil
	}
	return r.urls[len(r.urls)-1], r.errs[len(r.errs)-1]
}

// wantRevoked fails unless err is a revocation-step *Error caused by a
// *RevokedError for the world's phone.
func wantRevoked(t *testing.T, err error, w *crlWorld) {
	t.Helper()
	var verr *Error
	if !errors.As(err, &verr) || verr.Step != StepRevocation {
		t.Fatalf("error = %v, want a failure at the revocation step", err)
	}
	revoked, ok := errors.AsType[*RevokedError](err)
	if !ok {
		t.Fatalf("error = %v, want a *RevokedError", err)
	}
	if want := fmt.Sprintf("%x", w.phone[0].SerialNumber); revoked.Serial != want {
		t.Errorf("revoked serial %s, want %s", revoked.Serial, want)
	}
}

// wantUnavailable fails unless err is a revocation-step *Error caused by
// a *CRLUnavailableError for the world's CRL URL, and returns that error.
func wantUnavailable(t *testing.T, err error, w *crlWorld) *CRLUnavailableError {
	t.Helper()
	var verr *Error
	if !errors.As(err, &verr) || verr.Step != StepRevocation {
		t.Fatalf("error = %v, want a failure at the revocation step", err)
	}
	unavailable, ok := errors.AsType[*CRLUnavailableError](err)
	if !ok {
		t.Fatalf("error = %v, want a *CRLUnavailableError", err)
	}
	if unavailable.URL != w.crlURL {
		t.Errorf("error names URL %q, want %q", unavailable.URL, w.crlURL)
	}
	if !strings.Contains(err.Error(), w.crlURL) {
		t.Errorf("message %q does not name the URL", err)
	}
	return unavailable
}

func TestCRLFetcherCachesFreshCRL(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	now := w.clock.Now()
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, now.Add(-time.Minute), time.Hour))
	v := w.verifier(w.fetcher())

	for i := range 3 {
		if err := w.verify(t, v, w.laptop); err != nil {
			t.Fatalf("verification %d: %v", i+1, err)
		}
	}
	if n := w.dp.requestCount(); n != 1 {
		t.Errorf("distribution point got %d requests for 3 verifications, want 1", n)
	}
}

func TestCRLFetcherRejectsRevokedSerial(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	now := w.clock.Now()
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, now.Add(-time.Minute), time.Hour, w.phone))
	v := w.verifier(w.fetcher())

	wantRevoked(t, w.verify(t, v, w.phone), w)
	if err := w.verify(t, v, w.laptop); err != nil {
		t.Errorf("laptop, not on the CRL: %v", err)
	}
}

func TestCRLFetcherFollowsRedirect(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	now := w.clock.Now()
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, now.Add(-time.Minute), time.Hour))

	if err := w.verify(t, w.verifier(w.fetcher()), w.moved); err != nil {
		t.Errorf("device whose distribution point redirects: %v", err)
	}
}

func TestCRLFetcherStaleCRL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		grace time.Duration
		// advance is added to the CRL's NextUpdate.
		advance  time.Duration
		accepted bool
	}{
		{"due for refresh before NextUpdate", 0, -time.Minute, true},
		{"within grace", 5 * time.Minute, 2 * time.Minute, true},
		{"at the end of grace", 5 * time.Minute, 5 * time.Minute, true},
		{"past grace", 5 * time.Minute, 5*time.Minute + time.Second, false},
		{"past NextUpdate without grace", 0, time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newCRLWorld(t)
			start := w.clock.Now()
			nextUpdate := start.Add(time.Hour)
			w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, start, time.Hour, w.phone))
			var hook fetchErrors
			v := w.verifier(w.fetcher(hook.hook, func(f *CRLFetcher) { f.Grace = tc.grace }))
			if err := w.verify(t, v, w.laptop); err != nil {
				t.Fatalf("with a fresh CRL: %v", err)
			}

			w.dp.set(http.StatusServiceUnavailable, []byte("down for maintenance"))
			w.clock.Advance(nextUpdate.Sub(start) + tc.advance)
			err := w.verify(t, v, w.laptop)

			if n := w.dp.requestCount(); n != 2 {
				t.Errorf("distribution point got %d requests, want 2 (the refetch)", n)
			}
			url, fetchErr := hook.last()
			if _, ok := errors.AsType[*CRLStatusError](fetchErr); !ok || url != w.crlURL {
				t.Errorf("FetchError got (%q, %v), want the URL and a *CRLStatusError", url, fetchErr)
			}
			if tc.accepted {
				if err != nil {
					t.Fatalf("laptop with the kept CRL: %v", err)
				}
				// Only the CRL's age is forgiven: its entries still count.
				wantRevoked(t, w.verify(t, v, w.phone), w)
				return
			}
			unavailable := wantUnavailable(t, err, w)
			if !unavailable.NextUpdate.Equal(nextUpdate) {
				t.Errorf("error gives NextUpdate %s, want %s", unavailable.NextUpdate, nextUpdate)
			}
			if status, ok := errors.AsType[*CRLStatusError](err); !ok || status.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("cause %v, want a *CRLStatusError with 503", err)
			}
		})
	}
}

func TestCRLFetcherRejectsUnusableCRL(t *testing.T) {
	t.Parallel()
	type testCase struct {
		name  string
		body  func(t *testing.T, w *crlWorld) []byte
		cause func(error) bool
	}
	// signedBy returns a CRL signed by a new CSC for the handle h.
	signedBy := func(h handle.Handle) func(t *testing.T, w *crlWorld) []byte {
		return func(t *testing.T, w *crlWorld) []byte {
			csc, err := pki.NewCSC(nil, h, pki.CSCOptions{Now: w.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			return w.crl(t, csc, 1, w.clock.Now(), time.Hour)
		}
	}
	cases := []testCase{
		{"issued by another CSC", signedBy("bob.dhp.test"), is[*pki.CRLError]()},
		{"same name, other key", signedBy("alice.dhp.test"), is[*pki.CRLSignatureError]()},
		{"expired", func(t *testing.T, w *crlWorld) []byte {
			return w.crl(t, w.csc, 1, w.clock.Now().Add(-2*time.Hour), time.Hour)
		}, is[*pki.CRLValidityError]()},
		{"not a CRL", func(*testing.T, *crlWorld) []byte { return []byte("<html>not found</html>") }, is[*pki.CRLError]()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newCRLWorld(t)
			w.dp.set(http.StatusOK, tc.body(t, w))

			err := w.verify(t, w.verifier(w.fetcher()), w.laptop)
			unavailable := wantUnavailable(t, err, w)
			if !tc.cause(err) {
				t.Errorf("cause of %v is not the expected type", err)
			}
			if !unavailable.NextUpdate.IsZero() {
				t.Errorf("NextUpdate %s, want zero: no CRL was kept", unavailable.NextUpdate)
			}
			if !strings.Contains(err.Error(), "does not serve a current CRL signed by this CSC") {
				t.Errorf("message %q lacks the advice for a bad CRL", err)
			}
		})
	}
}

func TestCRLFetcherKeepsCRLOverWrongIssuer(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	now := w.clock.Now()
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, now, 2*time.Hour, w.phone))
	var hook fetchErrors
	v := w.verifier(w.fetcher(hook.hook))
	wantRevoked(t, w.verify(t, v, w.phone), w)

	// An impostor's CRL that lists nothing must not replace the CRL that
	// lists the phone.
	impostor, err := pki.NewCSC(nil, w.h, pki.CSCOptions{Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.dp.set(http.StatusOK, w.crl(t, impostor, 2, now, 2*time.Hour))
	w.clock.Advance(DefaultCRLRefreshInterval)

	wantRevoked(t, w.verify(t, v, w.phone), w)
	if _, fetchErr := hook.last(); !is[*pki.CRLSignatureError]()(fetchErr) {
		t.Errorf("FetchError got %v, want a *pki.CRLSignatureError", fetchErr)
	}
}

func TestCRLFetcherKeepsNewerCRL(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	now := w.clock.Now()
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 2, now, 2*time.Hour, w.phone))
	var hook fetchErrors
	v := w.verifier(w.fetcher(hook.hook))
	wantRevoked(t, w.verify(t, v, w.phone), w)

	// A replay of an older CRL, from before the phone was revoked.
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, now.Add(-time.Minute), 2*time.Hour))
	w.clock.Advance(DefaultCRLRefreshInterval)

	wantRevoked(t, w.verify(t, v, w.phone), w)
	_, fetchErr := hook.last()
	rollback, ok := errors.AsType[*CRLRollbackError](fetchErr)
	if !ok {
		t.Fatalf("FetchError got %v, want a *CRLRollbackError", fetchErr)
	}
	if rollback.Number.Int64() != 1 || rollback.PreviousNumber.Int64() != 2 {
		t.Errorf("rollback numbers %s after %s, want 1 after 2", rollback.Number, rollback.PreviousNumber)
	}
}

func TestCRLFetcherRejectsOversizeBody(t *testing.T) {
	t.Parallel()
	for _, chunked := range []bool{false, true} {
		name := "declared length"
		if chunked {
			name = "chunked"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newCRLWorld(t)
			der := w.crl(t, w.csc, 1, w.clock.Now(), time.Hour)
			w.dp.set(http.StatusOK, der)
			w.dp.setChunked(chunked)
			limit := int64(len(der) - 1)

			err := w.verify(t, w.verifier(w.fetcher(func(f *CRLFetcher) { f.MaxBytes = limit })), w.laptop)
			wantUnavailable(t, err, w)
			tooLarge, ok := errors.AsType[*CRLTooLargeError](err)
			if !ok {
				t.Fatalf("error = %v, want a *CRLTooLargeError", err)
			}
			if tooLarge.Limit != limit {
				t.Errorf("limit %d, want %d", tooLarge.Limit, limit)
			}

			// The same body within the limit passes.
			err = w.verify(t, w.verifier(w.fetcher(func(f *CRLFetcher) { f.MaxBytes = int64(len(der)) })), w.laptop)
			if err != nil {
				t.Errorf("body of exactly MaxBytes: %v", err)
			}
		})
	}
}

func TestCRLFetcherWithoutDistributionPoint(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, w.clock.Now(), time.Hour))

	t.Run("refused by default", func(t *testing.T) {
		for name, chain := range map[string][]*x509.Certificate{"none": w.noDP, "ldap only": w.ldap} {
			err := w.verify(t, w.verifier(w.fetcher()), chain)
			missing, ok := errors.AsType[*MissingDistributionPointError](err)
			if !ok {
				t.Fatalf("%s: error = %v, want a *MissingDistributionPointError", name, err)
			}
			if missing.Serial != chain[0].SerialNumber.Text(16) {
				t.Errorf("%s: serial %s, want the leaf's", name, missing.Serial)
			}
			if name == "ldap only" && (len(missing.Unsupported) != 1 || !strings.HasPrefix(missing.Unsupported[0], "ldap://")) {
				t.Errorf("unsupported points %q, want the ldap URL", missing.Unsupported)
			}
		}
	})
	t.Run("skipped when allowed", func(t *testing.T) {
		allow := w.fetcher(func(f *CRLFetcher) { f.AllowMissingDistributionPoint = true })
		if err := w.verify(t, w.verifier(allow), w.noDP); err != nil {
			t.Errorf("leaf without a distribution point: %v", err)
		}
	})
	if n := w.dp.requestCount(); n != 0 {
		t.Errorf("distribution point got %d requests, want none", n)
	}
}

func TestCRLFetcherSingleFetchForConcurrentLogins(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, w.clock.Now(), time.Hour))
	release := make(chan struct{})
	w.dp.setBlock(release)
	f := w.fetcher()
	v := w.verifier(f)

	const logins = 16
	errs := make(chan error, logins)
	for range logins {
		go func() {
			_, err := v.VerifyChain(context.Background(), w.laptop)
			errs <- err
		}()
	}

	// Hold the one fetch until every login waits for it.
	deadline := time.Now().Add(10 * time.Second)
	for waiters := 0; waiters < logins; {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("%d of %d logins wait for the fetch after 10 s; want all of them to join one fetch (requests so far: %d)", waiters, logins, w.dp.requestCount())
		}
		time.Sleep(time.Millisecond)
		waiters = f.waiting()
	}
	close(release)

	for range logins {
		if err := <-errs; err != nil {
			t.Errorf("login: %v", err)
		}
	}
	if n := w.dp.requestCount(); n != 1 {
		t.Errorf("distribution point got %d requests for %d concurrent logins, want 1", n, logins)
	}
}

// waiting returns the number of verifications waiting for a fetch.
func (f *CRLFetcher) waiting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.entries {
		if e.call != nil {
			n += e.call.waiters
		}
	}
	return n
}

func TestCRLFetcherPicksUpNewRevocation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		cacheControl string
		refresh      time.Duration
		// kept is a time at which the first CRL is still served, due
		// the time at which the second must be fetched.
		kept, due time.Duration
	}{
		{"in the last tenth of its validity", "", 0, 53 * time.Minute, 55 * time.Minute},
		{"after NextUpdate", "", 0, 50 * time.Minute, time.Hour + time.Second},
		{"after Cache-Control max-age", "max-age=60", 0, 59 * time.Second, time.Minute},
		{"after RefreshInterval", "", 5 * time.Minute, 4 * time.Minute, 5 * time.Minute},
		{"at every login", "", -1, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newCRLWorld(t)
			start := w.clock.Now()
			w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, start, time.Hour))
			w.dp.setCacheControl(tc.cacheControl)
			v := w.verifier(w.fetcher(func(f *CRLFetcher) { f.RefreshInterval = tc.refresh }))
			if err := w.verify(t, v, w.phone); err != nil {
				t.Fatalf("phone before its revocation: %v", err)
			}

			// The provider revokes the phone and publishes a new CRL.
			w.dp.set(http.StatusOK, w.crl(t, w.csc, 2, start, 2*time.Hour, w.phone))
			if tc.kept > 0 {
				w.clock.Advance(tc.kept)
				if err := w.verify(t, v, w.phone); err != nil {
					t.Fatalf("phone with the kept CRL: %v", err)
				}
				if n := w.dp.requestCount(); n != 1 {
					t.Fatalf("distribution point got %d requests before the refresh time, want 1", n)
				}
			}
			w.clock.Advance(tc.due - tc.kept)
			wantRevoked(t, w.verify(t, v, w.phone), w)
			if n := w.dp.requestCount(); n != 2 {
				t.Errorf("distribution point got %d requests, want 2", n)
			}
		})
	}
}

func TestCRLFetcherRetryInterval(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	w.dp.set(http.StatusNotFound, []byte("no CRL for this identity"))
	v := w.verifier(w.fetcher())

	wantUnavailable(t, w.verify(t, v, w.laptop), w)
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, w.clock.Now(), time.Hour))

	// Within the retry interval the failure is returned without a fetch.
	w.clock.Advance(DefaultCRLRetryInterval - time.Second)
	err := w.verify(t, v, w.laptop)
	wantUnavailable(t, err, w)
	if status, ok := errors.AsType[*CRLStatusError](err); !ok || status.StatusCode != http.StatusNotFound {
		t.Errorf("error %v, want the 404 of the first fetch", err)
	}
	if n := w.dp.requestCount(); n != 1 {
		t.Errorf("distribution point got %d requests within the retry interval, want 1", n)
	}

	w.clock.Advance(time.Second)
	if err := w.verify(t, v, w.laptop); err != nil {
		t.Errorf("after the retry interval: %v", err)
	}
}

func TestCRLFetcherCacheBound(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	w.dp.set(http.StatusOK, w.crl(t, w.csc, 1, w.clock.Now(), time.Hour))
	f := w.fetcher(func(f *CRLFetcher) { f.CacheBytes = 1 })
	v := w.verifier(f)

	for i := range 2 {
		if err := w.verify(t, v, w.laptop); err != nil {
			t.Fatalf("verification %d: %v", i+1, err)
		}
	}
	if n := w.dp.requestCount(); n != 2 {
		t.Errorf("distribution point got %d requests with a 1-byte cache, want 2", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) != 0 || f.size != 0 {
		t.Errorf("cache holds %d entries of %d bytes, want none", len(f.entries), f.size)
	}
}

func TestCRLFetcherNeedsLeaf(t *testing.T) {
	t.Parallel()
	w := newCRLWorld(t)
	f := w.fetcher()

	if _, err := f.CRL(context.Background(), w.csc.Certificate); !is[*ConfigError]()(err) {
		t.Errorf("CRL without the leaf = %v, want a *ConfigError", err)
	}
	if _, err := f.LeafCRL(context.Background(), CRLRequest{CSC: w.csc.Certificate}); !is[*ConfigError]()(err) {
		t.Errorf("LeafCRL without the leaf = %v, want a *ConfigError", err)
	}
}

func TestMaxAge(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		lines []string
		want  time.Duration
	}{
		{"no header", nil, -1},
		{"plain", []string{"max-age=60"}, time.Minute},
		{"among others", []string{"public, max-age=60, must-revalidate"}, time.Minute},
		{"upper case", []string{"MAX-AGE=60"}, time.Minute},
		{"quoted", []string{`max-age="60"`}, time.Minute},
		{"zero", []string{"max-age=0"}, 0},
		{"smallest of two", []string{"max-age=60, max-age=30"}, 30 * time.Second},
		{"two lines", []string{"max-age=60", "max-age=90"}, time.Minute},
		{"not a number", []string{"max-age=soon"}, -1},
		{"negative", []string{"max-age=-5"}, -1},
		{"no value", []string{"max-age"}, -1},
		{"other directive", []string{"no-cache"}, -1},
		{"s-maxage ignored", []string{"s-maxage=60"}, -1},
		{"overflow", []string{"max-age=99999999999999999999999"}, time.Duration(math.MaxInt64)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := maxAge(tc.lines); got != tc.want {
				t.Errorf("maxAge(%q) = %s, want %s", tc.lines, got, tc.want)
			}
		})
	}
}
