package verify

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

// BenchmarkMutualHandshake compares TLS 1.3 mutual-authentication
// handshakes per second with the DNS handle verifier (ServerConfig, warm
// resolver cache) against the baseline of plain crypto/tls mutual TLS that
// trusts the identity's CSC as a static root (ClientCAs,
// RequireAndVerifyClientCert). Both use the same server and client keys
// (P-256), the same client configuration and the default key exchange
// groups of crypto/tls, each handshake over a new loopback TCP connection.
//
// Each sub-benchmark times its own handshakes (ns/op, handshakes/s) and,
// with the timer stopped, runs one handshake of the other configuration
// after each of its own. The metric dnshandle/plain is the ratio of the
// two rates from these pairs, so both sub-benchmarks report a ratio
// measured under the same machine load.
func BenchmarkMutualHandshake(b *testing.B) {
	w := newWorld(b)
	rp := newServerIdentity(b)

	v := w.verifier()
	dnshandleCfg := ServerConfig(&tls.Config{Certificates: []tls.Certificate{rp.cert}}, v)
	roots := x509.NewCertPool()
	roots.AddCert(w.alice.csc.Certificate)
	plainCfg := &tls.Config{
		Certificates: []tls.Certificate{rp.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
		MinVersion:   tls.VersionTLS13,
	}
	clientCfg := rp.clientBase()
	clientCfg.Certificates = []tls.Certificate{w.alice.tlsCertificate()}

	// Warm up: the first handshakes fill the resolver cache.
	for range 20 {
		mustHandshake(b, plainCfg, clientCfg)
		mustHandshake(b, dnshandleCfg, clientCfg)
	}

	b.Run("plain-mtls", func(b *testing.B) {
		own, other := runPaired(b, plainCfg, dnshandleCfg, clientCfg)
		b.ReportMetric(own, "handshakes/s")
		b.ReportMetric(other/own, "dnshandle/plain")
	})
	b.Run("dnshandle", func(b *testing.B) {
		own, other := runPaired(b, dnshandleCfg, plainCfg, clientCfg)
		b.ReportMetric(own, "handshakes/s")
		b.ReportMetric(own/other, "dnshandle/plain")
	})
}

// runPaired times b.N handshakes with own and, untimed, b.N handshakes with
// other, one after each of own. It returns both rates per second.
func runPaired(b *testing.B, own, other, clientCfg *tls.Config) (ownRate, otherRate float64) {
	b.Helper()
	b.ReportAllocs()
	var otherTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustHandshake(b, own, clientCfg)

		b.StopTimer()
		start := time.Now()
		mustHandshake(b, other, clientCfg)
		otherTime += time.Since(start)
		b.StartTimer()
	}
	b.StopTimer()
	return float64(b.N) / b.Elapsed().Seconds(), float64(b.N) / otherTime.Seconds()
}

func mustHandshake(b *testing.B, serverCfg, clientCfg *tls.Config) {
	res := handshake(b, serverCfg, clientCfg)
	if res.serverErr != nil || res.clientErr != nil {
		b.Fatalf("handshake failed: server %v, client %v", res.serverErr, res.clientErr)
	}
	if len(res.serverState.PeerCertificates) == 0 {
		b.Fatal("the client sent no certificate")
	}
}
