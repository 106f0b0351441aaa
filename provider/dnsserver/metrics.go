package dnsserver

import (
	"errors"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. They count even when no
// Registerer was given, so the code paths stay the same.
type metrics struct {
	queries   *prometheus.CounterVec
	transfers *prometheus.CounterVec
	notifies  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dnshandle",
			Subsystem: "dns",
			Name:      "queries_total",
			Help:      "DNS requests answered by the authoritative server, by query type and response code.",
		}, []string{"qtype", "rcode"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dnshandle",
			Subsystem: "dns",
			Name:      "transfers_total",
			Help:      "Zone transfer requests (AXFR, IXFR) by type and result: full, incremental, uptodate, refused or failed.",
		}, []string{"type", "result"}),
		notifies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dnshandle",
			Subsystem: "dns",
			Name:      "notifies_total",
			Help:      "NOTIFY messages sent to secondaries by result: acknowledged, failed (will retry) or abandoned (retries used up).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.queries, &m.transfers, &m.notifies} {
		if err := reg.Register(*c); err != nil {
			// A second server on the same registry shares the counters.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, err
			}
			*c = existing
		}
	}
	return m, nil
}

// typeLabel returns the label for a query type: its mnemonic, or "other"
// for types without one, so that the label set stays bounded.
func typeLabel(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "other"
}

// rcodeLabel returns the label for a response code, extended codes
// included, or "other" for codes without a mnemonic.
func rcodeLabel(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "other"
}
