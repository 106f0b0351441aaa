package provider

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dnshandle/dnshandle/provider/dnsserver"
	"github.com/dnshandle/dnshandle/provider/store"
)

// Open opens the store, loads the key-encryption key and builds the
// Service of cfg. The caller closes the returned Service.
func Open(ctx context.Context, cfg *Config) (*Service, error) {
	kek, err := store.LoadKEK(cfg.KEKFile, "DNSHANDLE_KEK")
	if err != nil {
		return nil, err
	}
	sealer, err := store.NewSealer(kek)
	if err != nil {
		return nil, err
	}
	if cfg.Database == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	st, err := store.Open(ctx, cfg.DataDir, cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Service{
		Store:  st,
		Sealer: sealer,
		Signer: &dnsserver.Signer{Store: st, Sealer: sealer},
		Config: cfg,
	}, nil
}

// Close closes the store.
func (s *Service) Close() error {
	return s.Store.Close()
}

// NewLogger returns the slog logger that cfg describes, writing to w.
func NewLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
