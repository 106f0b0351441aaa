package verify

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// download fetches rawURL and returns the body, at most MaxBytes, and the
// response's Cache-Control max-age (negative when it has none).
func (f *CRLFetcher) download(ctx context.Context, rawURL string) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, -1, err
	}
	// RFC 2585 registers the media type of a DER CRL.
	req.Header.Set("Accept", "application/pkix-crl")

	resp, err := f.client().Do(req)
	if err != nil {
		return nil, -1, err
	}
	defer resp.Body.Close()
	return readCRLResponse(resp, rawURL, f.maxBytes())
}

// readCRLResponse checks the status and the size of a CRL response and
// returns its body and Cache-Control max-age (negative when it has none).
// It does not parse the body.
func readCRLResponse(resp *http.Response, rawURL string, limit int64) ([]byte, time.Duration, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, -1, &CRLStatusError{URL: rawURL, StatusCode: resp.StatusCode}
	}
	if resp.ContentLength > limit {
		return nil, -1, &CRLTooLargeError{URL: rawURL, Limit: limit}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, -1, fmt.Errorf("reading the CRL from %s: %w", rawURL, err)
	}
	if int64(len(body)) > limit {
		return nil, -1, &CRLTooLargeError{URL: rawURL, Limit: limit}
	}
	return body, maxAge(resp.Header.Values("Cache-Control")), nil
}

// maxAge returns the smallest max-age directive of the Cache-Control
// header lines (RFC 9111, section 5.2.2.1), or -1 when there is none.
// A value too large to represent counts as the largest duration, and a
// value that is not a number is ignored.
func maxAge(lines []string) time.Duration {
	age := time.Duration(-1)
	for _, line := range lines {
		for directive := range strings.SplitSeq(line, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(directive), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "max-age") {
				continue
			}
			seconds, ok := deltaSeconds(strings.Trim(strings.TrimSpace(value), `"`))
			if !ok {
				continue
			}
			if d := secondsDuration(seconds); age < 0 || d < age {
				age = d
			}
		}
	}
	return age
}

// deltaSeconds parses a non-negative decimal number of seconds (RFC 9111,
// section 1.2.2). A number too large for uint64 is returned as
// math.MaxUint64.
func deltaSeconds(s string) (uint64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Only digits remain, so the error is an overflow.
		return math.MaxUint64, true
	}
	return n, true
}

// secondsDuration converts seconds to a Duration, saturating at the
// largest Duration.
func secondsDuration(seconds uint64) time.Duration {
	if seconds > uint64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(seconds) * time.Second
}

// client returns a copy of Client (or http.DefaultClient) that follows
// redirects only to http and https URLs, at most maxCRLRedirects times.
func (f *CRLFetcher) client() *http.Client {
	base := f.Client
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxCRLRedirects {
			return fmt.Errorf("stopped after %d redirects", maxCRLRedirects)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s rejected: CRLs are fetched over http and https only", req.URL.Redacted())
		}
		if base.CheckRedirect != nil {
			return base.CheckRedirect(req, via)
		}
		return nil
	}
	return &c
}

func (f *CRLFetcher) maxBytes() int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return DefaultCRLMaxBytes
}
