package provider

import (
	"context"
	"log/slog"
	"time"

	"github.com/dnshandle/dnshandle/provider/acme"
)

// pruneACME deletes the ACME server's expired records once at start and
// then every interval, until ctx ends, and logs one line per run with the
// counts. Every replica on a shared database prunes. A row is deleted once,
// by the first run that reaches it, and the other runs find it gone.
func (s *Service) pruneACME(ctx context.Context, logger *slog.Logger, srv *acme.Server, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		start := time.Now()
		n, err := srv.Prune(ctx)
		if ctx.Err() != nil {
			return
		}
		attrs := []any{"orders", n.Orders, "credentials", n.Credentials, "nonces", n.Nonces,
			"duration", time.Since(start).Round(time.Millisecond)}
		if err != nil {
			logger.Warn("pruning expired ACME records failed; it runs again at the next interval", append(attrs, "err", err)...)
		} else {
			logger.Info("expired ACME records pruned", attrs...)
		}

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
