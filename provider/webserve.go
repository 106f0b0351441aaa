package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/oidc"
	"github.com/dnshandle/dnshandle/provider/web"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// sessionKeyFile is the file, under the data directory, in which older
// versions kept the key of the web sessions, sealed with the
// key-encryption key. The store keeps the key now (web.LoadSessionKey),
// and sessionKey moves a key found in this file there once.
const sessionKeyFile = "web/session.key"

// mountWeb adds the web pages and the OpenID provider to mux, the handler
// of the HTTPS listener whose origin is origin, and changes tlsConfig so
// that browsers may present a device certificate. dnsAddr is the address
// of the provider's own DNS server, which certificate sign-in queries for
// hosted handles.
func (s *Service) mountWeb(ctx context.Context, logger *slog.Logger, mux *http.ServeMux, tlsConfig *tls.Config, origin, dnsAddr string) error {
	issuer := s.Config.OIDCIssuer()
	if issuer == "" {
		issuer = origin
	}
	s.mu.Lock()
	s.issuer = issuer
	s.mu.Unlock()

	if s.Resolver == nil && len(s.Config.DNS.Resolvers) > 0 {
		r, err := resolve.New(resolve.Config{Servers: s.Config.DNS.Resolvers})
		if err != nil {
			return fmt.Errorf("dns resolvers: %w", err)
		}
		s.Resolver = r
	}
	key, err := s.sessionKey(ctx, logger)
	if err != nil {
		return err
	}
	verifier, err := s.signInVerifier(ctx, dnsAddr)
	if err != nil {
		return err
	}
	caFile := "" // devices trust a configured certificate without --ca
	if s.Config.ACME.CertFile == "" {
		caFile = s.Config.ACMECAFile()
	}
	pages, err := web.New(web.Config{
		Provider: s, Store: s.Store, SessionKey: key, Verifier: verifier, CAFile: caFile,
		Zones: zoneNames(s.Config), ACMEDirectoryURL: s.acmeBaseURL(origin) + "/directory",
		Logger: logger.With("component", "web"), Now: s.Now,
	})
	if err != nil {
		return err
	}
	clients := make([]oidc.ClientConfig, len(s.Config.OIDC.Clients))
	for i, c := range s.Config.OIDC.Clients {
		clients[i] = oidc.ClientConfig{ID: c.ID, Secret: c.Secret, RedirectURIs: c.RedirectURIs,
			PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Public: c.Public, Name: c.Name}
	}
	op, err := oidc.New(ctx, oidc.Config{
		Issuer: issuer, Store: s.Store, Sealer: s.Sealer, Sessions: pages,
		StaticClients: clients, AllowRegistration: !s.Config.OIDC.ClosedRegistration,
		Logger: logger.With("component", "oidc"), Now: s.Now,
	})
	if err != nil {
		return err
	}
	for _, p := range op.Patterns() {
		mux.Handle(p, pages.KeepSession(op.Handler()))
	}
	mux.Handle("/", pages.Handler())
	web.TLSClientAuth(tlsConfig)
	logger.Info("OpenID provider and web pages started", "issuer", issuer, "sign_up", origin+"/signup")
	return nil
}

// acmeBaseURL returns the ACME base URL on the listener with origin.
func (s *Service) acmeBaseURL(origin string) string {
	if s.Config.ACME.BaseURL != "" {
		return s.Config.ACME.BaseURL
	}
	return origin + "/acme"
}

// sessionKey returns the key of the web sessions, which the store keeps
// sealed with the key-encryption key, so that every process on the store
// shares the sessions and they survive restarts. A key file of an older
// version in the data directory is moved into the store when the store has
// no key yet, so that its cookies stay valid, and is deleted afterwards.
func (s *Service) sessionKey(ctx context.Context, logger *slog.Logger) ([]byte, error) {
	path := filepath.Join(s.Config.DataDir, sessionKeyFile)
	legacy, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the old web session key: %w", err)
	}

	var old []byte
	if legacy != nil {
		if old, err = s.Sealer.Open(legacy, web.SessionKeyPurpose); err != nil {
			return nil, fmt.Errorf("old web session key file %s: %w: remove the file to use the store's key, or a new one (signs everyone out)", path, err)
		}
	}

	key, err := web.LoadSessionKey(ctx, s.Store, s.Sealer, legacy)
	if err != nil {
		return nil, err
	}
	if legacy == nil {
		return key, nil
	}

	if !bytes.Equal(old, key) {
		logger.Warn("the store has another web session key than the old key file: sessions sealed with the file's key end", "file", path)
	}
	if err := os.Remove(path); err != nil {
		logger.Warn("failed to remove the old web session key file, which is no longer read: remove it by hand", "file", path, "err", err)
	} else {
		logger.Info("moved the web session key from the data directory into the store", "file", path)
	}
	return key, nil
}

// signInVerifier returns the verifier of certificate sign-in: hosted
// handles resolve at the provider's own DNS server, validated from the
// zones' DS records, and other handles through Service.Resolver.
func (s *Service) signInVerifier(ctx context.Context, dnsAddr string) (*verify.Verifier, error) {
	var anchors []dns.RR
	for _, z := range zoneNames(s.Config) {
		ds, err := s.Signer.DS(ctx, z)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			anchors = append(anchors, d)
		}
	}
	own, err := resolve.New(resolve.Config{Servers: []string{dnsAddr}, TrustAnchors: anchors})
	if err != nil {
		return nil, err
	}
	return &verify.Verifier{Resolver: &zoneResolver{cfg: s.Config, hosted: own, other: s.Resolver}}, nil
}

// zoneResolver sends handles under the provider's zones to hosted and
// every other handle to other.
type zoneResolver struct {
	cfg    *Config
	hosted *resolve.Resolver
	other  *resolve.Resolver
}

// Resolve implements verify.HandleResolver.
func (z *zoneResolver) Resolve(ctx context.Context, h handle.Handle) (*resolve.Result, error) {
	if z.cfg.ZoneFor(h.String()) != "" {
		return z.hosted.Resolve(ctx, h)
	}
	if z.other == nil {
		return nil, fmt.Errorf("handle %s is not under a provider zone, and no resolver for other domains is configured", h)
	}
	return z.other.Resolve(ctx, h)
}
