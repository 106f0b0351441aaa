package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/verify"
)

// SiteDialer opens TLS 1.3 connections that present, at each origin, the
// device certificate of the handle chosen for that origin in Sites. At an
// origin without a choice it presents no certificate, so a site never
// learns a handle the person did not pick for it. The certificate is offered only
// when it suits the server's CertificateRequest (see verify.Client).
//
// Set the fields before first use and do not change them afterwards. The
// methods are then safe for concurrent use.
type SiteDialer struct {
	// Dir is the base directory of the device directories, required.
	Dir string
	// Sites holds the choices, required. The dialer reads it on every
	// connection, so a choice stored later applies to later connections.
	Sites *Sites
	// Base is cloned for each connection, and nil means a zero tls.Config.
	// Set RootCAs here to trust a private server CA.
	Base *tls.Config
	// Dialer opens the TCP connection. Nil means a net.Dialer with a 30
	// second timeout.
	Dialer *net.Dialer
	// Now returns the current time, used to refuse an expired device
	// certificate before it is sent. Nil means time.Now.
	Now func() time.Time
	// Presented, when set, is called during each handshake in which the
	// server requests a client certificate: with the origin and the
	// leaf sent, or with a nil leaf when none was sent.
	Presented func(origin string, leaf *x509.Certificate)
}

// DialTLSContext dials addr ("host:port") and completes the TLS handshake,
// presenting the certificate chosen for the origin https://host:port. It
// fits http.Transport.DialTLSContext. Errors: *OriginError for an address
// that is no origin, *ChoiceError when the chosen handle has no usable
// device here, *StoreError when its device directory cannot be read, and
// the network or handshake error otherwise.
func (d *SiteDialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	origin, err := originOfAddr(addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)

	device := &verify.Client{Base: d.Base}
	if h, ok := d.Sites.Get(origin); ok {
		cert, err := d.certificate(origin, h)
		if err != nil {
			return nil, err
		}
		device.Certificates = []tls.Certificate{cert}
		device.SiteChoice = map[string]handle.Handle{host: h}
	}

	config := device.Config(host)
	if choose := config.GetClientCertificate; choose != nil && d.Presented != nil {
		config.GetClientCertificate = func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := choose(req)
			var leaf *x509.Certificate
			if err == nil && cert != nil && len(cert.Certificate) > 0 {
				leaf = cert.Leaf
			}
			d.Presented(origin, leaf)
			return cert, err
		}
	}

	netDialer := d.Dialer
	if netDialer == nil {
		netDialer = &net.Dialer{Timeout: 30 * time.Second}
	}
	dialer := &tls.Dialer{NetDialer: netDialer, Config: config}
	return dialer.DialContext(ctx, network, addr)
}

// certificate loads the device certificate and key of h for origin and
// checks that the device is usable.
func (d *SiteDialer) certificate(origin string, h handle.Handle) (tls.Certificate, error) {
	dev, err := Load(DeviceDir(d.Dir, h))
	if err != nil {
		return tls.Certificate{}, &ChoiceError{Origin: origin, Handle: h,
			Reason: fmt.Sprintf("no enrolled device could be read (%v): enroll it, or choose another handle with --handle", err)}
	}
	if !dev.Revoked.IsZero() {
		return tls.Certificate{}, &ChoiceError{Origin: origin, Handle: h,
			Reason: "the device certificate was revoked on " + dev.Revoked.UTC().Format(time.RFC3339) + ": enroll again, or choose another handle with --handle"}
	}
	now := time.Now()
	if d.Now != nil {
		now = d.Now()
	}
	if now.After(dev.NotAfter) {
		return tls.Certificate{}, &ChoiceError{Origin: origin, Handle: h,
			Reason: "the device certificate expired on " + dev.NotAfter.UTC().Format(time.RFC3339) + ": renew it with dnshandle device renew " + h.Display()}
	}
	return dev.TLSCertificate()
}
