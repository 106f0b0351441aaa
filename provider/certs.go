package provider

import (
	"crypto/x509"
	"fmt"
)

func parseCertificate(der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("stored CSC certificate: %w", err)
	}
	return cert, nil
}
