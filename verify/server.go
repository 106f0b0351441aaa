package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"sync"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// ServerConfig returns a copy of base (nil means a zero tls.Config) for a
// server that accepts DNS handle logins with v:
//
//   - MinVersion is TLS 1.3, and a lower MaxVersion is cleared, so a TLS 1.2
//     client fails the handshake with a protocol_version alert.
//   - ClientAuth is tls.RequestClientCert: a client without a certificate
//     completes the handshake and reaches the handler, which can reply 401
//     (see RequireIdentity). crypto/tls itself verifies nothing.
//   - ClientCAs holds a single certificate whose subject is the profile
//     marker DN (pki.Marker). crypto/tls (Go 1.26) fills the
//     certificate_authorities of its CertificateRequest from
//     ClientCAs.Subjects() only, so this is how the marker reaches the
//     client. With RequestClientCert crypto/tls never verifies against
//     ClientCAs, and the key of that certificate is discarded, so it grants
//     no trust even if ClientAuth were raised later.
//   - VerifyConnection runs base's VerifyConnection, then verifies a
//     presented chain with v.VerifyConnectionState and records the
//     Identity for Middleware. crypto/tls gives VerifyConnection no
//     context, so the verification runs under context.Background() and is
//     bounded by v.Timeout. A failure aborts the handshake: Go 1.26
//     crypto/tls then sends a bad_certificate alert, which says nothing
//     about the step that failed, and the *Error becomes the server's
//     handshake error (for http.Server, a line in its ErrorLog).
//   - When base has GetConfigForClient, each configuration it returns gets
//     the same settings, with verification under the handshake's context.
//
// Later changes to the returned configuration, such as the Certificates
// and NextProtos that http.Server and httptest add, are kept. v must not
// be nil. Like any tls.Config, the result is safe for concurrent use.
func ServerConfig(base *tls.Config, v *Verifier) *tls.Config {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	applyServerSettings(context.Background(), cfg, v, cfg.VerifyConnection)

	if forClient := cfg.GetConfigForClient; forClient != nil {
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := forClient(hello)
			if err != nil || c == nil {
				return c, err
			}
			c = c.Clone()
			applyServerSettings(hello.Context(), c, v, c.VerifyConnection)
			return c, nil
		}
	}
	return cfg
}

// applyServerSettings sets the fields that ServerConfig documents. The new
// VerifyConnection runs baseVerify first and then verifies under ctx.
func applyServerSettings(ctx context.Context, c *tls.Config, v *Verifier, baseVerify func(tls.ConnectionState) error) {
	c.MinVersion = tls.VersionTLS13
	if c.MaxVersion != 0 && c.MaxVersion < tls.VersionTLS13 {
		c.MaxVersion = 0
	}
	c.ClientAuth = tls.RequestClientCert
	c.ClientCAs = markerPool()

	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if baseVerify != nil {
			if err := baseVerify(cs); err != nil {
				return err
			}
		}
		if len(cs.PeerCertificates) == 0 {
			return nil
		}
		id, err := v.VerifyConnectionState(ctx, cs)
		if err != nil {
			return err
		}
		v.remember(&cs, id)
		return nil
	}
}

// MarkerPool returns a certificate pool with one certificate whose subject
// is the profile marker DN. A server that sets it as tls.Config.ClientCAs
// lists the marker in certificate_authorities, so devices offer their
// DNS-handle chains. The certificate's key is discarded, so it grants no
// trust. Each call returns a new copy.
func MarkerPool() *x509.CertPool { return markerPool().Clone() }

// markerPool returns the pool that carries the marker DN. It is built once.
var markerPool = sync.OnceValue(func() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(markerCertificate())
	return pool
})

// markerCertificate makes a self-signed certificate whose subject is the
// marker DN, byte for byte as pki.MarkerName encodes it. Its key is
// discarded at once.
func markerCertificate() *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("verify: generate marker key: " + err.Error())
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		RawSubject:   pki.MarkerName(),
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Unix(0, 0).Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		panic("verify: create marker certificate: " + err.Error())
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic("verify: parse marker certificate: " + err.Error())
	}
	return cert
}
