package provider

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		enabled bool
		want    int
	}{
		{"off by default", false, http.StatusNotFound},
		{"on", true, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := &Service{Config: &Config{HTTP: HTTPConfig{Pprof: tc.enabled}}}
			h := svc.opsHandler(prometheus.NewRegistry())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/goroutine?debug=1", nil))
			if rec.Code != tc.want {
				t.Fatalf("GET /debug/pprof/goroutine: status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

func TestPprofFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{{"1", true}, {"true", true}, {"on", true}, {"0", false}, {"false", false}, {"", true}} {
		t.Run("value "+tc.value, func(t *testing.T) {
			// The file sets pprof; only a value in the environment changes it.
			cfg := &Config{HTTP: HTTPConfig{Pprof: true}}
			cfg.applyEnv(func(name string) string {
				if name == "DNSHANDLE_HTTP_PPROF" {
					return tc.value
				}
				return ""
			})
			if cfg.HTTP.Pprof != tc.want {
				t.Fatalf("DNSHANDLE_HTTP_PPROF=%q: pprof %v, want %v", tc.value, cfg.HTTP.Pprof, tc.want)
			}
		})
	}
}
