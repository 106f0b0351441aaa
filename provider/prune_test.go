package provider

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/store"
)

func TestACMEPruneIntervalConfig(t *testing.T) {
	tests := []struct {
		name, text string
		want       time.Duration
		wantErr    string
	}{
		{"Default", "", DefaultACMEPruneInterval, ""},
		{"Set", "[acme]\nprune_interval = \"30m\"\n", 30 * time.Minute, ""},
		{"NoUnit", "[acme]\nprune_interval = \"10\"\n", 0, `prune_interval "10" is not a duration`},
		{"TooShort", "[acme]\nprune_interval = \"30s\"\n", 0, "shorter than a minute"},
		{"Integer", "[acme]\nprune_interval = 600\n", 0, `put it in double quotes: prune_interval = "600"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadConfig(writeConfig(t, tc.text))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadConfig = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.ACMEPruneInterval(); got != tc.want {
				t.Errorf("ACMEPruneInterval = %v, want %v", got, tc.want)
			}
		})
	}
}

// recordHandler is a slog.Handler that sends each record to a channel.
type recordHandler chan slog.Record

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h <- r.Clone()
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// TestPruneACMEAtStart runs the prune loop of Serve on a store with an
// expired enrollment credential: the run at start deletes it and logs one
// line with the counts.
func TestPruneACMEAtStart(t *testing.T) {
	svc := testService(t)
	ctx := t.Context()
	h := handle.Handle("carol.dhp.test")
	if _, err := svc.CreateIdentity(ctx, "alice", h, IdentityOptions{}); err != nil {
		t.Fatal(err)
	}
	minted := time.Now()
	svc.Now = func() time.Time { return minted }
	en, err := svc.NewEnrollment(ctx, h, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = func() time.Time { return minted.Add(2 * time.Hour) }
	srv, err := svc.NewACMEServer(svc.Config.ACMEBaseURL(), nil)
	if err != nil {
		t.Fatal(err)
	}

	records := make(recordHandler, 4)
	loopCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		svc.pruneACME(loopCtx, slog.New(records), srv, time.Hour)
		close(done)
	}()
	var r slog.Record
	select {
	case r = <-records:
	case <-time.After(30 * time.Second):
		t.Fatal("no log line from the prune at start within 30s")
	}
	cancel()
	<-done

	if r.Level != slog.LevelInfo || r.Message != "expired ACME records pruned" {
		t.Errorf("log line %s %q, want INFO \"expired ACME records pruned\"", r.Level, r.Message)
	}
	counts := map[string]int64{}
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindInt64 {
			counts[a.Key] = a.Value.Int64()
		}
		return true
	})
	want := map[string]int64{"orders": 0, "credentials": 1, "nonces": 0}
	for k, v := range want {
		if got, ok := counts[k]; !ok || got != v {
			t.Errorf("log attribute %s = %d (present %t), want %d", k, got, ok, v)
		}
	}
	if _, err := svc.Store.Enrollment(ctx, en.KeyID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Enrollment after the prune at start: %v, want ErrNotFound", err)
	}
}
