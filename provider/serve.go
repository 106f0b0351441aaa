package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dnshandle/dnshandle/provider/dnsserver"
)

// Intervals of the background work of Serve.
const (
	// NotifyPollInterval is how often Serve compares zone serials and
	// sends NOTIFY for changed zones, for changes that another process
	// (dnshandle admin, another replica) wrote to the store. Changes made
	// through the Service that runs Serve send NOTIFY at once.
	NotifyPollInterval = 100 * time.Millisecond
	// ResignInterval is how often Serve renews signatures that are close
	// to expiry.
	ResignInterval = time.Hour
)

// Serve runs the provider until ctx is done: it creates missing zones,
// serves them over DNS, answers /metrics, /healthz and /readyz over HTTP,
// sends NOTIFY to secondaries after each change and renews signatures.
// ready, when not nil, receives the DNS and HTTP addresses once both
// listen.
func (s *Service) Serve(ctx context.Context, logger *slog.Logger, ready func(dnsAddr, httpAddr string)) error {
	return s.ServeAddrs(ctx, logger, func(a Addrs) {
		if ready != nil {
			ready(a.DNS, a.HTTP)
		}
	})
}

// Addrs are the addresses Serve listens on, the base URL of its ACME
// server, and the issuer of its OpenID provider ("" when disabled), whose
// origin also serves the web pages.
type Addrs struct {
	DNS, HTTP, ACME string
	ACMEBaseURL     string
	Issuer          string
}

// ServeAddrs is Serve that also runs the ACME server over HTTPS on
// Config.ACME.Listen, and gives ready every address once all listen.
func (s *Service) ServeAddrs(ctx context.Context, logger *slog.Logger, ready func(Addrs)) error {
	created, err := s.EnsureZones(ctx)
	if err != nil {
		return err
	}
	for _, z := range created {
		logger.Info("zone created", "zone", z)
	}
	for _, z := range s.Config.DNS.Zones {
		ds, err := s.Signer.DS(ctx, z.Name)
		if err != nil {
			return err
		}
		for _, d := range ds {
			logger.Info("publish this DS record at the parent zone", "zone", z.Name, "ds", d.String())
		}
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dnsServer, err := dnsserver.NewServer(s.Store, dnsserver.Config{
		Addr:        s.Config.DNS.Listen,
		Zones:       zoneNames(s.Config),
		Secondaries: secondaries(s.Config),
		TSIG:        tsigKeys(s.Config),
		Logger:      logger,
		Metrics:     registry,
		CacheSize:   s.Config.DNS.CacheSize,
	})
	if err != nil {
		return err
	}

	if err := dnsServer.Listen(); err != nil {
		return fmt.Errorf("listen for DNS on %s: %w", s.Config.DNS.Listen, err)
	}
	httpListener, err := net.Listen("tcp", s.Config.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen for HTTP on %s: %w", s.Config.HTTP.Listen, err)
	}
	httpServer := &http.Server{Handler: s.opsHandler(registry), ReadHeaderTimeout: 10 * time.Second}
	https, err := s.listenACME(ctx, logger, dnsServer.Addr())
	if err != nil {
		_ = httpListener.Close()
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 4)
	go func() {
		if err := https.http.Serve(https.listener); !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("ACME HTTPS server: %w", err)
			return
		}
		errs <- nil
	}()
	go func() { errs <- dnsServer.ListenAndServe(ctx) }()
	go func() {
		if err := httpServer.Serve(httpListener); !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("HTTP server: %w", err)
			return
		}
		errs <- nil
	}()
	serials := map[string]uint32{}
	for _, z := range zoneNames(s.Config) {
		if serials[z], err = s.Store.ZoneSerial(ctx, z); err != nil {
			return err
		}
	}
	go s.watchZones(ctx, logger, dnsServer, serials)
	go s.pruneACME(ctx, logger, https.acme, s.Config.ACMEPruneInterval())

	logger.Info("provider started", "dns", dnsServer.Addr(), "http", httpListener.Addr().String(),
		"acme", https.baseURL+"/directory", "zones", strings.Join(zoneNames(s.Config), " "))
	if ready != nil {
		ready(Addrs{DNS: dnsServer.Addr(), HTTP: httpListener.Addr().String(), ACME: https.listener.Addr().String(), ACMEBaseURL: https.baseURL, Issuer: s.DefaultIdentityOptions().OAuth})
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	cancel()
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = httpServer.Shutdown(shutdown)
	_ = https.http.Shutdown(shutdown)
	logger.Info("provider stopped", "err", runErr)
	return runErr
}

// watchZones sends NOTIFY when a zone's serial differs from the one in
// serials, and renews signatures that are close to expiry. It compares
// the serials every NotifyPollInterval, for changes that other processes
// wrote, and at once when this process changed a zone (zonesChanged).
func (s *Service) watchZones(ctx context.Context, logger *slog.Logger, srv *dnsserver.Server, serials map[string]uint32) {
	poll := s.notifyPoll
	if poll <= 0 {
		poll = NotifyPollInterval
	}
	notify := time.NewTicker(poll)
	defer notify.Stop()
	resign := time.NewTicker(ResignInterval)
	defer resign.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-notify.C:
			s.notifyChanged(ctx, logger, srv, serials)
		case <-s.zoneChanges():
			s.notifyChanged(ctx, logger, srv, serials)
		case <-resign.C:
			renewed := false
			for _, z := range zoneNames(s.Config) {
				n, err := s.Signer.Resign(ctx, z)
				if err != nil {
					logger.Error("re-signing failed", "zone", z, "err", err)
					continue
				}
				if n > 0 {
					renewed = true
					logger.Info("signatures renewed", "zone", z, "count", n)
				}
			}
			if renewed {
				s.notifyChanged(ctx, logger, srv, serials)
			}
		}
	}
}

// notifyChanged sends NOTIFY for each zone whose serial in the store
// differs from the one in serials, and records the new serials.
func (s *Service) notifyChanged(ctx context.Context, logger *slog.Logger, srv *dnsserver.Server, serials map[string]uint32) {
	for _, z := range zoneNames(s.Config) {
		serial, err := s.Store.ZoneSerial(ctx, z)
		if err != nil {
			logger.Warn("read zone serial failed", "zone", z, "err", err)
			continue
		}
		if old, ok := serials[z]; ok && old != serial {
			if err := srv.Notify(ctx, z); err != nil {
				logger.Warn("NOTIFY failed", "zone", z, "err", err)
			}
		}
		serials[z] = serial
	}
}

// opsHandler serves /metrics, /healthz and /readyz, and the profiles of
// net/http/pprof under /debug/pprof/ when Config.HTTP.Pprof is set.
func (s *Service) opsHandler(registry *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	if s.Config.HTTP.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := s.Store.Zones(ctx); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

func zoneNames(cfg *Config) []string {
	names := make([]string, len(cfg.DNS.Zones))
	for i, z := range cfg.DNS.Zones {
		names[i] = z.Name
	}
	return names
}

func secondaries(cfg *Config) []dnsserver.Secondary {
	out := make([]dnsserver.Secondary, len(cfg.DNS.Secondaries))
	for i, s := range cfg.DNS.Secondaries {
		out[i] = dnsserver.Secondary{Addr: s.Addr, TSIGName: s.TSIG}
	}
	return out
}

func tsigKeys(cfg *Config) map[string]string {
	keys := map[string]string{}
	for _, k := range cfg.DNS.TSIG {
		keys[k.Name] = k.Secret
	}
	return keys
}
