package acme

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Paths of the resources under Config.BaseURL.
const (
	pathDirectory   = "/directory"
	pathNewNonce    = "/new-nonce"
	pathNewAccount  = "/new-account"
	pathNewOrder    = "/new-order"
	pathRevokeCert  = "/revoke-cert"
	pathKeyChange   = "/key-change"
	pathRenewalInfo = "/renewal-info"
	pathAccount     = "/account/"
	pathOrder       = "/order/"
	pathAuthz       = "/authz/"
	pathCert        = "/cert/"
	pathCRL         = "/crl/"
)

// Server is an ACME server (RFC 8555) that enrolls devices of the identities
// in its Backend. It is safe for concurrent use.
type Server struct {
	cfg      Config
	backend  Backend
	origin   string // scheme://host of BaseURL
	basePath string // path of BaseURL, no trailing slash
	nonces   nonceSource
	limits   rateLimiters
	crls     *crlCache
}

// NewServer checks cfg and returns a Server. Errors are *ConfigError.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, &ConfigError{Field: "BaseURL", Value: cfg.BaseURL, Reason: err.Error()}
	}
	s := &Server{
		cfg:      cfg,
		backend:  cfg.Backend,
		origin:   u.Scheme + "://" + u.Host,
		basePath: strings.TrimSuffix(u.EscapedPath(), "/"),
		limits:   newRateLimiters(cfg.RateLimits),
		crls:     newCRLCache(),
	}
	if nb, ok := cfg.Backend.(NonceBackend); ok {
		s.nonces = &sharedNonces{backend: nb, lifetime: cfg.NonceLifetime, now: cfg.Now}
	} else {
		s.nonces = newNonceStore(cfg.MaxNonces, cfg.NonceLifetime, cfg.Now)
	}
	return s, nil
}

// DirectoryURL returns the URL of the ACME directory, the one URL a client
// needs.
func (s *Server) DirectoryURL() string { return s.url(pathDirectory) }

// CRLURL returns the URL where the Server publishes the CRL of the
// identity, the default CRL distribution point of its device certificates.
func (s *Server) CRLURL(identityID string) string {
	return s.url(pathCRL + url.PathEscape(identityID))
}

func (s *Server) url(path string) string { return s.cfg.BaseURL + path }

// Handler returns the HTTP handler of every ACME resource, the renewal
// information and the CRLs. Mount it at the path of Config.BaseURL without
// stripping the prefix.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(path string, methods string, h func(http.ResponseWriter, *http.Request) *Problem) {
		mux.Handle(s.basePath+path, s.acmeHandler(strings.Split(methods, " "), h))
	}
	route(pathDirectory, "GET HEAD POST", s.handleDirectory)
	route(pathNewNonce, "GET HEAD POST", s.handleNewNonce)
	route(pathNewAccount, "POST", s.handleNewAccount)
	route(pathAccount+"{id}", "POST", s.handleAccount)
	route(pathAccount+"{id}/orders", "POST", s.handleOrders)
	route(pathKeyChange, "POST", s.handleKeyChange)
	route(pathNewOrder, "POST", s.handleNewOrder)
	route(pathOrder+"{id}", "POST", s.handleOrder)
	route(pathOrder+"{id}/finalize", "POST", s.handleFinalize)
	route(pathAuthz+"{id}", "POST", s.handleAuthz)
	route(pathCert+"{serial}", "POST", s.handleCertificate)
	route(pathRevokeCert, "POST", s.handleRevokeCert)
	route(pathRenewalInfo+"/{certID}", "GET HEAD", s.handleRenewalInfo)
	mux.HandleFunc(s.basePath+pathCRL+"{identity}", s.handleCRL)
	return mux
}

// acmeHandler wraps an ACME resource handler. Every response carries a
// fresh Replay-Nonce (RFC 8555, section 6.5), the index link (section 7.1)
// and Cache-Control no-store. The exception is the serverInternal problem
// sent when no nonce can be issued. A returned Problem becomes the problem
// document.
func (s *Server) acmeHandler(methods []string, h func(http.ResponseWriter, *http.Request) *Problem) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Cache-Control", "no-store")
		hdr.Add("Link", link(s.DirectoryURL(), "index"))

		var p *Problem
		nonce, err := s.nonces.issue(r.Context())
		switch {
		case err != nil:
			// The only response without a nonce: a NonceBackend that
			// cannot give its key cannot check nonces either.
			p = internalError("issuing a nonce", err)
		case !contains(methods, r.Method):
			hdr.Set("Replay-Nonce", nonce)
			hdr.Set("Allow", strings.Join(methods, ", "))
			p = &Problem{Type: ProblemMalformed, Status: http.StatusMethodNotAllowed,
				Detail: "method " + r.Method + " is not allowed here; ACME resources take POST (RFC 8555, section 6.3)"}
		default:
			hdr.Set("Replay-Nonce", nonce)
			p = h(w, r)
		}
		if p != nil {
			s.logProblem(r, p)
			writeProblem(w, p)
		}
	})
}

func (s *Server) logProblem(r *http.Request, p *Problem) {
	level := slog.LevelDebug
	if p.Type == ProblemServerInternal {
		level = slog.LevelError
	}
	s.cfg.Logger.Log(r.Context(), level, "acme request failed",
		"path", r.URL.Path, "remote_addr", r.RemoteAddr, "type", string(p.Type), "detail", p.Detail, "err", p.Err)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func link(url, rel string) string { return "<" + url + `>;rel="` + rel + `"` }

// directory is the directory object, RFC 8555, section 7.1.1, with
// renewalInfo from RFC 9773, section 3.
type directory struct {
	NewNonce    string        `json:"newNonce"`
	NewAccount  string        `json:"newAccount"`
	NewOrder    string        `json:"newOrder"`
	RevokeCert  string        `json:"revokeCert"`
	KeyChange   string        `json:"keyChange"`
	RenewalInfo string        `json:"renewalInfo"`
	Meta        directoryMeta `json:"meta"`
}

type directoryMeta struct {
	Website                 string `json:"website,omitempty"`
	ExternalAccountRequired bool   `json:"externalAccountRequired"`
}

// handleDirectory serves GET, and also POST-as-GET from clients that send
// one, whatever its body.
func (s *Server) handleDirectory(w http.ResponseWriter, r *http.Request) *Problem {
	w.Header().Del("Link")
	d := directory{
		NewNonce:    s.url(pathNewNonce),
		NewAccount:  s.url(pathNewAccount),
		NewOrder:    s.url(pathNewOrder),
		RevokeCert:  s.url(pathRevokeCert),
		KeyChange:   s.url(pathKeyChange),
		RenewalInfo: s.url(pathRenewalInfo),
		Meta:        directoryMeta{Website: s.cfg.Website, ExternalAccountRequired: true},
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// handleNewNonce returns 200 to HEAD and 204 to GET, RFC 8555, section 7.2.
// The nonce is in the header set by acmeHandler. A POST (some clients send
// POST-as-GET) gets the response of GET.
func (s *Server) handleNewNonce(w http.ResponseWriter, r *http.Request) *Problem {
	if p := rateLimited(s.limits.newNonce, s.cfg.ClientIP(r), s.cfg.Now(), "newNonce"); p != nil {
		return p
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A failed write means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// authMode names the key header a resource takes, RFC 8555, section 6.2.
type authMode int

const (
	authKID authMode = iota // every resource but the two below
	authJWK                 // newAccount
	authAny                 // revokeCert: kid, or jwk of the certificate key
)

// request is a verified ACME POST.
type request struct {
	msg *jwsMessage
	// account is the requesting account for a kid request, nil otherwise.
	account *Account
}

// postAsGet reports whether the payload is empty, RFC 8555, section 6.3.
func (q *request) postAsGet() bool { return len(q.msg.Payload) == 0 && q.msg.PayloadB64 == "" }

// readRequest reads and verifies the JWS of an ACME POST, in the order of
// RFC 8555, section 6: media type, JWS form, url, key, signature, nonce.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, mode authMode) (*request, *Problem) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/jose+json" {
		return nil, &Problem{Type: ProblemMalformed, Status: http.StatusUnsupportedMediaType,
			Detail: "Content-Type must be application/jose+json (RFC 8555, section 6.2)"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Problem{Type: ProblemMalformed, Status: http.StatusRequestEntityTooLarge, Detail: "request body is larger than the server accepts"}
		}
		return nil, &Problem{Type: ProblemMalformed, Detail: "reading the request body failed", Err: err}
	}

	msg, p := parseJWS(body, false)
	if p != nil {
		return nil, p
	}
	if want := s.origin + r.URL.RequestURI(); msg.Header.URL != want {
		return nil, unauthorized("JWS url %q does not match the request URL %q (RFC 8555, section 6.4)", msg.Header.URL, want)
	}

	q := &request{msg: msg}
	var key any
	switch {
	case msg.JWK != nil && mode == authKID:
		return nil, malformed(`this resource needs a "kid" (the account URL), not a "jwk" (RFC 8555, section 6.2)`)
	case msg.JWK == nil && mode == authJWK:
		return nil, malformed(`newAccount needs a "jwk", not a "kid" (RFC 8555, section 6.2)`)
	case msg.JWK != nil:
		key = msg.JWK.Key
	default:
		if q.account, p = s.loadAccountByKID(r.Context(), msg.Header.KID); p != nil {
			return nil, p
		}
		jwk, p := parsePublicJWK(q.account.Key)
		if p != nil {
			return nil, internalError("loading the account key", p)
		}
		key = jwk.Key
	}

	if p := verifyJWS(body, msg, key); p != nil {
		return nil, p
	}
	if msg.Header.Nonce == "" {
		return nil, problemf(ProblemBadNonce, `JWS has no "nonce"; get one from newNonce (RFC 8555, section 6.5)`)
	}
	ok, err := s.nonces.use(r.Context(), msg.Header.Nonce)
	if err != nil {
		return nil, internalError("checking the nonce", err)
	}
	if !ok {
		return nil, problemf(ProblemBadNonce, "nonce %q is unknown, used or expired; retry with the nonce of this response", msg.Header.Nonce)
	}
	return q, nil
}

// loadAccountByKID loads the account of a kid URL, which must be valid.
func (s *Server) loadAccountByKID(ctx context.Context, kid string) (*Account, *Problem) {
	prefix := s.url(pathAccount)
	id, ok := strings.CutPrefix(kid, prefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, problemf(ProblemAccountDoesNotExist, "kid %q is not an account URL of this server", kid)
	}
	acct, err := s.backend.Account(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, problemf(ProblemAccountDoesNotExist, "account %q does not exist", kid)
	}
	if err != nil {
		return nil, internalError("loading the account", err)
	}
	if acct.Status == AccountRevoked {
		return nil, unauthorized("account %q is revoked, because a certificate of this device was revoked; enroll the device again with a new enrollment code", kid)
	}
	if acct.Status != AccountValid {
		return nil, unauthorized("account %q is %s and can make no more requests (RFC 8555, section 7.3.6)", kid, acct.Status)
	}
	return acct, nil
}

// decodePayload decodes a JSON payload into v. An empty payload (POST-as-GET)
// is rejected.
func decodePayload(q *request, v any) *Problem {
	if q.postAsGet() {
		return malformed("request payload is empty; this resource needs a JSON object")
	}
	if err := json.Unmarshal(q.msg.Payload, v); err != nil {
		return malformed("request payload is not the expected JSON object: %v", err)
	}
	return nil
}

// requirePostAsGet rejects a request whose payload is not empty.
func requirePostAsGet(q *request) *Problem {
	if !q.postAsGet() {
		return malformed(`this resource takes POST-as-GET: the payload must be empty (RFC 8555, section 6.3)`)
	}
	return nil
}

// newID returns a random URL-safe identifier of 128 bits.
func newID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error since Go 1.24.
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// rfc3339 formats t for JSON objects, in UTC.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
