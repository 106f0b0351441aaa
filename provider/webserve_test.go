package provider

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
)

func TestMountWebUsesConfiguredResolvers(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	h := handle.Handle("carol.own.test")
	if _, err := svc.CreateIdentity(ctx, "alice", h, IdentityOptions{}); err != nil {
		t.Fatal(err)
	}

	// The own domain's zone is served without its records, so the check
	// must run and report them missing.
	zone, err := dnstest.NewZone("own.test.")
	if err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t, zone)
	svc.Config.DNS.Resolvers = []string{srv.Addr}

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := svc.mountWeb(ctx, logger, http.NewServeMux(), &tls.Config{}, "https://127.0.0.1:8443", "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if svc.Resolver == nil {
		t.Fatal("mountWeb left Service.Resolver nil with dns.resolvers set")
	}
	problems, err := svc.CheckIdentity(ctx, h)
	if err != nil && strings.Contains(err.Error(), "no resolver configured") {
		t.Fatalf("CheckIdentity = %v: the configured resolvers were not used", err)
	}
	if err == nil && len(problems) == 0 {
		t.Error("CheckIdentity verified a handle whose records are not published")
	}
}
