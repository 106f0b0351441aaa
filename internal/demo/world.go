// Package demo builds the loopback world of `dnshandle demo`. It runs a
// DNS Handle Provider with its signed zone and ACME server, creates an
// identity there and enrolls a device over ACME. A relying party then logs
// the device in over TLS 1.3 after checking the handle in DNS, and
// rejects a second device once the provider revoked it.
package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
)

// Names used by the demo world. dhp.test is the DNS Handle Provider's zone;
// .test is reserved for testing (RFC 6761), so nothing here can collide
// with a real name.
const (
	ProviderZone = "dhp.test."
	AliceHandle  = "alice.dhp.test"
	DeviceLabel  = "laptop"
)

// identity is a handle with its CSC, its published records and one
// enrolled device.
type identity struct {
	handle  handle.Handle
	csc     *pki.CSC
	records records.HandleRecords
	device  tls.Certificate // chain [leaf, CSC] with the device key
	leaf    *x509.Certificate
}

// issueDevice makes a device key, a CSR naming h, and a certificate for
// it signed by csc. The key never leaves the returned tls.Certificate.
func issueDevice(csc *pki.CSC, h handle.Handle, label string) (tls.Certificate, *x509.Certificate, error) {
	key, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	csrDER, err := pki.CreateCSR(rand.Reader, key, h)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := pki.IssueDevice(rand.Reader, csc, csr, pki.DeviceOptions{Label: label})
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("issue device certificate for %s: %w", h, err)
	}
	cert := tls.Certificate{
		Certificate: [][]byte{leaf.Raw, csc.Certificate.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}
	return cert, leaf, nil
}

// serverCertificate makes a throwaway CA and a certificate for the
// relying party at 127.0.0.1 and localhost. The client trusts that CA
// only; it has nothing to do with DNS-handle trust.
func serverCertificate() (tls.Certificate, *x509.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dnshandle demo server CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca, nil
}

// createIdentity creates the account DemoAccount with password and the
// identity @alice.dhp.test at the provider, which publishes its signed
// records with oauth= naming its OpenID provider.
func createIdentity(ctx context.Context, prov *runningProvider, password string) (*identity, error) {
	if _, err := prov.svc.CreateAccount(ctx, DemoAccount, password); err != nil {
		return nil, err
	}
	h := handle.Handle(AliceHandle)
	created, err := prov.svc.CreateIdentity(ctx, DemoAccount, h, prov.svc.DefaultIdentityOptions())
	if err != nil {
		return nil, err
	}
	csc, err := prov.svc.LoadCSC(ctx, h)
	if err != nil {
		return nil, err
	}
	return &identity{handle: h, csc: csc, records: created.Records}, nil
}

// newPassword returns a random password of 20 characters.
func newPassword() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// enrollDevice mints an enrollment code for the device label of h at the
// provider and enrolls a device with it over ACME into deviceDir, as
// `dnshandle device enroll --code` does. It returns the device's
// certificate chain with its key, and its leaf.
func enrollDevice(ctx context.Context, prov *runningProvider, h handle.Handle, label, deviceDir string) (tls.Certificate, *x509.Certificate, error) {
	enrollment, err := prov.svc.NewEnrollment(ctx, h, label)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caPEM, err := os.ReadFile(prov.svc.Config.ACMECAFile())
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return tls.Certificate{}, nil, fmt.Errorf("no PEM certificate found in %s", prov.svc.Config.ACMECAFile())
	}
	httpClient := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
		Timeout:   30 * time.Second,
	}
	dev, err := client.Enroll(ctx, client.EnrollOptions{Code: enrollment.Code(), Dir: deviceDir, HTTPClient: httpClient})
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := dev.TLSCertificate()
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return cert, dev.Leaf(), nil
}
