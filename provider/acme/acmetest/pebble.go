package acmetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"

	"github.com/dnshandle/dnshandle/pki"
)

// PebbleCerts is the number of certificates the pebble baseline issues to
// measure its rate.
const PebbleCerts = 96

// pebbleName is the DNS identifier of the baseline's orders. Pebble's
// always-valid mode accepts any name, so it only has to be well formed.
const pebbleName = "alice.dhp.test"

var pebbleOnce struct {
	sync.Once
	rate float64
	note string
}

// PebbleRate measures pebble once per test binary and returns the same
// result to every later call, so each benchmark of the binary compares
// against one baseline. It starts Debian's pebble on loopback with
// PEBBLE_VA_ALWAYS_VALID=1, PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0,
// issues PebbleCerts certificates with Clients clients, stops it and returns
// the rate in certificates per second. It returns 0 and the reason when
// pebble is not installed or fails. Safe for concurrent use.
//
// NOTE: pebble finalizes orders and validates challenges asynchronously, and
// the WaitOrder and WaitAuthorization methods of golang.org/x/crypto/acme
// v0.59.0 sleep 1 s before each new poll unless the server sends
// Retry-After. The baseline therefore measures client latency more than
// pebble's capacity: it rose from about 12 to about 41 certificates per
// second when Clients went from 8 to 32 on a 2-core machine.
func PebbleRate(b *testing.B) (float64, string) {
	pebbleOnce.Do(func() {
		pebbleOnce.rate, pebbleOnce.note = measurePebble(b)
	})
	return pebbleOnce.rate, pebbleOnce.note
}

func measurePebble(b *testing.B) (float64, string) {
	path, err := exec.LookPath("pebble")
	if err != nil {
		return 0, "pebble not found: install the Debian package pebble for the baseline"
	}
	dir := b.TempDir()
	certFile, keyFile, pool, err := writeLoopbackCert(dir)
	if err != nil {
		return 0, "pebble baseline: " + err.Error()
	}
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port()))
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        net.JoinHostPort("127.0.0.1", strconv.Itoa(port())),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       port(),
		"tlsPort":                        port(),
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	cfgFile := filepath.Join(dir, "pebble.json")
	raw, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgFile, raw, 0o644); err != nil {
		return 0, "pebble baseline: " + err.Error()
	}

	cmd := exec.Command(path, "-config", cfgFile)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	if err := cmd.Start(); err != nil {
		return 0, "pebble baseline: " + err.Error()
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	dirURL := "https://" + listen + "/dir"
	if err := waitReady(hc, dirURL); err != nil {
		return 0, "pebble baseline: " + err.Error()
	}
	ctx := context.Background()
	var clients []*xacme.Client
	for range Clients {
		c := newClient(b, dirURL, hc)
		if _, err := c.Register(ctx, &xacme.Account{}, xacme.AcceptTOS); err != nil {
			return 0, "pebble baseline: register: " + err.Error()
		}
		clients = append(clients, c)
	}
	start := time.Now()
	if err := issueConcurrently(ctx, clients, PebbleCerts, pebbleName); err != nil {
		return 0, "pebble baseline: " + err.Error()
	}
	return float64(PebbleCerts) / time.Since(start).Seconds(), ""
}

func waitReady(hc *http.Client, url string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := hc.Get(url)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 15s: %w", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeLoopbackCert writes a self-signed certificate for 127.0.0.1 and its
// key, and returns a pool that trusts it.
func writeLoopbackCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}

	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pebble on loopback"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return "", "", nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", "", nil, err
	}

	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pki.EncodeCertificates(cert), 0o644); err != nil {
		return "", "", nil, err
	}
	if err := pki.WritePrivateKeyFile(keyFile, key); err != nil {
		return "", "", nil, err
	}

	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool, nil
}
