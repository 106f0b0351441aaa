package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

// Paths of the provider's endpoints, relative to the issuer.
const (
	discoveryPath = "/.well-known/openid-configuration"
	metadataPath  = "/.well-known/oauth-authorization-server"
	authorizePath = "/oauth/authorize"
	parPath       = "/oauth/par"
	tokenPath     = "/oauth/token"
	jwksPath      = "/oauth/jwks"
	userinfoPath  = "/oauth/userinfo"
	registerPath  = "/oauth/register"
	revokePath    = "/oauth/revoke"
	loginPath     = "/oauth/login"

	endSessionPath        = "/oauth/end_session"
	endSessionConfirmPath = "/oauth/end_session/confirm"
)

// Provider is the OpenID provider of the DNS Handle Provider. It is safe for
// concurrent use.
type Provider struct {
	cfg    Config
	issuer string

	op        *op.Provider
	server    *server
	opHandler http.Handler
	storage   *storage
	encoder   httphelper.Encoder

	clients *clientRegistry
	keys    *keyring
	nonces  *nonceSource
	limits  limiters
	mux     *http.ServeMux
}

// New checks cfg, reads or creates the signing key and the DPoP nonce
// secret in the store, and returns the provider. Unless
// cfg.CleanupInterval is negative, it starts a goroutine that deletes
// expired rows every CleanupInterval until ctx is done. Errors are a
// *ConfigError for a bad Config, or a failure of the store or the sealer.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, issuer: strings.TrimSuffix(cfg.Issuer, "/"), limits: newLimiters(cfg.RateLimits)}
	p.encoder = issEncoder{base: oidc.NewEncoder(), issuer: p.issuer}
	p.storage = &storage{p: p}
	p.keys = &keyring{store: cfg.Store, sealer: cfg.Sealer, now: cfg.Now}
	if p.clients, err = newClientRegistry(p, cfg.StaticClients); err != nil {
		return nil, err
	}
	nonceKey, err := loadSecret(ctx, cfg.Store, cfg.Sealer, nonceSecretName)
	if err != nil {
		return nil, err
	}
	p.nonces = &nonceSource{key: nonceKey, lifetime: cfg.DPoPNonceLifetime}
	if _, err := p.keys.signing(ctx); err != nil {
		return nil, err
	}
	if err := p.newLibraryServer(); err != nil {
		return nil, err
	}
	p.mux = p.routes()

	if cfg.CleanupInterval > 0 {
		go p.cleanupLoop(ctx)
	}
	return p, nil
}

// newLibraryServer sets up the github.com/zitadel/oidc provider and server
// that the endpoints without a handler of their own go to.
func (p *Provider) newLibraryServer() error {
	// The library encrypts the authorization code with this key. The store
	// keeps only the code's hash and never decrypts it, and the access
	// tokens are JWTs, so the key need not be shared between processes.
	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:]) // crypto/rand.Read never returns an error

	config := &op.Config{
		CryptoKey:             cryptoKey,
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       supportedScopes,
		SupportedClaims:       supportedClaims,
	}
	opts := []op.Option{
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(string(signingAlgorithm))),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(string(signingAlgorithm))),
	}
	if strings.HasPrefix(p.issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	provider, err := op.NewProvider(config, p.storage, op.StaticIssuer(p.issuer), opts...)
	if err != nil {
		return fmt.Errorf("oidc: set up the OpenID provider library: %w", err)
	}
	p.op = provider

	endpoints := op.Endpoints{
		Authorization: op.NewEndpoint(authorizePath),
		Token:         op.NewEndpoint(tokenPath),
		Userinfo:      op.NewEndpoint(userinfoPath),
		Revocation:    op.NewEndpoint(revokePath),
		JwksURI:       op.NewEndpoint(jwksPath),
	}
	p.server = &server{LegacyServer: op.NewLegacyServer(provider, endpoints), p: p}
	notFound := func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
	// The provider's handlers set the CORS headers themselves (cors.go), so
	// the library's CORS policy, which allows credentials from every origin,
	// is off.
	p.opHandler = op.RegisterLegacyServer(p.server, notFound, op.WithEncoder(p.encoder), op.WithServerCORSOptions(nil))
	return nil
}

// Handler returns the handler of every endpoint, for a mux on the issuer's
// origin, such as mux.Handle("/", p.Handler()) or, beside other handlers,
// one mux.Handle per pattern of Patterns. Other paths get 404.
func (p *Provider) Handler() http.Handler { return p.mux }

// Patterns returns the http.ServeMux patterns that Handler serves: the
// discovery documents under /.well-known/ and the endpoints under /oauth/.
func (p *Provider) Patterns() []string {
	return []string{discoveryPath, metadataPath, "/oauth/"}
}

// Issuer returns the issuer identifier, Config.Issuer without a trailing
// slash. Handles publish it as oauth=<issuer>.
func (p *Provider) Issuer() string { return p.issuer }

// routes maps the endpoints to their handlers.
func (p *Provider) routes() *http.ServeMux {
	mux := http.NewServeMux()
	api := func(h http.HandlerFunc) http.Handler { return p.withIssuer(allowCrossOrigin(h)) }
	mux.Handle(discoveryPath, api(p.serveDiscovery))
	mux.Handle(metadataPath, api(p.serveDiscovery))
	mux.Handle(jwksPath, api(p.opHandler.ServeHTTP))
	mux.Handle(parPath, api(p.pushAuthorizationRequest))
	mux.Handle(tokenPath, api(p.token))
	mux.Handle(userinfoPath, api(p.userinfo))
	mux.Handle(revokePath, api(p.revoke))
	if p.cfg.AllowRegistration {
		mux.Handle(registerPath, api(p.register))
	}
	// The browser-facing endpoints get no CORS headers.
	mux.Handle(authorizePath, p.withIssuer(http.HandlerFunc(p.authorize)))
	mux.Handle(loginPath, p.withIssuer(http.HandlerFunc(p.login)))
	mux.Handle(endSessionPath, p.withIssuer(http.HandlerFunc(p.endSession)))
	mux.Handle(endSessionConfirmPath, p.withIssuer(http.HandlerFunc(p.confirmEndSession)))
	mux.Handle("/oauth/", http.NotFoundHandler())
	return mux
}

// withIssuer puts the issuer into the request context, where the library's
// verifiers and token functions read it.
func (p *Provider) withIssuer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(op.ContextWithIssuer(r.Context(), p.issuer)))
	})
}

// token serves /oauth/token. It applies the rate limits, checks a DPoP
// proof and hands the request with the accepted proof to the library,
// which calls server.CodeExchange or server.RefreshToken.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if !p.parseBody(w, r) || !p.allow(w, r, p.limits.tokenPerIP, p.cfg.ClientIP(r)) {
		return
	}
	if !p.allow(w, r, p.limits.tokenPerClient, requestClientID(r)) {
		return
	}
	p.withNonce(w)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	proof, err := p.checkDPoP(r.Context(), r, tokenPath, "")
	if err != nil {
		p.writeDPoPError(w, r, err)
		return
	}
	p.opHandler.ServeHTTP(w, r.WithContext(withProof(r.Context(), proof)))
}

// revoke serves /oauth/revoke (RFC 7009) through the library.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	if p.parseBody(w, r) {
		p.opHandler.ServeHTTP(w, r)
	}
}

// requestClientID returns the client_id of a token request from the
// Authorization header or the form, for the per-client limit.
func requestClientID(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		return id
	}
	return r.PostForm.Get("client_id")
}

// parseBody accepts only POST with a form body of at most MaxBodySize
// bytes, and parses it. Otherwise it responds with 405, 413 or 400 and
// returns false.
func (p *Provider) parseBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, errInvalidRequest, "use POST")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, p.cfg.MaxBodySize)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeOAuthError(w, http.StatusRequestEntityTooLarge, errInvalidRequest, fmt.Sprintf("the body is larger than %d bytes", tooLarge.Limit))
			return false
		}
		writeOAuthError(w, http.StatusBadRequest, errInvalidRequest, "the body is not a form (application/x-www-form-urlencoded)")
		return false
	}
	return true
}

// RotateSigningKey makes a new ES256 signing key the current one. The JWK
// set keeps the previous key, so tokens it signed still verify, and drops
// older ones. Other processes on the same store switch to the new key
// within a minute.
func (p *Provider) RotateSigningKey(ctx context.Context) error {
	return p.keys.rotate(ctx)
}

// Cleanup deletes expired authorization requests, pushed requests, tokens
// and DPoP proof records, and returns the number of rows deleted.
func (p *Provider) Cleanup(ctx context.Context) (int64, error) {
	var n int64
	err := p.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteExpiredOIDC(ctx, p.cfg.Now())
		return err
	})
	return n, err
}

func (p *Provider) cleanupLoop(ctx context.Context) {
	ticker := time.NewTicker(p.cfg.CleanupInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if _, err := p.Cleanup(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Warn("OpenID provider failed to delete expired rows; it retries at the next interval", slog.Any("err", err))
			}
		}
	}
}

// issEncoder adds the issuer to every authorization response it encodes,
// successful or not (RFC 9207, section 2).
type issEncoder struct {
	base   httphelper.Encoder
	issuer string
}

func (e issEncoder) Encode(src any, dst map[string][]string) error {
	if err := e.base.Encode(src, dst); err != nil {
		return err
	}
	dst["iss"] = []string{e.issuer}
	return nil
}
