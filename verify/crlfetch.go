package verify

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// Defaults of CRLFetcher, used when the field of the same name is zero.
const (
	// DefaultCRLMaxBytes bounds the body of one CRL response. A CSC
	// signs the devices of one identity, so its CRL lists few entries.
	// At about 40 bytes an entry (an estimate), 1 MiB holds over 20,000.
	DefaultCRLMaxBytes = 1 << 20
	// DefaultCRLRefreshInterval is the longest time a fetched CRL is used
	// before it is fetched again, even when its NextUpdate is later. It
	// bounds how long a relying party keeps accepting a device after its
	// provider revoked it.
	DefaultCRLRefreshInterval = time.Hour
	// DefaultCRLRetryInterval is the time after a failed fetch during
	// which the same URL is not fetched again.
	DefaultCRLRetryInterval = 10 * time.Second
	// DefaultCRLCacheBytes bounds the memory of the cached CRLs.
	DefaultCRLCacheBytes = 32 << 20
)

// maxDistributionPoints is the number of http and https distribution
// points of one leaf that are tried, so that a certificate listing many
// URLs cannot make one login fetch many CRLs.
const maxDistributionPoints = 4

// maxCRLRedirects bounds the redirects followed for one CRL fetch.
const maxCRLRedirects = 5

// entryOverhead is the memory counted for a cache entry besides its URL
// and CRL, an estimate of the map entry, list element and fields.
const entryOverhead = 256

// CRLFetcher is a LeafCRLSource that fetches each CRL over HTTP from the
// leaf's CRL distribution point (RFC 5280, section 4.2.1.13) and keeps it
// per URL and CSC. Set it as Verifier.CRLs. Set the fields before first
// use and do not change or copy the CRLFetcher afterwards. Its methods are
// then safe for concurrent use. The zero value fetches with
// http.DefaultClient and the defaults below.
//
// Only http and https URLs are fetched, and the body must be one DER CRL
// (RFC 5280, section 4.2.1.13). A fetched CRL is kept only when it parses,
// its issuer is the CSC's subject, its signature verifies with the CSC
// key, it is valid now (pki.VerifyCRL), and it is not older than the CRL
// kept before. So a CRL of another issuer fails closed, and a server
// that replays an old CRL cannot undo a revocation.
//
// A kept CRL is served until its refresh time: RefreshInterval after the
// fetch, shortened by the response's Cache-Control max-age, and never
// later than the last tenth of the CRL's validity, so its successor is
// fetched before it expires. The first verification after that time
// fetches again, and concurrent verifications of the same URL and CSC
// wait for that one fetch. When the fetch fails, the kept CRL is still
// served until its NextUpdate plus Grace, and then the verification
// fails with a *CRLUnavailableError.
//
// The distribution point comes from a certificate that a DNS-accredited
// CSC signed, and anyone who holds a domain can make such a CSC. A
// relying party open to every handle thus fetches URLs of the handle
// owners' choice: give Client a transport whose dialer refuses addresses
// the relying party must not reach (net.Dialer.Control).
type CRLFetcher struct {
	// Client sends the requests. Nil means http.DefaultClient. Redirects
	// are followed only to http and https URLs, at most 5 of them, before
	// the client's own CheckRedirect runs. Give a client that trusts the
	// provider's CA when its CRL URLs are https with a private CA.
	Client *http.Client
	// Timeout bounds one fetch, which runs apart from the verification
	// that started it, so that a login that gives up does not cancel it
	// for the others waiting. Zero means DefaultTimeout. The Verifier
	// stops waiting at its own Timeout.
	Timeout time.Duration
	// MaxBytes is the largest CRL body accepted, in bytes. Zero means
	// DefaultCRLMaxBytes.
	MaxBytes int64
	// RefreshInterval is the longest time a CRL is served before the
	// next verification fetches it again. Zero means
	// DefaultCRLRefreshInterval, and a negative value fetches at every
	// verification (a failed fetch still falls back to the kept CRL).
	RefreshInterval time.Duration
	// Grace is how long after its NextUpdate a kept CRL is still served
	// while fetching its successor fails. Zero, the default, serves a CRL
	// no longer than its issuer allowed. A few minutes ride out a short
	// outage of the provider at the wrong moment, at the cost of trusting
	// a CRL its issuer called outdated.
	Grace time.Duration
	// RetryInterval is the time after a failed fetch during which the
	// same URL and CSC are not fetched again: verifications get the kept
	// CRL, or the failure. Zero means DefaultCRLRetryInterval.
	RetryInterval time.Duration
	// CacheBytes bounds the memory of the kept CRLs, counted as their
	// DER size plus their URL and a fixed overhead. The least recently
	// used are dropped first. Zero means DefaultCRLCacheBytes.
	CacheBytes int64
	// AllowMissingDistributionPoint skips the revocation check of a leaf
	// without an http or https CRL distribution point. By default such a
	// leaf fails with a *MissingDistributionPointError: the profile
	// requires a distribution point in every device certificate, so a
	// leaf without one comes from an issuer that gives relying parties
	// no way to learn that it was revoked. Set it when devices come from
	// issuers that publish no CRLs and revocation is handled otherwise,
	// for example by removing the TLSA record.
	AllowMissingDistributionPoint bool
	// Now returns the current time for CRL validity and refresh times.
	// Nil means time.Now. Set it to the same clock as Verifier.Now.
	Now func() time.Time
	// FetchError, when set, is called with the URL and the error of each
	// failed fetch, also when the kept CRL is still served, so that a
	// server can log it before the CRL expires. It is called from the
	// goroutine of the fetch and must be safe for concurrent use.
	FetchError func(url string, err error)

	mu      sync.Mutex
	entries map[crlKey]*crlEntry
	lru     list.List // of *crlEntry, most recently used first
	size    int64
}

// crlKey identifies a cache entry: a distribution point URL and the
// SHA-256 of the CSC that must sign the CRL there.
type crlKey struct {
	url string
	csc [sha256.Size]byte
}

// crlEntry is the cache state of one URL and CSC. Its fields other than
// key and elem are guarded by CRLFetcher.mu.
type crlEntry struct {
	key  crlKey
	elem *list.Element

	// crl and der are the last CRL that passed the checks, nil before.
	crl       *x509.RevocationList
	der       []byte
	refreshAt time.Time

	// failedAt and failure are the last failed fetch, zero after a
	// successful one.
	failedAt time.Time
	failure  error

	// call is the fetch in flight, nil when there is none.
	call *crlCall
}

// crlCall is one fetch that verifications wait for. err is set before
// done is closed.
type crlCall struct {
	done chan struct{}
	err  error
	// waiters counts the verifications that joined the call, guarded by
	// CRLFetcher.mu.
	waiters int
}

// CRL returns a *ConfigError: the fetcher finds the CRL through the
// leaf's distribution points, so it needs LeafCRL, which Verifier calls.
func (f *CRLFetcher) CRL(context.Context, *x509.Certificate) ([]byte, error) {
	return nil, &ConfigError{Field: "CRLs", Reason: "a *CRLFetcher needs the leaf certificate to find its CRL distribution point: call LeafCRL, as Verifier does"}
}

// LeafCRL returns the CRL of req.CSC published at the distribution point
// of req.Leaf, from the cache or fetched now. The distribution points
// are tried in order, and the first that yields a CRL wins. The response
// carries Grace. Errors: *MissingDistributionPointError for a leaf
// without an http or https distribution point (unless
// AllowMissingDistributionPoint, which returns a nil DER instead),
// *CRLUnavailableError (one per URL tried, joined) when no usable CRL is
// at hand, and *ConfigError for a request without a leaf or CSC.
func (f *CRLFetcher) LeafCRL(ctx context.Context, req CRLRequest) (CRLResponse, error) {
	if req.Leaf == nil || req.CSC == nil {
		return CRLResponse{}, &ConfigError{Field: "CRLs", Reason: "LeafCRL needs both the leaf and the CSC"}
	}
	urls, err := f.distributionPoints(req.Leaf)
	if err != nil || len(urls) == 0 {
		return CRLResponse{}, err
	}

	errs := make([]error, 0, len(urls))
	for _, u := range urls {
		resp, err := f.crlAt(ctx, u, req.CSC)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return CRLResponse{}, errs[0]
	}
	return CRLResponse{}, errors.Join(errs...)
}

// distributionPoints returns the first maxDistributionPoints http and
// https distribution points of the leaf. None is an error unless
// AllowMissingDistributionPoint is set.
func (f *CRLFetcher) distributionPoints(leaf *x509.Certificate) ([]string, error) {
	var urls, unsupported []string
	for _, dp := range leaf.CRLDistributionPoints {
		u, err := url.Parse(dp)
		if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			urls = append(urls, dp)
		} else {
			unsupported = append(unsupported, dp)
		}
	}
	if len(urls) > 0 {
		return urls[:min(len(urls), maxDistributionPoints)], nil
	}
	if f.AllowMissingDistributionPoint {
		return nil, nil
	}
	return nil, &MissingDistributionPointError{
		Serial:      leaf.SerialNumber.Text(16),
		Issuer:      leaf.Issuer.String(),
		Unsupported: unsupported,
	}
}

// crlAt returns the CRL of csc at rawURL. Until the refresh time that is
// the kept CRL. After it, this call starts or joins a fetch, and when the
// fetch fails, the kept CRL is the fallback until NextUpdate plus Grace.
func (f *CRLFetcher) crlAt(ctx context.Context, rawURL string, csc *x509.Certificate) (CRLResponse, error) {
	now := f.now()
	f.mu.Lock()
	e := f.entry(crlKey{url: rawURL, csc: sha256.Sum256(csc.Raw)})
	if e.crl != nil && now.Before(e.refreshAt) {
		resp := f.response(e)
		f.mu.Unlock()
		return resp, nil
	}

	call := e.call
	if call == nil {
		if e.failure != nil && now.Sub(e.failedAt) < f.retryInterval() {
			resp, err := f.fallback(e, now, e.failure)
			f.mu.Unlock()
			return resp, err
		}
		call = &crlCall{done: make(chan struct{})}
		e.call = call
		go f.fetch(context.WithoutCancel(ctx), e, call, csc, e.crl)
	}
	call.waiters++
	f.mu.Unlock()

	var err error
	select {
	case <-call.done:
		err = call.err
	case <-ctx.Done():
		err = ctx.Err()
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		return f.response(e), nil
	}
	return f.fallback(e, f.now(), err)
}

// fetch downloads and checks the CRL of e, stores the result in e, and
// then releases the verifications waiting for call.
func (f *CRLFetcher) fetch(ctx context.Context, e *crlEntry, call *crlCall, csc *x509.Certificate, previous *x509.RevocationList) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()

	der, maxAge, err := f.download(ctx, e.key.url)
	now := f.now()
	var crl *x509.RevocationList
	if err == nil {
		crl, err = checkFetchedCRL(der, csc, previous, now)
	}
	if err != nil && f.FetchError != nil {
		f.FetchError(e.key.url, err)
	}

	f.mu.Lock()
	if err != nil {
		e.failedAt, e.failure = now, err
	} else {
		f.size += int64(len(der) - len(e.der))
		e.crl, e.der = crl, der
		e.refreshAt = f.refreshTime(crl, now, maxAge)
		e.failedAt, e.failure = time.Time{}, nil
	}
	call.err = err
	e.call = nil
	f.evict()
	f.mu.Unlock()
	close(call.done)
}

// checkFetchedCRL parses der and checks it against csc at now and
// against the CRL kept before, which it must not be older than.
func checkFetchedCRL(der []byte, csc *x509.Certificate, previous *x509.RevocationList, now time.Time) (*x509.RevocationList, error) {
	crl, err := pki.ParseCRL(der)
	if err != nil {
		return nil, err
	}
	if err := pki.VerifyCRL(crl, csc, now); err != nil {
		return nil, err
	}
	if previous == nil {
		return crl, nil
	}

	// The cRLNumber increases with every CRL of an issuer (RFC 5280,
	// section 5.2.3). Without numbers, thisUpdate orders them.
	older := crl.ThisUpdate.Before(previous.ThisUpdate)
	if crl.Number != nil && previous.Number != nil {
		older = crl.Number.Cmp(previous.Number) < 0
	}
	if older {
		return nil, &CRLRollbackError{
			Number: crl.Number, PreviousNumber: previous.Number,
			ThisUpdate: crl.ThisUpdate, PreviousThisUpdate: previous.ThisUpdate,
		}
	}
	return crl, nil
}

// refreshTime returns when the CRL fetched at fetchedAt is due to be
// fetched again. maxAge is the response's Cache-Control max-age, or
// negative when it had none.
func (f *CRLFetcher) refreshTime(crl *x509.RevocationList, fetchedAt time.Time, maxAge time.Duration) time.Time {
	interval := f.RefreshInterval
	if interval == 0 {
		interval = DefaultCRLRefreshInterval
	}
	interval = max(interval, 0)
	if maxAge >= 0 && maxAge < interval {
		interval = maxAge
	}
	at := fetchedAt.Add(interval)

	// Fetch the successor during the last tenth of the CRL's validity,
	// so that it is at hand before this one expires.
	early := crl.NextUpdate.Add(-crl.NextUpdate.Sub(crl.ThisUpdate) / 10)
	if early.Before(at) {
		at = early
	}
	return at
}

// fallback returns the kept CRL of e while it is within NextUpdate plus
// Grace at now, and otherwise a *CRLUnavailableError with cause. The
// caller holds f.mu.
func (f *CRLFetcher) fallback(e *crlEntry, now time.Time, cause error) (CRLResponse, error) {
	grace := max(f.Grace, 0)
	if e.crl != nil && !now.After(e.crl.NextUpdate.Add(grace)) {
		return f.response(e), nil
	}
	err := &CRLUnavailableError{URL: e.key.url, Err: cause, Grace: grace}
	if e.crl != nil {
		err.NextUpdate = e.crl.NextUpdate
	}
	return CRLResponse{}, err
}

// response returns the kept CRL of e. The caller holds f.mu.
func (f *CRLFetcher) response(e *crlEntry) CRLResponse {
	return CRLResponse{DER: e.der, Grace: max(f.Grace, 0)}
}

// entry returns the cache entry of key, created when missing, and marks
// it as the most recently used. The caller holds f.mu.
func (f *CRLFetcher) entry(key crlKey) *crlEntry {
	if e, ok := f.entries[key]; ok {
		f.lru.MoveToFront(e.elem)
		return e
	}
	if f.entries == nil {
		f.entries = make(map[crlKey]*crlEntry)
	}
	e := &crlEntry{key: key}
	e.elem = f.lru.PushFront(e)
	f.entries[key] = e
	f.size += int64(len(key.url) + entryOverhead)
	return e
}

// evict drops the least recently used entries without a fetch in flight
// until the cache fits CacheBytes. The caller holds f.mu.
func (f *CRLFetcher) evict() {
	limit := f.CacheBytes
	if limit <= 0 {
		limit = DefaultCRLCacheBytes
	}
	for elem := f.lru.Back(); elem != nil && f.size > limit; {
		e := elem.Value.(*crlEntry)
		elem = elem.Prev()
		if e.call != nil {
			continue
		}
		f.lru.Remove(e.elem)
		delete(f.entries, e.key)
		f.size -= int64(len(e.der) + len(e.key.url) + entryOverhead)
	}
}

func (f *CRLFetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *CRLFetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

func (f *CRLFetcher) retryInterval() time.Duration {
	if f.RetryInterval > 0 {
		return f.RetryInterval
	}
	return DefaultCRLRetryInterval
}
