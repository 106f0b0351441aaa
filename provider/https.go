package provider

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// loopbackCertLifetime is the validity of the self-signed certificate of
// the ACME listener.
const loopbackCertLifetime = 5 * 365 * 24 * time.Hour

// acmeTLSConfig returns the TLS configuration of the ACME listener: the
// configured certificate, or the self-signed loopback certificate in the
// data directory, made on first use.
func (s *Service) acmeTLSConfig(logger *slog.Logger) (*tls.Config, error) {
	cfg := s.Config.ACME
	var cert tls.Certificate
	var err error
	if cfg.CertFile != "" {
		cert, err = tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("acme HTTPS certificate %s: %w", cfg.CertFile, err)
		}
	} else {
		caFile := s.Config.ACMECAFile()
		created, err := ensureLoopbackCertificate(caFile, s.now())
		if err != nil {
			return nil, err
		}
		if created {
			logger.Info("self-signed ACME certificate created", "ca_file", caFile)
		}
		logger.Info("devices trust the ACME listener with dnshandle device enroll --ca", "ca_file", caFile)
		cert, err = tls.LoadX509KeyPair(caFile, loopbackKeyFile(caFile))
		if err != nil {
			return nil, fmt.Errorf("self-signed ACME certificate %s: %w", caFile, err)
		}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func loopbackKeyFile(caFile string) string {
	return filepath.Join(filepath.Dir(caFile), "key.pem")
}

// ensureLoopbackCertificate makes a self-signed certificate for localhost,
// 127.0.0.1 and ::1 at caFile, with its key beside it in key.pem (mode
// 0600), unless caFile exists. It reports whether it made one.
func ensureLoopbackCertificate(caFile string, now time.Time) (bool, error) {
	if _, err := os.Stat(caFile); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(caFile), 0o700); err != nil {
		return false, fmt.Errorf("create the ACME certificate directory: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "dnshandle ACME loopback"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(loopbackCertLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return false, fmt.Errorf("sign the ACME loopback certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return false, err
	}

	// The key is written first, so a certificate file never exists without
	// its key.
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(loopbackKeyFile(caFile), keyPEM, 0o600); err != nil {
		return false, fmt.Errorf("write the ACME certificate key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(caFile, certPEM, 0o644); err != nil {
		return false, fmt.Errorf("write the ACME certificate: %w", err)
	}
	return true, nil
}
