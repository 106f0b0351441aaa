package proxy

import (
	"crypto/x509"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// certPool returns a pool with the CA of the files.
func (f LoopbackFiles) certPool() (*x509.CertPool, error) {
	data, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no certificate in " + f.CAFile)
	}
	return pool, nil
}

func TestEnsureLoopbackCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, created, err := EnsureLoopbackCertificate(dir, time.Now())
	if err != nil || !created {
		t.Fatalf("first call: created %v, %v", created, err)
	}
	info, err := os.Stat(files.KeyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}

	again, created, err := EnsureLoopbackCertificate(dir, time.Now())
	if err != nil || created || again != files {
		t.Errorf("second call: created %v, %v; want the existing files kept", created, err)
	}

	cert, err := files.LoadCertificate()
	if err != nil {
		t.Fatal(err)
	}
	roots, err := files.certPool()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(files.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := pki.DecodeCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 || len(chain) != 2 {
		t.Fatalf("server chain has %d certificates, want [leaf, CA]", len(chain))
	}

	cases := []struct {
		name string
		host string
		ok   bool
	}{
		{"ipv4 loopback", "127.0.0.1", true},
		{"ipv6 loopback", "::1", true},
		{"localhost", "localhost", true},
		{"other name", "rp.example", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chain[0].Verify(x509.VerifyOptions{DNSName: tc.host, Roots: roots})
			if (err == nil) != tc.ok {
				t.Errorf("Verify for %s: %v, want ok=%v", tc.host, err, tc.ok)
			}
		})
	}
	if ca := chain[1]; len(ca.PermittedDNSDomains) != 1 || len(ca.PermittedIPRanges) != 2 {
		t.Errorf("the CA's name constraints are %v and %v, want localhost and the loopback ranges", ca.PermittedDNSDomains, ca.PermittedIPRanges)
	}
}
