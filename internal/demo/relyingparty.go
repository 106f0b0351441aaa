package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dnshandle/dnshandle/verify"
)

// relyingParty is a small web site that accepts DNS-handle logins over
// TLS client certificates.
type relyingParty struct {
	url      string
	serverCA *x509.Certificate
	server   *http.Server

	mu      sync.Mutex
	lastID  *verify.Identity
	lastErr error
}

// startRelyingParty serves https://127.0.0.1:port/ with a verifier that
// resolves handles through resolver.
func startRelyingParty(resolver verify.HandleResolver) (*relyingParty, error) {
	cert, ca, err := serverCertificate()
	if err != nil {
		return nil, err
	}
	rp := &relyingParty{serverCA: ca}
	v := &verify.Verifier{Resolver: resolver}

	config := verify.ServerConfig(&tls.Config{Certificates: []tls.Certificate{cert}}, v)
	// Keep the verifier's error of each handshake: the client only sees
	// a bad_certificate alert.
	check := config.VerifyConnection
	config.VerifyConnection = func(cs tls.ConnectionState) error {
		err := check(cs)
		rp.mu.Lock()
		rp.lastErr = err
		rp.mu.Unlock()
		return err
	}

	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := verify.FromContext(r.Context())
		rp.mu.Lock()
		rp.lastID = id
		rp.mu.Unlock()
		fmt.Fprintf(w, "signed in as %s (%s)\n", id.Handle.Display(), id.DID)
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rp.url = "https://" + listener.Addr().String() + "/"
	mux := http.NewServeMux()
	mux.Handle("/", verify.RequireIdentity("dnshandle demo", rp.url+"login", page))
	mux.HandleFunc("/login", loginPage)
	rp.server = &http.Server{
		Handler:           v.Middleware(mux),
		TLSConfig:         config,
		ReadHeaderTimeout: 10 * time.Second,
		// Failed handshakes are expected in the demo; the verifier's
		// reason is kept in lastErr and printed by the caller.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = rp.server.ServeTLS(listener, "", "") }()
	return rp, nil
}

func (rp *relyingParty) close() {
	_ = rp.server.Close()
}

func (rp *relyingParty) lastIdentity() *verify.Identity {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.lastID
}

func (rp *relyingParty) lastError() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.lastErr
}

// client returns an HTTP client that trusts the relying party's server
// certificate and presents cert (none when cert is nil), on a fresh
// connection each time.
func (rp *relyingParty) client(cert *tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(rp.serverCA)
	device := &verify.Client{Base: &tls.Config{RootCAs: roots}}
	if cert != nil {
		device.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{
		Transport: &http.Transport{DialTLSContext: device.DialTLSContext, DisableKeepAlives: true},
		Timeout:   15 * time.Second,
	}
}

// get fetches the page with cert and returns its body; any status but 200
// is an error.
func (rp *relyingParty) get(ctx context.Context, cert *tls.Certificate) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rp.url, nil)
	if err != nil {
		return "", err
	}
	resp, err := rp.client(cert).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %s", resp.Status, body)
	}
	return string(body), nil
}

// getStatus fetches the page with cert and returns the status and the
// WWW-Authenticate header.
func (rp *relyingParty) getStatus(ctx context.Context, cert *tls.Certificate) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rp.url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := rp.client(cert).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), nil
}

// loginPage serves the page the 401 challenge points at. It explains how
// to log in and needs no identity itself.
func loginPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, `Log in to this site with a DNS handle.

Present a device certificate for your handle: a chain [leaf, CSC] whose CSC
is accredited by a TLSA record "2 1 1" at the handle, and whose leaf carries
your DID from the handle's _atproto TXT record. This site asks for client
certificates under the name "CN=DNS Handle Client Authentication".

Signing in through your handle's OpenID Connect provider is not available
in this demo yet.
`)
}
