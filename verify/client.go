package verify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

// Client chooses which device certificate a TLS client presents. Set the
// fields before first use and do not change them afterwards. The methods
// are then safe for concurrent use.
type Client struct {
	// Certificates are the device certificates with their private keys.
	// Each chain must be [leaf, CSC]. A leaf alone is accepted only when it
	// is self-issued (a DANE-EE device). Other chains are never offered.
	Certificates []tls.Certificate
	// SiteChoice maps a server name (a lowercase host name without port,
	// as in tls.Config.ServerName) to the handle to present there. When a
	// server has an entry and that handle's certificate does not suit the
	// server's request, no certificate is sent, rather than another
	// identity of the same person.
	SiteChoice map[string]handle.Handle
	// Base is cloned for each connection, and nil means a zero tls.Config.
	// Its RootCAs, NextProtos and similar fields are kept.
	Base *tls.Config
}

// ClientConfig returns a configuration for a device that logs in with one
// of certs: TLS 1.3 only, and GetClientCertificate presents the first
// certificate whose chain suits the server's CertificateRequest
// (tls.CertificateRequestInfo.SupportsCertificate, which also walks the
// chain to a name in certificate_authorities). Chains that are not
// [leaf, CSC] or a self-issued leaf are never presented. With no suitable
// certificate the client sends none, and the server decides.
func ClientConfig(certs ...tls.Certificate) *tls.Config {
	c := &Client{Certificates: certs}
	return c.Config("")
}

// Config returns the configuration for a connection to serverName, which
// also becomes tls.Config.ServerName when it is not empty. The preferred
// handle of SiteChoice[serverName] wins over certificate order.
func (c *Client) Config(serverName string) *tls.Config {
	cfg := &tls.Config{}
	if c.Base != nil {
		cfg = c.Base.Clone()
	}
	cfg.MinVersion = tls.VersionTLS13
	if cfg.MaxVersion != 0 && cfg.MaxVersion < tls.VersionTLS13 {
		cfg.MaxVersion = 0
	}
	if serverName != "" {
		cfg.ServerName = serverName
	}

	preferred, hasChoice := c.SiteChoice[strings.ToLower(strings.TrimSuffix(serverName, "."))]
	candidates := completeChains(c.Certificates)
	cfg.GetClientCertificate = func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return choose(req, candidates, preferred, hasChoice), nil
	}
	return cfg
}

// DialTLSContext dials addr and runs the TLS handshake with the
// configuration of the address's host name, so it can serve as
// http.Transport.DialTLSContext with per-site handle choice.
func (c *Client) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	dialer := &tls.Dialer{Config: c.Config(host)}
	return dialer.DialContext(ctx, network, addr)
}

// candidate is a certificate with its parsed leaf.
type candidate struct {
	cert *tls.Certificate
	leaf *x509.Certificate
}

// completeChains keeps the certificates whose chain can be verified by a
// DANE-TA relying party: [leaf, issuer of the leaf, ...], or a self-issued
// leaf alone.
func completeChains(certs []tls.Certificate) []candidate {
	var kept []candidate
	for i := range certs {
		cert := &certs[i]
		leaf, err := leafOf(cert)
		if err != nil {
			continue
		}
		selfIssued := bytes.Equal(leaf.RawIssuer, leaf.RawSubject)
		if len(cert.Certificate) < 2 && !selfIssued {
			continue
		}
		if len(cert.Certificate) >= 2 {
			issuer, err := x509.ParseCertificate(cert.Certificate[1])
			if err != nil || !bytes.Equal(leaf.RawIssuer, issuer.RawSubject) {
				continue
			}
		}
		kept = append(kept, candidate{cert: cert, leaf: leaf})
	}
	return kept
}

func leafOf(cert *tls.Certificate) (*x509.Certificate, error) {
	if cert.Leaf != nil {
		return cert.Leaf, nil
	}
	if len(cert.Certificate) == 0 {
		return nil, errors.New("empty certificate chain")
	}
	return x509.ParseCertificate(cert.Certificate[0])
}

// choose returns the certificate to present, or an empty one to present
// none, as RFC 8446, section 4.4.2 allows.
func choose(req *tls.CertificateRequestInfo, candidates []candidate, preferred handle.Handle, hasChoice bool) *tls.Certificate {
	for _, c := range candidates {
		if hasChoice && !namesHandle(c.leaf, preferred) {
			continue
		}
		if req.SupportsCertificate(c.cert) == nil {
			return c.cert
		}
	}
	return &tls.Certificate{}
}

func namesHandle(leaf *x509.Certificate, h handle.Handle) bool {
	return len(leaf.DNSNames) == 1 && leaf.DNSNames[0] == string(h)
}
