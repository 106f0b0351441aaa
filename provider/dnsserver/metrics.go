package dnsserver

import (
	"errors"
	"sync"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. They count even when no
// Registerer was given, so the code paths stay the same.
type metrics struct {
	queries   *prometheus.CounterVec
	transfers *prometheus.CounterVec
	notifies  *prometheus.CounterVec
	warmup    *prometheus.GaugeVec

	// queryCounters holds the queries counter of each query type and
	// response code seen, keyed by queryKey, so that counting a query
	// does not hash its labels.
	queryCounters sync.Map
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
		warmup: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "dnshandle",
			Subsystem: "dns",
			Name:      "cache_warmup_seconds",
			Help:      "How long the server took to load the zone's owner names into its cache after it started; absent until the load ends.",
		}, []string{"zone"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.queries, &m.transfers, &m.notifies} {
		if err := registerShared(reg, c); err != nil {
			return nil, err
		}
	}
	if err := registerShared(reg, &m.warmup); err != nil {
		return nil, err
	}
	return m, nil
}

// registerShared registers *c with reg. When a collector of the same name
// is registered already, as it is for a second server on one registry,
// *c becomes that collector, so the servers share it.
func registerShared[T prometheus.Collector](reg prometheus.Registerer, c *T) error {
	err := reg.Register(*c)
	if err == nil {
		return nil
	}
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		return err
	}
	existing, ok := are.ExistingCollector.(T)
	if !ok {
		return err
	}
	*c = existing
	return nil
}

// countQuery adds one to the queries counter of qtype and rcode.
func (m *metrics) countQuery(qtype uint16, rcode int) {
	key := uint32(qtype)<<16 | uint32(uint16(rcode))
	if c, ok := m.queryCounters.Load(key); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	typ, code := typeLabel(qtype), rcodeLabel(rcode)
	c := m.queries.WithLabelValues(typ, code)
	if typ != "other" && code != "other" {
		// Only named labels are kept, so the map stays bounded.
		m.queryCounters.Store(key, c)
	}
	c.Inc()
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
