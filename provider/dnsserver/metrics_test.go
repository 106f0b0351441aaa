package dnsserver

import (
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, vec *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	var m dto.Metric
	if err := vec.WithLabelValues(labels...).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// waitCounter returns the counter's value once it is at least min, or
// after 5 seconds. The server counts a transfer after its last message,
// which the client may have read already.
func waitCounter(t *testing.T, vec *prometheus.CounterVec, min float64, labels ...string) float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, vec, labels...) < min && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return counterValue(t, vec, labels...)
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	w := newWorld(t, Config{Metrics: reg})
	query(t, w.addr, "udp", "alice.dhp.test.", dns.TypeTLSA)
	query(t, w.addr, "udp", "nobody.dhp.test.", dns.TypeTLSA)
	query(t, w.addr, "udp", "example.com.", dns.TypeA)

	for _, c := range []struct{ qtype, rcode string }{{"TLSA", "NOERROR"}, {"TLSA", "NXDOMAIN"}, {"A", "REFUSED"}} {
		if got := waitCounter(t, w.server.metrics.queries, 1, c.qtype, c.rcode); got != 1 {
			t.Errorf("queries{qtype=%s,rcode=%s} = %v, want 1", c.qtype, c.rcode, got)
		}
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	if !names["dnshandle_dns_queries_total"] {
		t.Errorf("registry lacks dnshandle_dns_queries_total, has %v", names)
	}

	// A second server on the same registry shares the collectors.
	if _, err := NewServer(w.st, Config{Zones: []string{testZone}, Metrics: reg}); err != nil {
		t.Errorf("second server on one registry: %v", err)
	}
}
