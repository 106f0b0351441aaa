package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// LoopbackLifetime is the validity of the certificates that
// EnsureLoopbackCertificate makes. Browsers apply their 398-day limit only
// to certificates under publicly trusted roots, not to a root the user
// added.
const LoopbackLifetime = 5 * 365 * 24 * time.Hour

// LoopbackFiles are the files of a loopback server certificate.
type LoopbackFiles struct {
	// CAFile is the private CA certificate (PEM) that clients trust, for
	// example with certutil -A -t "C,," or dnshandle get --ca.
	CAFile string
	// CertFile is the server certificate chain (PEM), leaf first.
	CertFile string
	// KeyFile is the server key (PKCS #8 PEM, mode 0600).
	KeyFile string
}

// LoopbackFilesIn returns the file names EnsureLoopbackCertificate uses in
// dir: ca.pem, cert.pem and key.pem.
func LoopbackFilesIn(dir string) LoopbackFiles {
	return LoopbackFiles{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "cert.pem"),
		KeyFile:  filepath.Join(dir, "key.pem"),
	}
}

// EnsureLoopbackCertificate makes a server certificate for localhost,
// 127.0.0.1 and ::1 in dir (created with mode 0700), unless its files
// exist, and reports whether it made one. The certificate is issued by a
// new private CA whose key is discarded at once and whose name
// constraints permit only those loopback names, so a client that trusts
// the CA cannot be misled about any other site. now sets the validity start.
func EnsureLoopbackCertificate(dir string, now time.Time) (files LoopbackFiles, created bool, err error) {
	files = LoopbackFilesIn(dir)
	if _, err := os.Stat(files.CertFile); err == nil {
		return files, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return files, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return files, false, fmt.Errorf("create the certificate directory: %w", err)
	}

	ca, caKey, err := newLoopbackCA(now)
	if err != nil {
		return files, false, err
	}
	leaf, key, err := newLoopbackLeaf(ca, caKey, now)
	if err != nil {
		return files, false, err
	}

	// The key is written first and the CA last, so a present certificate
	// file always has its key, and a client finds the CA only when the
	// server can use it.
	if err := pki.WritePrivateKeyFile(files.KeyFile, key); err != nil {
		return files, false, fmt.Errorf("write the server key: %w", err)
	}
	if err := os.WriteFile(files.CertFile, pki.EncodeCertificates(leaf, ca), 0o644); err != nil {
		return files, false, fmt.Errorf("write the server certificate: %w", err)
	}
	if err := os.WriteFile(files.CAFile, pki.EncodeCertificates(ca), 0o644); err != nil {
		return files, false, fmt.Errorf("write the CA certificate: %w", err)
	}
	return files, true, nil
}

// LoadCertificate reads a PEM certificate chain and its key for a
// tls.Config.
func (f LoopbackFiles) LoadCertificate() (tls.Certificate, error) {
	return tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
}

func newLoopbackCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	_, v4, _ := net.ParseCIDR("127.0.0.0/8")
	_, v6, _ := net.ParseCIDR("::1/128")
	template := &x509.Certificate{
		SerialNumber:                serial,
		Subject:                     pkix.Name{CommonName: "dnshandle proxy loopback CA " + serial.Text(16)[:8]},
		NotBefore:                   now.Add(-time.Minute),
		NotAfter:                    now.Add(LoopbackLifetime),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{"localhost"},
		PermittedIPRanges:           []*net.IPNet{v4, v6},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign the loopback CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func newLoopbackLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(LoopbackLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sign the loopback server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	return leaf, key, err
}

// randomSerial returns a positive 127-bit serial number.
func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}
