package resolve

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

const (
	// MaxDIDRedirects is the maximum number of redirects DIDOverHTTPS follows.
	MaxDIDRedirects = 3
	// MaxDIDBodySize is the maximum body size DIDOverHTTPS accepts, in
	// bytes. A DID is at most a few hundred bytes (did:web carries a host
	// name of up to 253 bytes and a path), so 2 KiB leaves room for white
	// space without reading large pages.
	MaxDIDBodySize = 2048
	// WellKnownDIDPath is the AT Protocol's HTTPS handle resolution path.
	WellKnownDIDPath = "/.well-known/atproto-did"
)

// HTTPSError reports a failed HTTPS DID lookup.
type HTTPSError struct {
	URL    string // URL requested last
	Status int    // HTTP status code, 0 when no response arrived
	Reason string
	Err    error // cause, such as a transport or DID syntax error
}

// Error names the URL and what failed.
func (e *HTTPSError) Error() string {
	msg := fmt.Sprintf("HTTPS DID lookup %s: %s", e.URL, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *HTTPSError) Unwrap() error { return e.Err }

// errTooManyRedirects is the CheckRedirect error for more than MaxDIDRedirects.
var errTooManyRedirects = fmt.Errorf("stopped after %d redirects", MaxDIDRedirects)

// DIDOverHTTPS fetches https://<h>/.well-known/atproto-did, the AT
// Protocol's HTTPS method for a handle's DID, and returns the DID in the
// body. It follows at most MaxDIDRedirects redirects, only to https URLs,
// reads at most MaxDIDBodySize bytes, rejects text/html bodies (a web page
// is not a DID document) and checks the DID with handle.ParseDID.
//
// client may be nil for http.DefaultClient. Its CheckRedirect is replaced
// on a copy; its Transport and Timeout are used as they are. The context
// bounds the whole exchange. Errors are *handle.SyntaxError for an invalid
// handle and *HTTPSError otherwise, with the DID syntax error of
// handle.ParseDID as its Err.
func DIDOverHTTPS(ctx context.Context, client *http.Client, h handle.Handle) (handle.DID, error) {
	if _, err := handle.ParseSyntax(string(h)); err != nil {
		return handle.DID{}, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > MaxDIDRedirects {
			return errTooManyRedirects
		}
		if req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s is not https", req.URL)
		}
		return nil
	}

	url := "https://" + string(h) + WellKnownDIDPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return handle.DID{}, &HTTPSError{URL: url, Reason: "invalid request", Err: err}
	}
	req.Header.Set("Accept", "text/plain")

	resp, err := c.Do(req)
	if err != nil {
		return handle.DID{}, &HTTPSError{URL: url, Reason: "request failed", Err: err}
	}
	defer resp.Body.Close()
	url = resp.Request.URL.String()

	if resp.StatusCode != http.StatusOK {
		return handle.DID{}, &HTTPSError{URL: url, Status: resp.StatusCode,
			Reason: fmt.Sprintf("status %s, expected 200 OK: publish the DID as text/plain at %s", resp.Status, WellKnownDIDPath)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDIDBodySize+1))
	if err != nil {
		return handle.DID{}, &HTTPSError{URL: url, Status: resp.StatusCode, Reason: "reading body failed", Err: err}
	}
	did, reason, err := parseDIDBody(resp.Header.Get("Content-Type"), body)
	if reason != "" {
		return handle.DID{}, &HTTPSError{URL: url, Status: resp.StatusCode, Reason: reason, Err: err}
	}
	return did, nil
}

// parseDIDBody checks the content type and size of a well-known DID body
// and parses the DID in it, with surrounding white space removed. It
// returns a reason (and cause) when the body is not acceptable.
func parseDIDBody(contentType string, body []byte) (handle.DID, string, error) {
	if len(body) > MaxDIDBodySize {
		return handle.DID{}, fmt.Sprintf("body is larger than %d bytes, so it is not a DID", MaxDIDBodySize), nil
	}
	if contentType != "" {
		mediaType, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return handle.DID{}, fmt.Sprintf("invalid Content-Type %q", contentType), err
		}
		if mediaType == "text/html" || mediaType == "application/xhtml+xml" {
			return handle.DID{}, fmt.Sprintf("body is %s, a web page rather than a DID: serve the DID alone as text/plain", mediaType), nil
		}
	}
	did, err := handle.ParseDID(strings.TrimSpace(string(body)))
	if err != nil {
		return handle.DID{}, "body is not a valid DID", err
	}
	return did, "", nil
}
