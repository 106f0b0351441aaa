package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider"
)

// runningProvider is a DNS Handle Provider serving on loopback.
type runningProvider struct {
	svc     *provider.Service
	addrs   provider.Addrs
	kekFile string
	stop    func() error
}

// startProvider runs a provider for ProviderZone with its data (SQLite
// database, sealed keys, ACME HTTPS certificate) under dir and a fresh
// key-encryption key in dir/kek.hex.
func startProvider(ctx context.Context, dir string) (*runningProvider, error) {
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		return nil, err
	}
	kekFile := filepath.Join(dir, "kek.hex")
	if err := os.WriteFile(kekFile, []byte(hex.EncodeToString(kek)+"\n"), 0o600); err != nil {
		return nil, err
	}
	acmeAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}

	cfg := &provider.Config{DataDir: filepath.Join(dir, "provider"), KEKFile: kekFile}
	cfg.DNS.Listen, cfg.HTTP.Listen, cfg.ACME.Listen = "127.0.0.1:0", "127.0.0.1:0", acmeAddr
	cfg.DNS.Zones = []provider.ZoneConfig{{Name: ProviderZone}}
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	svc, err := provider.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan provider.Addrs, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The OpenID provider library logs through slog's default logger;
	// the demo prints its own account of each step instead.
	slog.SetDefault(logger)
	go func() { done <- svc.ServeAddrs(ctx, logger, func(a provider.Addrs) { ready <- a }) }()
	p := &runningProvider{svc: svc, kekFile: kekFile}
	p.stop = func() error {
		cancel()
		err := <-done
		if cerr := svc.Close(); err == nil {
			err = cerr
		}
		return err
	}
	select {
	case p.addrs = <-ready:
		return p, nil
	case err := <-done:
		cancel()
		_ = svc.Close()
		return nil, fmt.Errorf("start the provider: %w", err)
	}
}

// trustAnchor returns the DS of the provider zone, the relying party's
// only trust anchor in the demo.
func (p *runningProvider) trustAnchor(ctx context.Context) ([]dns.RR, error) {
	ds, err := p.svc.Signer.DS(ctx, ProviderZone)
	if err != nil {
		return nil, err
	}
	anchors := make([]dns.RR, len(ds))
	for i, d := range ds {
		anchors[i] = d
	}
	return anchors, nil
}

// freeLoopbackAddr returns a 127.0.0.1 address whose TCP port was free a
// moment ago; the ACME server's base URL must be known before it starts.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
