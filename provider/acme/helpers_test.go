package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

const testHandle = handle.Handle("alice.dhp.test")

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testEnv is an ACME server on a loopback httptest server with one identity.
type testEnv struct {
	t       *testing.T
	server  *Server
	backend *MemoryBackend
	http    *httptest.Server
	clock   *testClock
	issuer  *Issuer
}

const testIdentity = "identity-alice"

func newTestEnv(t *testing.T, configure func(*Config)) *testEnv {
	t.Helper()
	clock := &testClock{now: time.Now().Truncate(time.Second)}
	csc, err := pki.NewCSC(rand.Reader, testHandle, pki.CSCOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	backend := NewMemoryBackend()
	iss := &Issuer{IdentityID: testIdentity, CSC: csc}
	backend.AddIssuer(iss)

	ts := httptest.NewUnstartedServer(nil)
	cfg := Config{
		BaseURL: "http://" + ts.Listener.Addr().String() + "/acme",
		Backend: backend,
		Now:     clock.Now,
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &testEnv{t: t, server: srv, backend: backend, http: ts, clock: clock, issuer: iss}
}

func (e *testEnv) url(path string) string { return e.server.url(path) }

// enrollment mints an EAB credential for the test identity.
func (e *testEnv) enrollment(label string) *Enrollment {
	e.t.Helper()
	en, err := e.server.NewEnrollment(context.Background(), testIdentity, label)
	if err != nil {
		e.t.Fatal(err)
	}
	return en
}

// testKey is a JWS signing key with its algorithm.
type testKey struct {
	signer crypto.Signer
	alg    jose.SignatureAlgorithm
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{signer: k, alg: jose.ES256}
}

func (k testKey) jwk() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: k.signer.Public()}
}

// jwsOptions describes one signed request.
type jwsOptions struct {
	key   testKey
	kid   string // "" embeds the jwk
	url   string
	nonce string // "-" leaves the nonce out
	extra map[jose.HeaderKey]any
}

// signFlattened returns the flattened JWS of payload.
func signFlattened(t *testing.T, o jwsOptions, payload []byte) []byte {
	t.Helper()
	so := &jose.SignerOptions{EmbedJWK: o.kid == ""}
	so.WithHeader("url", o.url)
	if o.nonce != "-" {
		so.WithHeader("nonce", o.nonce)
	}
	for k, v := range o.extra {
		so.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: o.key.alg, Key: jose.JSONWebKey{Key: o.key.signer, KeyID: o.kid}}, so)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(sig.FullSerialize())
}

// eabJWS returns an external account binding over the JWK of account.
func eabJWS(t *testing.T, kid string, hmacKey []byte, url string, account *jose.JSONWebKey) json.RawMessage {
	t.Helper()
	jwk, err := account.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	so := (&jose.SignerOptions{}).WithHeader("kid", kid).WithHeader("url", url)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, so)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(jwk)
	if err != nil {
		t.Fatal(err)
	}
	return json.RawMessage(sig.FullSerialize())
}

func (e *testEnv) nonce() string {
	e.t.Helper()
	res, err := http.Head(e.url(pathNewNonce))
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	n := res.Header.Get("Replay-Nonce")
	if n == "" {
		e.t.Fatal("newNonce returned no Replay-Nonce")
	}
	return n
}

// postRaw sends body as an ACME request.
func (e *testEnv) postRaw(url string, body []byte) *testResponse {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/jose+json")
	return e.do(req)
}

func (e *testEnv) do(req *http.Request) *testResponse {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &testResponse{Response: res, body: body}
}

// post signs payload (nil for POST-as-GET) with o, a fresh nonce and the
// URL, and sends it.
func (e *testEnv) post(o jwsOptions, url string, payload any) *testResponse {
	e.t.Helper()
	raw := []byte{} // go-jose leaves out a nil payload; POST-as-GET sends ""
	if payload != nil {
		var err error
		if raw, err = json.Marshal(payload); err != nil {
			e.t.Fatal(err)
		}
	}
	if o.url == "" {
		o.url = url
	}
	if o.nonce == "" {
		o.nonce = e.nonce()
	}
	return e.postRaw(url, signFlattened(e.t, o, raw))
}

type testResponse struct {
	*http.Response
	body []byte
}

func (r *testResponse) problem(t *testing.T) problemDocument {
	t.Helper()
	var p problemDocument
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; status %d, body %s", ct, r.StatusCode, r.body)
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem document: %v: %s", err, r.body)
	}
	return p
}

// wantProblem checks the status and type of an error response and that it
// carries a nonce.
func (r *testResponse) wantProblem(t *testing.T, status int, typ ProblemType) problemDocument {
	t.Helper()
	p := r.problem(t)
	if r.StatusCode != status || p.Type != ErrorNamespace+string(typ) {
		t.Fatalf("got %d %s (%s), want %d %s", r.StatusCode, p.Type, p.Detail, status, typ)
	}
	if r.Header.Get("Replay-Nonce") == "" {
		t.Errorf("error response has no Replay-Nonce")
	}
	return p
}

func (r *testResponse) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, r.body)
	}
}

func (r *testResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// newAccount registers key with a fresh enrollment and returns its kid.
func (e *testEnv) newAccount(key testKey) string {
	e.t.Helper()
	en := e.enrollment("laptop")
	res := e.post(jwsOptions{key: key}, e.url(pathNewAccount), map[string]any{
		"termsOfServiceAgreed":   true,
		"externalAccountBinding": eabJWS(e.t, en.KeyID, en.Key, e.url(pathNewAccount), key.jwk()),
	})
	res.wantStatus(e.t, http.StatusCreated)
	kid := res.Header.Get("Location")
	if !strings.HasPrefix(kid, e.url(pathAccount)) {
		e.t.Fatalf("account Location %q", kid)
	}
	return kid
}

// newOrder creates an order for the handle and returns its URL and object.
func (e *testEnv) newOrder(key testKey, kid string) (string, orderObject) {
	e.t.Helper()
	res := e.post(jwsOptions{key: key, kid: kid}, e.url(pathNewOrder), map[string]any{
		"identifiers": []Identifier{{Type: "dns", Value: string(testHandle)}},
	})
	res.wantStatus(e.t, http.StatusCreated)
	var o orderObject
	res.decode(e.t, &o)
	return res.Header.Get("Location"), o
}

// csrFor returns a base64url CSR for names, signed by a new key.
func csrFor(t *testing.T, key crypto.Signer, cn string, names ...string) string {
	t.Helper()
	tmpl := &x509.CertificateRequest{DNSNames: names}
	tmpl.Subject.CommonName = cn
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(der)
}

func newDeviceKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
