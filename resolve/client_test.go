package resolve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestParseUpstreams(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		cfg         Config
		wantAddr    []string
		wantTrusted []bool
		wantTLS     []bool
		wantErr     string // ConfigError field, "" for success
	}{
		{"loopback trusted by default", Config{Servers: []string{"127.0.0.1", "[::1]:5353", "192.0.2.1:53"}},
			[]string{"127.0.0.1:53", "[::1]:5353", "192.0.2.1:53"}, []bool{true, true, false}, []bool{false, false, false}, ""},
		{"bare IPv6 address", Config{Servers: []string{"2001:db8::1"}},
			[]string{"[2001:db8::1]:53"}, []bool{false}, []bool{false}, ""},
		{"DNS over TLS trusted by default", Config{Servers: []string{"tls://dns.example", "tls://192.0.2.2:8853"}},
			[]string{"dns.example:853", "192.0.2.2:8853"}, []bool{true, true}, []bool{true, true}, ""},
		{"explicit trust list", Config{Servers: []string{"127.0.0.1", "192.0.2.1"}, Trusted: []string{"192.0.2.1:53"}},
			[]string{"127.0.0.1:53", "192.0.2.1:53"}, []bool{false, true}, []bool{false, false}, ""},
		{"empty trust list", Config{Servers: []string{"127.0.0.1", "tls://dns.example"}, Trusted: []string{}},
			[]string{"127.0.0.1:53", "dns.example:853"}, []bool{false, false}, []bool{false, true}, ""},
		{"resolv.conf", Config{ResolvConf: "testdata/resolv.conf"},
			[]string{"127.0.0.1:53", "192.0.2.53:53"}, []bool{true, false}, []bool{false, false}, ""},
		{"resolv.conf without nameservers", Config{ResolvConf: "testdata/resolv-empty.conf"}, nil, nil, nil, "ResolvConf"},
		{"missing resolv.conf", Config{ResolvConf: "testdata/missing.conf"}, nil, nil, nil, "ResolvConf"},
		{"host name without TLS", Config{Servers: []string{"dns.example:53"}}, nil, nil, nil, "Servers"},
		{"unknown scheme", Config{Servers: []string{"https://dns.example"}}, nil, nil, nil, "Servers"},
		{"port out of range", Config{Servers: []string{"127.0.0.1:70000"}}, nil, nil, nil, "Servers"},
		{"invalid trust entry", Config{Servers: []string{"127.0.0.1"}, Trusted: []string{"x://y"}}, nil, nil, nil, "Trusted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ups, err := parseUpstreams(&tc.cfg)
			if tc.wantErr != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Field != tc.wantErr {
					t.Fatalf("error = %v, want *ConfigError on %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseUpstreams: %v", err)
			}
			if len(ups) != len(tc.wantAddr) {
				t.Fatalf("got %d upstreams, want %d", len(ups), len(tc.wantAddr))
			}
			for i, u := range ups {
				if u.addr != tc.wantAddr[i] || u.trusted != tc.wantTrusted[i] || (u.tls != nil) != tc.wantTLS[i] {
					t.Errorf("upstream %d = %s trusted=%v tls=%v, want %s %v %v", i, u.addr, u.trusted, u.tls != nil,
						tc.wantAddr[i], tc.wantTrusted[i], tc.wantTLS[i])
				}
			}
		})
	}
}

func TestTLSServerName(t *testing.T) {
	t.Parallel()
	u, err := parseUpstream("tls://dns.example", &tls.Config{MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	if u.tls.ServerName != "dns.example" || u.tls.MinVersion != tls.VersionTLS13 {
		t.Errorf("TLS config = ServerName %q MinVersion %x", u.tls.ServerName, u.tls.MinVersion)
	}
}

// TestTruncationFallsBackToTCP resolves an RRset too large for the EDNS
// buffer and checks, with the server's view of the transport, that a TCP
// query followed the truncated UDP answer.
func TestTruncationFallsBackToTCP(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	var udp, tcp atomic.Int32
	srv.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool {
		if r.Question[0].Qtype == dns.TypeTXT {
			if rw.RemoteAddr().Network() == "tcp" {
				tcp.Add(1)
			} else {
				udp.Add(1)
			}
		}
		return false
	})
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})

	res, err := r.Resolve(testContext(t), "big.test")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if res.ATProto.DID != didAlice {
		t.Errorf("DID = %q, want %q from the large RRset", res.ATProto.DID, didAlice)
	}
	if udp.Load() != 1 || tcp.Load() != 1 {
		t.Errorf("TXT queries: %d over UDP, %d over TCP, want 1 and 1", udp.Load(), tcp.Load())
	}
	if got := srv.QueryCount("_atproto.big.test.", dns.TypeTXT); got != 2 {
		t.Errorf("server counted %d TXT queries, want 2", got)
	}
}

// closedPort returns a loopback UDP address with nothing listening.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestUpstreamFailover(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	good := w.start(t)
	refusing := w.start(t)
	refusing.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeRefused)
		_ = rw.WriteMsg(m)
		return true
	})

	cases := []struct {
		name  string
		first string
	}{
		{"first refuses", refusing.Addr},
		{"first unreachable", closedPort(t)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResolver(t, Config{Servers: []string{tc.first, good.Addr}, TrustAnchors: w.anchors})
			res, err := r.Resolve(testContext(t), "alice.test")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.TLSAInfo.Server != good.Addr {
				t.Errorf("answer from %q, want the second upstream %q", res.TLSAInfo.Server, good.Addr)
			}
		})
	}
}

// TestLookupErrorKinds checks the typed error of each upstream failure.
func TestLookupErrorKinds(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	reply := func(rcode int) func(dns.ResponseWriter, *dns.Msg) {
		return func(rw dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(r, rcode)
			_ = rw.WriteMsg(m)
		}
	}
	cases := []struct {
		name    string
		handler func(dns.ResponseWriter, *dns.Msg)
		kind    ErrorKind
		rcode   int
	}{
		{"SERVFAIL", reply(dns.RcodeServerFailure), KindServFail, dns.RcodeServerFailure},
		{"REFUSED", reply(dns.RcodeRefused), KindRefused, dns.RcodeRefused},
		{"NOTIMP", reply(dns.RcodeNotImplemented), KindRcode, dns.RcodeNotImplemented},
		{"no response", func(dns.ResponseWriter, *dns.Msg) {}, KindTimeout, -1},
		{"garbage", func(rw dns.ResponseWriter, _ *dns.Msg) { _, _ = rw.Write([]byte{1, 2, 3, 4, 5}) }, KindMalformed, -1},
		{"wrong ID only", func(rw dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Id ^= 0x5a5a
			_ = rw.WriteMsg(m)
		}, KindMalformed, -1},
		{"wrong question only", func(rw dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Question[0].Name = "other.test."
			_ = rw.WriteMsg(m)
		}, KindMalformed, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := w.start(t)
			srv.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool { tc.handler(rw, r); return true })
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Timeout: 300 * time.Millisecond})

			_, err := r.Resolve(context.Background(), "alice.test")
			var le *LookupError
			if !errors.As(err, &le) {
				t.Fatalf("Resolve error = %v, want *LookupError", err)
			}
			if le.Kind != tc.kind || le.Rcode != tc.rcode || le.Server != srv.Addr {
				t.Errorf("LookupError = kind %v rcode %d server %q, want %v %d %q", le.Kind, le.Rcode, le.Server, tc.kind, tc.rcode, srv.Addr)
			}
			if le.Name != "alice.test." && le.Name != "_atproto.alice.test." {
				t.Errorf("LookupError name = %q", le.Name)
			}
			if st := r.Stats(); st.Errors != 2 {
				t.Errorf("Stats().Errors = %d, want 2", st.Errors)
			}
		})
	}
}

// TestMismatchedResponsesDiscarded sends a response with a wrong ID and one
// with a wrong question before the real one: both must be skipped.
func TestMismatchedResponsesDiscarded(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	srv.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool {
		good := srv.Answer(r)
		wrongID := good.Copy()
		wrongID.Id ^= 1
		wrongName := good.Copy()
		wrongName.Question[0].Name = "mallory.test."
		wrongName.Answer = nil
		_ = rw.WriteMsg(wrongID)
		_ = rw.WriteMsg(wrongName)
		_, _ = rw.Write([]byte("not dns"))
		_ = rw.WriteMsg(good)
		return true
	})
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, TrustAnchors: w.anchors})

	res, err := r.Resolve(testContext(t), "alice.test")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if len(res.TLSA) != 2 || res.TLSAInfo.Status != Secure {
		t.Errorf("result = %d TLSA, status %v, want 2 secure records", len(res.TLSA), res.TLSAInfo.Status)
	}
}

// TestTimeoutDeadline checks that a silent upstream fails the lookup at the
// caller's deadline, not at the much longer Config.Timeout.
func TestTimeoutDeadline(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	srv.SetHandler(func(dns.ResponseWriter, *dns.Msg) bool { return true })
	r := newTestResolver(t, Config{Servers: []string{srv.Addr, srv.Addr}, Timeout: time.Minute})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Resolve(ctx, "alice.test")
	elapsed := time.Since(start)

	var le *LookupError
	if !errors.As(err, &le) || le.Kind != KindTimeout {
		t.Fatalf("Resolve error = %v, want LookupError of kind timeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	// A loose bound: far below Config.Timeout, so the caller's deadline ruled.
	if elapsed > 30*time.Second {
		t.Errorf("Resolve took %v with a 200ms deadline", elapsed)
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	r := newTestResolver(t, Config{Servers: []string{"127.0.0.1:1"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Resolve(ctx, "alice.test")
	var le *LookupError
	if !errors.As(err, &le) || le.Kind != KindCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("Resolve error = %v, want LookupError of kind canceled", err)
	}
}

// TestExtendedErrorBogus checks that SERVFAIL with a DNSSEC Extended DNS
// Error is bogus from a trusted upstream and a plain failure otherwise.
func TestExtendedErrorBogus(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	srv := w.start(t)
	srv.SetHandler(func(rw dns.ResponseWriter, r *dns.Msg) bool {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		m.SetEdns0(EDNSBufferSize, true)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeSignatureExpired, ExtraText: "test signature"})
		_ = rw.WriteMsg(m)
		return true
	})

	t.Run("trusted", func(t *testing.T) {
		r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
		_, err := r.Resolve(testContext(t), "alice.test")
		var be *BogusError
		if !errors.As(err, &be) || be.Name != "alice.test." {
			t.Fatalf("Resolve error = %v, want *BogusError for alice.test.", err)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Trusted: []string{}})
		_, err := r.Resolve(testContext(t), "alice.test")
		var le *LookupError
		if !errors.As(err, &le) || le.Kind != KindServFail || le.EDE == nil {
			t.Fatalf("Resolve error = %v, want servfail LookupError with the EDE", err)
		}
	})
}

// TestDNSOverTLS serves the test zones over TLS with the AD bit set and
// checks that a tls:// upstream is queried and trusted.
func TestDNSOverTLS(t *testing.T) {
	t.Parallel()
	w := testWorld(t)
	zones := w.start(t)
	setAD(zones)

	cert, pool := loopbackCertificate(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	var queries atomic.Int32
	server := &dns.Server{Listener: l, Net: "tcp-tls", Handler: dns.HandlerFunc(func(rw dns.ResponseWriter, r *dns.Msg) {
		queries.Add(1)
		zones.ServeDNS(rw, r)
	})}
	go func() { _ = server.ActivateAndServe() }()
	t.Cleanup(func() { _ = server.Shutdown() })

	r := newTestResolver(t, Config{
		Servers:   []string{"tls://" + l.Addr().String()},
		Trusted:   []string{"tls://" + l.Addr().String()},
		TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	})
	res, err := r.Resolve(testContext(t), "alice.test")
	if err != nil {
		t.Fatalf("Resolve over TLS: %v", err)
	}
	if res.TLSAInfo.Status != Secure || len(res.TLSA) != 2 {
		t.Errorf("result = %v with %d TLSA (%s), want secure with 2", res.TLSAInfo.Status, len(res.TLSA), res.TLSAInfo.Reason)
	}
	if queries.Load() != 2 {
		t.Errorf("TLS server saw %d queries, want 2", queries.Load())
	}
}

// loopbackCertificate makes a self-signed certificate for 127.0.0.1.
func loopbackCertificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dns over tls test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestNoGoroutineLeak times out lookups against a silent upstream and waits
// for the goroutine count to return to where it was. It is not parallel, so
// other tests do not move the count.
func TestNoGoroutineLeak(t *testing.T) {
	w := testWorld(t)
	srv := w.start(t)
	srv.SetHandler(func(dns.ResponseWriter, *dns.Msg) bool { return true })
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Timeout: time.Minute})
	baseline := runtime.NumGoroutine()

	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := r.Resolve(ctx, "alice.test")
		cancel()
		var le *LookupError
		if !errors.As(err, &le) || le.Kind != KindTimeout {
			t.Fatalf("Resolve error = %v, want a timeout", err)
		}
	}

	// Goroutines end asynchronously, so poll instead of asserting at once.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after the lookups, %d before:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

// startDoT serves the signed test zones over TLS on loopback and counts
// the connections it accepts. closeAfter, when positive, makes the
// server close each connection after that many queries.
func startDoT(t testing.TB, closeAfter int) (addr string, pool *x509.CertPool, conns *atomic.Int32) {
	t.Helper()
	w := testWorld(t)
	zones := w.start(t)
	cert, pool := loopbackCertificate(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go serveDoTConn(c, zones, closeAfter)
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), pool, conns
}

// serveDoTConn answers length-prefixed queries on c with the handler of
// the test zones until the peer closes, or closeAfter queries are done.
func serveDoTConn(c net.Conn, zones interface {
	ServeDNS(dns.ResponseWriter, *dns.Msg)
}, closeAfter int) {
	defer c.Close()
	conn := &dns.Conn{Conn: c}
	for n := 1; ; n++ {
		q, err := conn.ReadMsg()
		if err != nil {
			return
		}
		rec := &recordingWriter{}
		zones.ServeDNS(rec, q)
		if rec.msg == nil || conn.WriteMsg(rec.msg) != nil {
			return
		}
		if closeAfter > 0 && n >= closeAfter {
			return
		}
	}
}

// recordingWriter is a dns.ResponseWriter that keeps the response.
type recordingWriter struct{ msg *dns.Msg }

func (w *recordingWriter) LocalAddr() net.Addr       { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (w *recordingWriter) RemoteAddr() net.Addr      { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (w *recordingWriter) WriteMsg(m *dns.Msg) error { w.msg = m; return nil }
func (w *recordingWriter) Write([]byte) (int, error) { return 0, errors.New("use WriteMsg") }
func (w *recordingWriter) Close() error              { return nil }
func (w *recordingWriter) TsigStatus() error         { return nil }
func (w *recordingWriter) TsigTimersOnly(bool)       {}
func (w *recordingWriter) Hijack()                   {}

// newDoTResolver returns a validating resolver without a cache whose one
// upstream is the DNS-over-TLS server at addr.
func newDoTResolver(t *testing.T, addr string, pool *x509.CertPool) *Resolver {
	t.Helper()
	return newTestResolver(t, Config{
		Servers:      []string{"tls://" + addr},
		TrustAnchors: testWorld(t).anchors,
		TLSConfig:    &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Cache:        CacheConfig{Disabled: true},
	})
}

// Lookups over DNS over TLS reuse one connection (RFC 7858, section 3.4).
func TestDNSOverTLSReusesConnection(t *testing.T) {
	t.Parallel()
	addr, pool, conns := startDoT(t, 0)
	r := newDoTResolver(t, addr, pool)
	for i := range 5 {
		if _, err := r.ResolveATProto(testContext(t), "alice.test"); err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the server accepted %d connections for 5 sequential lookups, want 1", n)
	}

	r.CloseIdleConnections()
	if _, err := r.ResolveATProto(testContext(t), "alice.test"); err != nil {
		t.Fatalf("lookup after CloseIdleConnections: %v", err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("connections after CloseIdleConnections and a lookup = %d, want 2", n)
	}
}

// A connection that the server closed while it was idle is replaced
// without failing the lookup.
func TestDNSOverTLSServerClosedIdle(t *testing.T) {
	t.Parallel()
	addr, pool, conns := startDoT(t, 1)
	r := newDoTResolver(t, addr, pool)
	for i := range 3 {
		if _, err := r.ResolveATProto(testContext(t), "alice.test"); err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if n := conns.Load(); n < 3 {
		t.Errorf("the server accepted %d connections, want one per lookup", n)
	}
}
