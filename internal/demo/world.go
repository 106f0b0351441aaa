// Package demo builds the loopback world of `dnshandle demo`. It holds
// signed DNS zones with a handle's records, an identity with its CSC and a
// device certificate, and a relying party that logs the device in over
// TLS 1.3 after checking the handle in DNS.
package demo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
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

// identity is a handle with its CSC and one enrolled device.
type identity struct {
	handle    handle.Handle
	csc       *pki.CSC
	device    tls.Certificate // chain [leaf, CSC] with the device key
	leaf      *x509.Certificate
	deviceKey crypto.Signer
}

// newIdentity creates the CSC of h and issues one device certificate under
// it from a CSR made with a fresh device key, as ACME enrollment would.
func newIdentity(h handle.Handle, label string) (*identity, error) {
	csc, err := pki.NewCSC(rand.Reader, h, pki.CSCOptions{})
	if err != nil {
		return nil, fmt.Errorf("create CSC of %s: %w", h, err)
	}
	device, leaf, err := issueDevice(csc, h, label)
	if err != nil {
		return nil, err
	}
	key, _ := device.PrivateKey.(crypto.Signer)
	return &identity{handle: h, csc: csc, device: device, leaf: leaf, deviceKey: key}, nil
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

// published returns the records the provider publishes for id.
func (id *identity) published() records.HandleRecords {
	return records.HandleRecords{
		Handle: id.handle,
		TTL:    300,
		TLSA:   []records.TLSA{records.CSCRecord(id.csc.Certificate)},
		DID:    id.csc.DID.String(),
	}
}

// dnsWorld is the signed chain . -> test. -> dhp.test. served on loopback.
type dnsWorld struct {
	root, tld, provider *dnstest.Zone
	server              *dnstest.Server
}

// newDNSWorld signs the zones with NSEC3 (no extra iterations, no salt, as
// RFC 9276 recommends) after adding the handle records, and serves them.
func newDNSWorld(handles ...records.HandleRecords) (*dnsWorld, error) {
	w := &dnsWorld{}
	var err error
	if w.root, err = dnstest.NewZone("."); err != nil {
		return nil, err
	}
	if w.tld, err = dnstest.NewZone("test."); err != nil {
		return nil, err
	}
	if w.provider, err = dnstest.NewZone(ProviderZone); err != nil {
		return nil, err
	}
	for _, h := range handles {
		if err := w.provider.Add(h.ZoneText()); err != nil {
			return nil, fmt.Errorf("add records of %s: %w", h.Handle, err)
		}
	}
	if err := dnstest.SignChain(dnstest.SignOptions{NSEC3: true}, w.root, w.tld, w.provider); err != nil {
		return nil, err
	}
	if w.server, err = dnstest.Listen(w.root, w.tld, w.provider); err != nil {
		return nil, err
	}
	return w, nil
}

// trustAnchor returns the DS of the test root, the only trust anchor.
func (w *dnsWorld) trustAnchor() []dns.RR {
	return w.root.DS()
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
