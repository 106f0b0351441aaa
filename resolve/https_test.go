package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
)

// loopbackClient returns a client that sends every request, whatever its
// host, to srv, and accepts srv's test certificate for any host name.
func loopbackClient(srv *httptest.Server) *http.Client {
	transport := srv.Client().Transport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	// httptest's certificate names example.com; the handle names differ.
	transport.TLSClientConfig.ServerName = "example.com"
	return &http.Client{Transport: transport}
}

func TestDIDOverHTTPS(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	serve := func(path, contentType, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if contentType != "" {
				w.Header().Set("Content-Type", contentType)
			}
			fmt.Fprint(w, body)
		})
	}
	serve("alice.test/.well-known/atproto-did", "text/plain; charset=utf-8", didAlice+"\n")
	serve("notype.test/.well-known/atproto-did", "", didAlice)
	serve("html.test/.well-known/atproto-did", "text/html; charset=utf-8", "<html>"+didAlice+"</html>")
	serve("large.test/.well-known/atproto-did", "text/plain", didAlice+strings.Repeat(" ", MaxDIDBodySize))
	serve("invalid.test/.well-known/atproto-did", "text/plain", "did:plc:TOO-SHORT")
	mux.HandleFunc("missing.test/", http.NotFound)
	mux.HandleFunc("hops.test/.well-known/atproto-did", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hop/3", http.StatusFound)
	})
	mux.HandleFunc("hops.test/hop/", func(w http.ResponseWriter, r *http.Request) {
		n := strings.TrimPrefix(r.URL.Path, "/hop/")
		if n == "1" {
			fmt.Fprint(w, didAlice)
			return
		}
		next := map[string]string{"2": "1", "3": "2"}[n]
		http.Redirect(w, r, "/hop/"+next, http.StatusFound)
	})
	mux.HandleFunc("loop.test/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/again"+r.URL.Path, http.StatusFound)
	})
	mux.HandleFunc("plain.test/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://plain.test/did", http.StatusFound)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	client := loopbackClient(srv)

	cases := []struct {
		name       string
		handle     handle.Handle
		wantDID    string
		wantReason string // substring of HTTPSError.Reason
	}{
		{"plain text", "alice.test", didAlice, ""},
		{"no content type", "notype.test", didAlice, ""},
		{"three redirects", "hops.test", didAlice, ""},
		{"web page", "html.test", "", "text/html"},
		{"too large", "large.test", "", "larger than"},
		{"invalid DID", "invalid.test", "", "not a valid DID"},
		{"not found", "missing.test", "", "404"},
		{"redirect loop", "loop.test", "", "request failed"},
		{"redirect to http", "plain.test", "", "request failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			did, err := DIDOverHTTPS(testContext(t), client, tc.handle)
			if tc.wantReason == "" {
				if err != nil {
					t.Fatalf("DIDOverHTTPS: %v", err)
				}
				if did.String() != tc.wantDID {
					t.Errorf("DID = %s, want %s", did, tc.wantDID)
				}
				return
			}
			var he *HTTPSError
			if !errors.As(err, &he) || !strings.Contains(he.Reason, tc.wantReason) {
				t.Fatalf("error = %v, want *HTTPSError with %q", err, tc.wantReason)
			}
			if tc.handle == "loop.test" && !errors.Is(err, errTooManyRedirects) {
				t.Errorf("redirect loop error = %v, want the redirect limit", err)
			}
		})
	}
}

func TestDIDOverHTTPSErrorDetails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "did:key:x")
	}))
	t.Cleanup(srv.Close)

	_, err := DIDOverHTTPS(testContext(t), loopbackClient(srv), "alice.test")
	var de *handle.DIDError
	if !errors.As(err, &de) {
		t.Fatalf("error = %v, want the *handle.DIDError inside", err)
	}
	var he *HTTPSError
	if !errors.As(err, &he) || he.URL != "https://alice.test/.well-known/atproto-did" || he.Status != http.StatusOK {
		t.Errorf("HTTPSError = %+v", he)
	}
}

func TestDIDOverHTTPSInvalidHandle(t *testing.T) {
	t.Parallel()
	_, err := DIDOverHTTPS(testContext(t), http.DefaultClient, "evil.test/path?")
	var se *handle.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *handle.SyntaxError before any request", err)
	}
}

func TestParseDIDBody(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		contentType string
		body        string
		ok          bool
	}{
		{"text", "text/plain", " " + didAlice + "\r\n", true},
		{"xhtml", "application/xhtml+xml", didAlice, false},
		{"bad media type", "text/", didAlice, false},
		{"empty", "text/plain", "", false},
		{"two DIDs", "text/plain", didAlice + " " + didOther, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, reason, _ := parseDIDBody(tc.contentType, []byte(tc.body))
			if (reason == "") != tc.ok {
				t.Errorf("parseDIDBody reason = %q, want ok=%v", reason, tc.ok)
			}
		})
	}
}
