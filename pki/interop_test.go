package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestOpenSSLVerify(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found in PATH: install it (Debian package openssl) to run this interoperability check")
	}
	for _, kt := range []KeyType{KeyP256, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			csc := newTestCSC(t, testHandle, kt, t0)
			leaf, _ := issueTestDevice(t, csc, t0)
			dir := t.TempDir()
			cscFile := filepath.Join(dir, "csc.pem")
			leafFile := filepath.Join(dir, "leaf.pem")
			if err := os.WriteFile(cscFile, EncodeCertificates(csc.Certificate), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(leafFile, EncodeCertificates(leaf), 0o644); err != nil {
				t.Fatal(err)
			}
			at := strconv.FormatInt(t0.Add(time.Hour).Unix(), 10)

			out, err := exec.Command(openssl, "verify", "-attime", at, "-purpose", "sslclient",
				"-partial_chain", "-trusted", cscFile, leafFile).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl verify -partial_chain rejected the device certificate: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), leafFile+": OK") {
				t.Errorf("openssl verify output %q, expected %q", out, leafFile+": OK")
			}

			// Without -partial_chain OpenSSL wants a self-signed root, and the
			// CSC is not one.
			out, err = exec.Command(openssl, "verify", "-attime", at, "-trusted", cscFile, leafFile).CombinedOutput()
			if err == nil {
				t.Errorf("openssl verify without -partial_chain accepted the chain, so the CSC looks self-signed:\n%s", out)
			}
		})
	}
}

// markerCertificate returns a throwaway self-signed certificate whose
// subject is the marker. A server puts it in ClientCAs only so that Go
// lists the marker in certificate_authorities.
func markerCertificate(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: MarkerCommonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cert.RawSubject, MarkerName()) {
		t.Fatalf("marker certificate subject %x differs from MarkerName %x", cert.RawSubject, MarkerName())
	}
	return cert
}

func serverCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "server.test"},
		DNSNames:     []string{"server.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// handshake runs one TLS 1.3 handshake on loopback in which the client
// presents chain. The server requires a certificate, lists the marker in
// certificate_authorities, and accepts the chain only if VerifyPath does.
// It returns the server's handshake error and the client's
// SupportsCertificate result.
func handshake(t *testing.T, chain [][]byte, key crypto.Signer) (serverErr, supportErr error) {
	t.Helper()
	serverCert, serverRoots := serverCertificate(t)
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(markerCertificate(t))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	serverConfig := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAnyClientCert,
		ClientCAs:    clientCAs,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) != 2 {
				return fmt.Errorf("client sent %d certificates, expected leaf and CSC", len(raw))
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			csc, err := x509.ParseCertificate(raw[1])
			if err != nil {
				return err
			}
			return VerifyPath(leaf, csc, time.Now())
		},
	}
	serverDone := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			serverDone <- err
			return
		}
		defer conn.Close()
		serverDone <- tls.Server(conn, serverConfig).HandshakeContext(ctx)
	}()

	clientConfig := &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: "server.test",
		RootCAs:    serverRoots,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := &tls.Certificate{Certificate: chain, PrivateKey: key}
			supportErr = cri.SupportsCertificate(c)
			return c, nil
		},
	}
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := tls.Client(conn, clientConfig)
	// In TLS 1.3 the client finishes before the server has checked its
	// certificate, so the server's result is the one that counts. The
	// connection stays open until the server is done.
	_ = client.HandshakeContext(ctx)
	return <-serverDone, supportErr
}

func TestTLSHandshake(t *testing.T) {
	t.Parallel()
	now := time.Now()
	csc := newTestCSC(t, testHandle, KeyP256, now)
	otherCSC := newTestCSC(t, testHandle, KeyEd25519, now)
	leaf, key := issueTestDevice(t, csc, now)

	tests := []struct {
		name        string
		chain       [][]byte
		wantServer  bool // handshake succeeds at the server
		wantSupport bool // SupportsCertificate matches the marker
	}{
		{"leaf and CSC", [][]byte{leaf.Raw, csc.Certificate.Raw}, true, true},
		{"leaf only", [][]byte{leaf.Raw}, false, false},
		{"leaf with another CSC", [][]byte{leaf.Raw, otherCSC.Certificate.Raw}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			serverErr, supportErr := handshake(t, tt.chain, key)
			if tt.wantServer && serverErr != nil {
				t.Errorf("server handshake: %v", serverErr)
			}
			if !tt.wantServer && serverErr == nil {
				t.Errorf("server accepted the chain, expected a failure")
			}
			if tt.wantSupport != (supportErr == nil) {
				t.Errorf("SupportsCertificate: %v, expected a marker match: %v", supportErr, tt.wantSupport)
			}
			var pe *PathError
			if tt.name == "leaf with another CSC" && !errors.As(serverErr, &pe) {
				t.Errorf("server error %v, expected a *PathError", serverErr)
			}
		})
	}
}
