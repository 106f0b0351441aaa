package provider

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/dnsserver"
	"github.com/dnshandle/dnshandle/provider/store"
)

// Open opens the store, loads the key-encryption key and builds the
// Service of cfg. The caller closes the returned Service.
func Open(ctx context.Context, cfg *Config) (*Service, error) {
	kek, err := store.LoadKEK(cfg.KEKFile, "DNSHANDLE_KEK")
	if err != nil {
		if cfg.KEKFile == "" && cfg.Database == "" {
			if _, statErr := os.Stat(filepath.Join(cfg.DataDir, store.SQLiteFileName)); statErr == nil {
				// A new key would not open the keys already sealed.
				return nil, fmt.Errorf("load key-encryption key: the store in %s exists, so give the key it was created with, in --kek-file or DNSHANDLE_KEK", cfg.DataDir)
			}
		}
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
	svc := &Service{
		Store:  st,
		Sealer: sealer,
		Signer: &dnsserver.Signer{Store: st, Sealer: sealer},
		Config: cfg,
	}
	if err := svc.adoptStoredZones(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return svc, nil
}

// adoptStoredZones checks that the key-encryption key opens the keys of
// the zones in the store, so that a wrong key fails here instead of
// leaving identities whose keys nobody can open. It then adds the stored
// zones missing from the configuration, so that commands such as
// "dnshandle admin identity create" host handles under every zone the
// provider serves without repeating --zone.
func (s *Service) adoptStoredZones(ctx context.Context) error {
	zones, err := s.Store.Zones(ctx)
	if err != nil {
		return fmt.Errorf("read zones: %w", err)
	}
	configured := map[string]bool{}
	for _, z := range s.Config.DNS.Zones {
		configured[z.Name] = true
	}
	for _, z := range zones {
		keys, err := s.Store.ZoneKeys(ctx, z.Name)
		if err != nil {
			return fmt.Errorf("read the keys of zone %s: %w", z.Name, err)
		}
		for _, k := range keys {
			purpose := "zsk:" + z.Name
			if k.Flags&dns.SEP != 0 {
				purpose = "ksk:" + z.Name
			}
			if _, err := s.Sealer.Open(k.PrivateKey, purpose); err != nil {
				return fmt.Errorf("the key-encryption key does not open the keys of zone %s in this store: give the key the store was created with (--kek-file or DNSHANDLE_KEK): %w", z.Name, err)
			}
		}
		if !configured[z.Name] {
			s.Config.DNS.Zones = append(s.Config.DNS.Zones, ZoneConfig{Name: z.Name})
		}
	}
	return s.Config.Normalize()
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
