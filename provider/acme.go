package provider

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acmestore"
	"github.com/dnshandle/dnshandle/provider/store"
)

// DefaultACMEListen is the HTTPS address of the ACME server when
// [acme] listen is empty.
const DefaultACMEListen = "127.0.0.1:8443"

// DefaultACMEPruneInterval is how often Serve deletes expired ACME records
// when [acme] prune_interval is empty.
const DefaultACMEPruneInterval = 10 * time.Minute

// minACMEPruneInterval is the shortest [acme] prune_interval accepted. A
// shorter one would mostly run deletions that find nothing.
const minACMEPruneInterval = time.Minute

// ACMEConfig configures the ACME enrollment endpoint (package acme), served
// over HTTPS (TLS 1.2 or later) by Serve.
type ACMEConfig struct {
	// Listen is the TCP address of the HTTPS listener, DefaultACMEListen by
	// default.
	Listen string `toml:"listen"`
	// BaseURL is the external URL of the ACME server, written into
	// enrollment codes and certificates (CRL distribution points). Empty
	// means https://<Listen>/acme, with the address Serve actually bound.
	BaseURL string `toml:"base_url"`
	// CertFile and KeyFile are the PEM certificate chain and key of the
	// HTTPS listener. When both are empty, Serve makes a self-signed
	// certificate for loopback names at first start and keeps it in
	// <data>/acme (ACMECAFile), for devices to trust with
	// `dnshandle device enroll --ca`.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// PruneInterval is how often Serve deletes expired ACME records
	// (orders, enrollment credentials, used nonces), as a Go duration such
	// as "10m" or "1h", at least a minute. Empty means
	// DefaultACMEPruneInterval. Serve also prunes once at start.
	PruneInterval string `toml:"prune_interval"`
}

// ACMEPruneInterval returns the configured prune interval, or
// DefaultACMEPruneInterval when it is empty or invalid (Validate reports
// an invalid one).
func (c *Config) ACMEPruneInterval() time.Duration {
	d, err := time.ParseDuration(c.ACME.PruneInterval)
	if err != nil || d < minACMEPruneInterval {
		return DefaultACMEPruneInterval
	}
	return d
}

// validateACME checks the ACME section.
func (c *Config) validateACME() []error {
	var errs []error
	if c.ACME.PruneInterval != "" {
		d, err := time.ParseDuration(c.ACME.PruneInterval)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("acme prune_interval %q is not a duration: write a number with a unit, such as \"10m\" or \"1h\"", c.ACME.PruneInterval))
		case d < minACMEPruneInterval:
			errs = append(errs, fmt.Errorf("acme prune_interval %q is shorter than a minute: use \"1m\" or more, such as \"10m\"", c.ACME.PruneInterval))
		}
	}
	return errs
}

// ACMEBaseURL returns the configured base URL of the ACME server, or
// https://<listen>/acme.
func (c *Config) ACMEBaseURL() string {
	if c.ACME.BaseURL != "" {
		return c.ACME.BaseURL
	}
	return "https://" + c.ACME.Listen + "/acme"
}

// ACMECAFile returns the path of the self-signed certificate Serve makes
// when no certificate is configured.
func (c *Config) ACMECAFile() string {
	return filepath.Join(c.DataDir, "acme", "ca.pem")
}

// NewACMEServer returns the ACME server of the provider at baseURL, with
// its state in the store. logger receives failed requests; nil discards
// them.
func (s *Service) NewACMEServer(baseURL string, logger *slog.Logger) (*acme.Server, error) {
	backend, err := acmestore.New(s.Store, s.Sealer)
	if err != nil {
		return nil, err
	}
	return acme.NewServer(acme.Config{BaseURL: baseURL, Backend: backend, Logger: logger, Now: s.Now})
}

// NewEnrollment mints a one-time enrollment credential for a device of the
// identity h with the label, for the ACME server at the configured base URL
// (ACMEBaseURL), and records it in the audit log. Errors: the identity is
// unknown (wraps store.ErrNotFound), the label is invalid
// (*acme.LabelError), or the store failed.
func (s *Service) NewEnrollment(ctx context.Context, h handle.Handle, label string) (*acme.Enrollment, error) {
	id, err := s.Store.IdentityByHandle(ctx, h.String())
	if err != nil {
		return nil, lookupError("identity "+h.String(), err)
	}
	srv, err := s.NewACMEServer(s.Config.ACMEBaseURL(), nil)
	if err != nil {
		return nil, err
	}
	en, err := srv.NewEnrollment(ctx, acmestore.IdentityKey(id.ID), label)
	if err != nil {
		return nil, fmt.Errorf("enrollment for %s: %w", h, err)
	}
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		return tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: "admin", Action: "device.enrollment", Subject: h.String(), Detail: "label " + label})
	})
	if err != nil {
		return nil, err
	}
	return en, nil
}

// DeviceReplaced is the Status Devices reports for an active certificate
// that a newer certificate for the same device key replaced (a renewal).
// The store keeps such a certificate active until it expires, since the
// device may still present it.
const DeviceReplaced = "replaced"

// Devices returns the device certificates of the identity h, oldest
// first. An active certificate with a newer certificate for the same key
// has Status DeviceReplaced. The error wraps store.ErrNotFound when the
// identity does not exist.
func (s *Service) Devices(ctx context.Context, h handle.Handle) ([]*store.Device, error) {
	id, err := s.Store.IdentityByHandle(ctx, h.String())
	if err != nil {
		return nil, lookupError("identity "+h.String(), err)
	}
	devices, err := s.Store.Devices(ctx, id.ID)
	if err != nil {
		return nil, err
	}
	newest := map[string]int{}
	for i, d := range devices {
		if d.Fingerprint != "" {
			newest[d.Fingerprint] = i
		}
	}
	for i, d := range devices {
		if d.Status == store.DeviceActive && d.Fingerprint != "" && newest[d.Fingerprint] != i {
			d.Status = DeviceReplaced
		}
	}
	return devices, nil
}

// acmeListener is the HTTPS listener of Serve with the server to run on it,
// and the ACME server it mounts with its base URL.
type acmeListener struct {
	http     *http.Server
	listener net.Listener
	acme     *acme.Server
	baseURL  string
}

// listenACME opens the HTTPS listener. Unless [oidc] disabled is set, the
// listener also serves the OpenID provider and the web pages (mountWeb).
func (s *Service) listenACME(ctx context.Context, logger *slog.Logger, dnsAddr string) (*acmeListener, error) {
	tlsConfig, err := s.acmeTLSConfig(logger)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.Config.ACME.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen for ACME on %s: %w", s.Config.ACME.Listen, err)
	}
	fail := func(err error) (*acmeListener, error) {
		_ = ln.Close()
		return nil, err
	}
	baseURL := s.Config.ACME.BaseURL
	if baseURL == "" {
		baseURL = "https://" + ln.Addr().String() + "/acme"
	}
	srv, err := s.NewACMEServer(baseURL, logger)
	if err != nil {
		return fail(err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return fail(fmt.Errorf("acme base_url %q: %w", baseURL, err))
	}
	// The handler serves every ACME resource and the CRLs under the base
	// path, which it expects unstripped.
	mux := http.NewServeMux()
	mux.Handle(strings.TrimSuffix(u.Path, "/")+"/", srv.Handler())
	if !s.Config.OIDC.Disabled {
		if err := s.mountWeb(ctx, logger, mux, tlsConfig, u.Scheme+"://"+u.Host, dnsAddr); err != nil {
			return fail(fmt.Errorf("web pages and OpenID provider: %w", err))
		}
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return &acmeListener{http: hs, listener: tls.NewListener(ln, tlsConfig), acme: srv, baseURL: baseURL}, nil
}
