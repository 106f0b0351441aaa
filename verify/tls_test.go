package verify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// serverIdentity is the relying party's own certificate for "rp.test",
// under a test root that clients trust.
type serverIdentity struct {
	cert  tls.Certificate
	roots *x509.CertPool
}

func newServerIdentity(t testing.TB) serverIdentity {
	t.Helper()
	rootKey := newKey(t, pki.KeyP256)
	rootTemplate := cscTemplate("RP Test Root")
	rootTemplate.MaxPathLenZero = false
	rootTemplate.MaxPathLen = -1
	root := selfSigned(t, rootTemplate, rootKey)

	key := newKey(t, pki.KeyP256)
	template := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "rp.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"rp.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leaf := issueLeaf(t, template, root, key.Public(), rootKey)

	roots := x509.NewCertPool()
	roots.AddCert(root)
	return serverIdentity{
		cert:  tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf},
		roots: roots,
	}
}

// handshakeResult is what each side of one handshake saw.
type handshakeResult struct {
	serverErr   error
	clientErr   error
	serverState tls.ConnectionState
	clientState tls.ConnectionState
}

// handshake runs one TLS handshake over a loopback TCP connection. The
// client then reads once, so that it receives any alert the server sends
// after the client's handshake finished (in TLS 1.3 the server checks the
// client certificate after the client's Finished).
func handshake(t testing.TB, serverCfg, clientCfg *tls.Config) handshakeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer listener.Close()

	var res handshakeResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := listener.Accept()
		if err != nil {
			res.serverErr = err
			return
		}
		defer conn.Close()
		server := tls.Server(conn, serverCfg)
		res.serverErr = server.HandshakeContext(ctx)
		if res.serverErr == nil {
			res.serverState = server.ConnectionState()
			_, _ = server.Write([]byte("ok"))
		}
	}()

	dialer := &tls.Dialer{Config: clientCfg}
	conn, err := dialer.DialContext(ctx, "tcp", listener.Addr().String())
	res.clientErr = err
	if err == nil {
		client := conn.(*tls.Conn)
		res.clientState = client.ConnectionState()
		buf := make([]byte, 2)
		_, res.clientErr = io.ReadFull(client, buf)
		_ = conn.Close()
	}
	<-done
	return res
}

func (s serverIdentity) clientBase() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: "rp.test"}
}

func TestHandshakeVerifiesDeviceCertificate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newServerIdentity(t)
	v := w.verifier()
	serverCfg := ServerConfig(&tls.Config{Certificates: []tls.Certificate{rp.cert}}, v)

	client := &Client{Certificates: []tls.Certificate{w.alice.tlsCertificate()}, Base: rp.clientBase()}
	res := handshake(t, serverCfg, client.Config("rp.test"))
	if res.serverErr != nil || res.clientErr != nil {
		t.Fatalf("handshake failed: server %v, client %v", res.serverErr, res.clientErr)
	}

	if n := len(res.serverState.PeerCertificates); n != 2 {
		t.Fatalf("server received %d certificates, want [leaf, CSC]", n)
	}
	key, ok := connectionKey(&res.serverState)
	if !ok {
		t.Fatal("no connection key for a TLS 1.3 connection")
	}
	clientKey, _ := connectionKey(&res.clientState)
	if key != clientKey {
		t.Error("client and server export different connection keys")
	}
	id := v.conns.get(key, time.Now())
	if id == nil {
		t.Fatal("the handshake recorded no Identity for the connection")
	}
	if id.Handle != w.alice.h || id.DID != w.alice.csc.DID.String() {
		t.Errorf("recorded Identity %+v, want alice", *id)
	}
}

func TestHandshakeSendsMarker(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newServerIdentity(t)
	serverCfg := ServerConfig(&tls.Config{Certificates: []tls.Certificate{rp.cert}}, w.verifier())

	var acceptable [][]byte
	clientCfg := rp.clientBase()
	clientCfg.GetClientCertificate = func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		acceptable = req.AcceptableCAs
		return &tls.Certificate{}, nil
	}
	res := handshake(t, serverCfg, clientCfg)
	if res.serverErr != nil || res.clientErr != nil {
		t.Fatalf("handshake failed: server %v, client %v", res.serverErr, res.clientErr)
	}
	if len(acceptable) != 1 || !bytes.Equal(acceptable[0], pki.MarkerName()) {
		t.Errorf("certificate_authorities = %x, want only the marker %x", acceptable, pki.MarkerName())
	}
	if len(res.serverState.PeerCertificates) != 0 {
		t.Error("server saw a certificate from a client that sent none")
	}
}

func TestHandshakeRejectsBadChain(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newServerIdentity(t)
	serverCfg := ServerConfig(&tls.Config{Certificates: []tls.Certificate{rp.cert}}, w.verifier())

	// Alice's CSC signs a device certificate for bob.
	chain := leafFrom(t, w.alice, "bob.dhp.test", nil)
	key := newKey(t, pki.KeyP256)
	chain[0] = issueLeaf(t, leafTemplate("bob.dhp.test", w.alice.csc.DID.String()), w.alice.csc.Certificate, key.Public(), w.alice.csc.Key)
	cert := tls.Certificate{Certificate: [][]byte{chain[0].Raw, chain[1].Raw}, PrivateKey: key}

	clientCfg := ClientConfig(cert)
	clientCfg.RootCAs, clientCfg.ServerName = rp.roots, "rp.test"
	res := handshake(t, serverCfg, clientCfg)

	verr, ok := errors.AsType[*Error](res.serverErr)
	if !ok {
		t.Fatalf("server handshake error %v is not a *verify.Error", res.serverErr)
	}
	if verr.Step != StepTLSA {
		t.Errorf("server failed at step %s, want tlsa", verr.Step)
	}
	// Go 1.26 crypto/tls sends bad_certificate for a VerifyConnection error.
	if res.clientErr == nil || !strings.Contains(res.clientErr.Error(), "bad certificate") {
		t.Errorf("client error = %v, want a bad_certificate alert", res.clientErr)
	}
	if strings.Contains(res.clientErr.Error(), "tlsa") {
		t.Errorf("client error %q reveals the failed step", res.clientErr)
	}
}

func TestHandshakeRejectsTLS12Client(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newServerIdentity(t)
	serverCfg := ServerConfig(&tls.Config{Certificates: []tls.Certificate{rp.cert}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}, w.verifier())
	if serverCfg.MinVersion != tls.VersionTLS13 || serverCfg.MaxVersion != 0 {
		t.Fatalf("ServerConfig kept versions %x..%x", serverCfg.MinVersion, serverCfg.MaxVersion)
	}

	clientCfg := rp.clientBase()
	clientCfg.MaxVersion = tls.VersionTLS12
	clientCfg.Certificates = []tls.Certificate{w.alice.tlsCertificate()}
	res := handshake(t, serverCfg, clientCfg)
	if res.serverErr == nil || res.clientErr == nil {
		t.Fatalf("TLS 1.2 handshake succeeded: server %v, client %v", res.serverErr, res.clientErr)
	}
	if !strings.Contains(res.clientErr.Error(), "protocol version") {
		t.Errorf("client error = %v, want a protocol_version alert", res.clientErr)
	}
}

func TestVerifyConnectionStateRealTLS12(t *testing.T) {
	t.Parallel()
	// A TLS 1.2 connection made without ServerConfig must still fail when
	// its state reaches the verifier, before any DNS query.
	w := newWorld(t)
	rp := newServerIdentity(t)
	serverCfg := &tls.Config{Certificates: []tls.Certificate{rp.cert}, ClientAuth: tls.RequestClientCert, MaxVersion: tls.VersionTLS12}
	clientCfg := rp.clientBase()
	clientCfg.Certificates = []tls.Certificate{w.alice.tlsCertificate()}
	res := handshake(t, serverCfg, clientCfg)
	if res.serverErr != nil {
		t.Fatalf("TLS 1.2 handshake: %v", res.serverErr)
	}
	if res.serverState.Version != tls.VersionTLS12 || len(res.serverState.PeerCertificates) == 0 {
		t.Fatalf("got version %x with %d certificates", res.serverState.Version, len(res.serverState.PeerCertificates))
	}

	id, err := w.verifier().VerifyConnectionState(context.Background(), res.serverState)
	verr := assertStep(t, id, err, StepTLS)
	if _, ok := errors.AsType[*VersionError](verr); !ok {
		t.Errorf("cause is %T, want *VersionError", verr.Err)
	}
	if n := w.queriesFor("alice.dhp.test"); n != 0 {
		t.Errorf("a TLS 1.2 connection caused %d DNS queries", n)
	}
}

func TestClientChoosesCertificate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newServerIdentity(t)
	serverCfg := ServerConfig(&tls.Config{Certificates: []tls.Certificate{rp.cert}}, w.verifier())
	plainServerCfg := &tls.Config{Certificates: []tls.Certificate{rp.cert}, ClientAuth: tls.RequestClientCert}

	leafOnly := w.alice.tlsCertificate()
	leafOnly.Certificate = leafOnly.Certificate[:1]
	alice, bob := w.alice.tlsCertificate(), w.bob.tlsCertificate()

	cases := []struct {
		name   string
		server *tls.Config
		client *Client
		want   handle.Handle // "" means no certificate
	}{
		{name: "first suitable certificate", server: serverCfg,
			client: &Client{Certificates: []tls.Certificate{alice, bob}}, want: w.alice.h},
		{name: "site choice", server: serverCfg,
			client: &Client{Certificates: []tls.Certificate{alice, bob}, SiteChoice: map[string]handle.Handle{"rp.test": w.bob.h}}, want: w.bob.h},
		{name: "site choice for another site", server: serverCfg,
			client: &Client{Certificates: []tls.Certificate{alice, bob}, SiteChoice: map[string]handle.Handle{"other.test": w.bob.h}}, want: w.alice.h},
		{name: "chosen handle without certificate", server: serverCfg,
			client: &Client{Certificates: []tls.Certificate{alice, bob}, SiteChoice: map[string]handle.Handle{"rp.test": w.carol.h}}, want: ""},
		{name: "leaf without CSC and marker list", server: serverCfg,
			client: &Client{Certificates: []tls.Certificate{leafOnly}}, want: ""},
		{name: "leaf without CSC and no CA list", server: plainServerCfg,
			client: &Client{Certificates: []tls.Certificate{leafOnly}}, want: ""},
		{name: "complete chain and no CA list", server: plainServerCfg,
			client: &Client{Certificates: []tls.Certificate{leafOnly, bob}}, want: w.bob.h},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.client.Base = rp.clientBase()
			res := handshake(t, tc.server, tc.client.Config("rp.test"))
			if res.serverErr != nil || res.clientErr != nil {
				t.Fatalf("handshake failed: server %v, client %v", res.serverErr, res.clientErr)
			}
			peers := res.serverState.PeerCertificates
			if tc.want == "" {
				if len(peers) != 0 {
					t.Errorf("client sent %s, want no certificate", peers[0].DNSNames)
				}
				return
			}
			if len(peers) != 2 || peers[0].DNSNames[0] != string(tc.want) {
				t.Fatalf("client sent %d certificates, want [leaf, CSC] of %s", len(peers), tc.want)
			}
			if res.clientState.Version != tls.VersionTLS13 {
				t.Errorf("client negotiated version %x, want TLS 1.3", res.clientState.Version)
			}
		})
	}
}

func TestServerConfigKeepsBase(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newServerIdentity(t)
	baseCalled := make(chan struct{}, 1)
	base := &tls.Config{
		Certificates: []tls.Certificate{rp.cert},
		NextProtos:   []string{"h2"},
		VerifyConnection: func(tls.ConnectionState) error {
			baseCalled <- struct{}{}
			return nil
		},
	}
	cfg := ServerConfig(base, w.verifier())
	if base.ClientAuth != tls.NoClientCert || base.ClientCAs != nil {
		t.Error("ServerConfig changed its base")
	}
	if cfg.ClientAuth != tls.RequestClientCert {
		t.Errorf("ClientAuth = %v, want RequestClientCert", cfg.ClientAuth)
	}
	if len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != "h2" {
		t.Errorf("NextProtos = %v, want base's", cfg.NextProtos)
	}

	clientCfg := ClientConfig(w.alice.tlsCertificate())
	clientCfg.RootCAs, clientCfg.ServerName = rp.roots, "rp.test"
	res := handshake(t, cfg, clientCfg)
	if res.serverErr != nil {
		t.Fatalf("handshake: %v", res.serverErr)
	}
	select {
	case <-baseCalled:
	default:
		t.Error("base VerifyConnection was not called")
	}
}

func TestServerConfigWrapsGetConfigForClient(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newServerIdentity(t)
	perClient := &tls.Config{Certificates: []tls.Certificate{rp.cert}}
	base := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return perClient, nil }}
	cfg := ServerConfig(base, w.verifier())

	// A chain that fails must fail through the per-client configuration too.
	bad := leafFrom(t, w.alice, "bob.dhp.test", nil)
	key := newKey(t, pki.KeyP256)
	bad[0] = issueLeaf(t, leafTemplate("bob.dhp.test", w.alice.csc.DID.String()), w.alice.csc.Certificate, key.Public(), w.alice.csc.Key)
	clientCfg := ClientConfig(tls.Certificate{Certificate: [][]byte{bad[0].Raw, bad[1].Raw}, PrivateKey: key})
	clientCfg.RootCAs, clientCfg.ServerName = rp.roots, "rp.test"

	res := handshake(t, cfg, clientCfg)
	if verr, ok := errors.AsType[*Error](res.serverErr); !ok || verr.Step != StepTLSA {
		t.Errorf("server error = %v, want a *verify.Error at tlsa", res.serverErr)
	}
}

func TestResumedHandshakeIsVerifiedAgain(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rp := newServerIdentity(t)

	// The CRL source revokes alice's device once revoked is set.
	var revoked atomic.Bool
	now := time.Now()
	clean := createCRL(t, w.alice.csc, nil, now.Add(-time.Hour), now.Add(time.Hour))
	listing := createCRL(t, w.alice.csc, []pki.RevokedCert{{Serial: w.alice.leaf.SerialNumber, RevokedAt: now}}, now.Add(-time.Hour), now.Add(time.Hour))
	v := w.verifier(func(v *Verifier) {
		v.CRLs = CRLSourceFunc(func(context.Context, *x509.Certificate) ([]byte, error) {
			if revoked.Load() {
				return listing, nil
			}
			return clean, nil
		})
	})
	serverCfg := ServerConfig(&tls.Config{Certificates: []tls.Certificate{rp.cert}}, v)
	client := &Client{Certificates: []tls.Certificate{w.alice.tlsCertificate()}, Base: rp.clientBase()}
	clientCfg := client.Config("rp.test")
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)

	first := handshake(t, serverCfg, clientCfg)
	if first.serverErr != nil || first.clientErr != nil {
		t.Fatalf("first handshake: server %v, client %v", first.serverErr, first.clientErr)
	}

	second := handshake(t, serverCfg, clientCfg)
	if second.serverErr != nil || !second.serverState.DidResume {
		t.Fatalf("second handshake: error %v, resumed %v", second.serverErr, second.serverState.DidResume)
	}
	key, _ := connectionKey(&second.serverState)
	if id := v.conns.get(key, time.Now()); id == nil || id.Handle != w.alice.h {
		t.Errorf("resumed connection recorded %v, want alice", id)
	}

	revoked.Store(true)
	third := handshake(t, serverCfg, clientCfg)
	verr, ok := errors.AsType[*Error](third.serverErr)
	if !ok || verr.Step != StepRevocation {
		t.Errorf("resumption after revocation: server error %v, want a *verify.Error at revocation", third.serverErr)
	}
}
