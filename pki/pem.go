package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// PEM block types.
const (
	PEMCertificate        = "CERTIFICATE"
	PEMPrivateKey         = "PRIVATE KEY" // PKCS #8 (RFC 5958), labelled as in RFC 7468
	PEMCertificateRequest = "CERTIFICATE REQUEST"
)

// EncodeCertificates returns certs as consecutive PEM CERTIFICATE blocks,
// in the given order (leaf first for a chain).
func EncodeCertificates(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		// Writing to a bytes.Buffer does not fail.
		_ = pem.Encode(&b, &pem.Block{Type: PEMCertificate, Bytes: c.Raw})
	}
	return b.Bytes()
}

// DecodeCertificates parses every PEM block of data as a certificate, in
// order. Text between blocks is ignored, as in most PEM files. It returns a
// *PEMError when there is no block, a block is not a CERTIFICATE, or a
// certificate does not parse.
func DecodeCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for i := 1; ; i++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != PEMCertificate {
			return nil, &PEMError{Block: i, Type: block.Type, Reason: "expected a CERTIFICATE block"}
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &PEMError{Block: i, Type: block.Type, Reason: err.Error()}
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, &PEMError{Reason: "no CERTIFICATE block found"}
	}
	return certs, nil
}

// EncodePrivateKey returns key as one PEM "PRIVATE KEY" block holding its
// PKCS #8 encoding. Keys from NewDeviceKey and NewCSC are supported.
func EncodePrivateKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode %s private key: %w", describeKey(key.Public()), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMPrivateKey, Bytes: der}), nil
}

// DecodePrivateKey parses the first PEM block of data as a PKCS #8 private
// key. It returns a *PEMError when the block is missing, of another type,
// does not parse, or holds a key that cannot sign.
func DecodePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, &PEMError{Reason: "no PEM block found"}
	}
	if block.Type != PEMPrivateKey {
		return nil, &PEMError{Block: 1, Type: block.Type, Reason: "expected a PKCS #8 PRIVATE KEY block"}
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, &PEMError{Block: 1, Type: block.Type, Reason: err.Error()}
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, &PEMError{Block: 1, Type: block.Type, Reason: fmt.Sprintf("key type %T cannot sign", key)}
	}
	return signer, nil
}

// EncodeCSR returns a DER certificate signing request as a PEM block.
func EncodeCSR(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: PEMCertificateRequest, Bytes: der})
}

// DecodeCSR parses the first PEM block of data as a certificate signing
// request. It does not check the request: IssueDevice and CheckCSR do.
// It returns a *PEMError for a missing, mistyped or malformed block.
func DecodeCSR(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, &PEMError{Reason: "no PEM block found"}
	}
	// "NEW CERTIFICATE REQUEST" is an older label that some tools still
	// write, and RFC 7468 lets parsers accept it.
	if block.Type != PEMCertificateRequest && block.Type != "NEW "+PEMCertificateRequest {
		return nil, &PEMError{Block: 1, Type: block.Type, Reason: "expected a CERTIFICATE REQUEST block"}
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, &PEMError{Block: 1, Type: block.Type, Reason: err.Error()}
	}
	return csr, nil
}

// WritePrivateKeyFile writes key in PKCS #8 PEM to path with mode 0600. It
// writes a temporary file in the same directory and renames it over path,
// so readers never see a partial key and an existing file is replaced
// whatever its mode was.
func WritePrivateKeyFile(path string, key crypto.Signer) error {
	data, err := EncodePrivateKey(key)
	if err != nil {
		return err
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename

	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	return nil
}

// ReadPrivateKeyFile reads a PKCS #8 PEM private key from path. Errors are
// the wrapped read error or the *PEMError of DecodePrivateKey.
func ReadPrivateKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	key, err := DecodePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("read private key %s: %w", path, err)
	}
	return key, nil
}
