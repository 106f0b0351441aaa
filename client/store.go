package client

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// Files of a device directory, <dir>/<handle>/.
const (
	// KeyFile is the device private key, PKCS #8 PEM, mode 0600. It never
	// leaves the device.
	KeyFile = "key.pem"
	// ChainFile is the certificate chain [device certificate, CSC] in PEM,
	// mode 0644.
	ChainFile = "chain.pem"
	// AccountKeyFile is the ACME account private key, PKCS #8 PEM, mode
	// 0600.
	AccountKeyFile = "account-key.pem"
	// MetaFile holds the ACME URLs and dates as JSON (deviceMeta), mode
	// 0644.
	MetaFile = "meta.json"
)

// metaVersion is the version of the meta.json format.
const metaVersion = 1

// deviceMeta is the content of MetaFile.
type deviceMeta struct {
	Version        int        `json:"version"`
	Handle         string     `json:"handle"`
	DirectoryURL   string     `json:"directory"`
	AccountURL     string     `json:"account"`
	CertificateURL string     `json:"certificate"`
	Enrolled       time.Time  `json:"enrolled"`
	Renewed        *time.Time `json:"renewed,omitempty"`
	Revoked        *time.Time `json:"revoked,omitempty"`
}

// Device is one enrolled device certificate as stored on disk.
type Device struct {
	// Dir is the device directory, <dir>/<handle>.
	Dir    string
	Handle handle.Handle
	// Label is the device label the provider wrote into the certificate's
	// subject (OU).
	Label string
	// DID is the permanent identifier in the certificate's URI SAN.
	DID string
	// Fingerprint is the device id: hex SHA-256 of the device public key.
	Fingerprint    string
	DirectoryURL   string
	AccountURL     string
	CertificateURL string
	// Chain is [device certificate, CSC].
	Chain     []*x509.Certificate
	NotBefore time.Time
	NotAfter  time.Time
	Enrolled  time.Time
	// Renewed is the time of the last renewal, zero if none.
	Renewed time.Time
	// Revoked is the time Revoke succeeded, zero if not revoked.
	Revoked time.Time
	// Replaced is set by Enroll only: the directory to which it moved the
	// revoked device that this enrollment replaced, "" for none.
	Replaced string
}

// Leaf returns the device certificate.
func (d *Device) Leaf() *x509.Certificate { return d.Chain[0] }

// TLSCertificate reads the device key and returns the chain and key for
// crypto/tls, for example for verify.ClientConfig.
func (d *Device) TLSCertificate() (tls.Certificate, error) {
	key, err := pki.ReadPrivateKeyFile(filepath.Join(d.Dir, KeyFile))
	if err != nil {
		return tls.Certificate{}, err
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: d.Chain[0]}
	for _, c := range d.Chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// DeviceDir returns the directory of handle h's device under dir.
func DeviceDir(dir string, h handle.Handle) string {
	return filepath.Join(dir, string(h))
}

// StoreError reports a device directory that cannot be read.
type StoreError struct {
	Dir    string
	Reason string
	Err    error
}

func (e *StoreError) Error() string {
	msg := fmt.Sprintf("device directory %s: %s", e.Dir, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *StoreError) Unwrap() error { return e.Err }

// Load reads the device stored in deviceDir. It does not read the private
// keys. Errors are *StoreError.
func Load(deviceDir string) (*Device, error) {
	raw, err := os.ReadFile(filepath.Join(deviceDir, MetaFile))
	if err != nil {
		return nil, &StoreError{Dir: deviceDir, Reason: "cannot read " + MetaFile, Err: err}
	}
	var m deviceMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &StoreError{Dir: deviceDir, Reason: MetaFile + " is not valid JSON", Err: err}
	}
	if m.Version != metaVersion {
		return nil, &StoreError{Dir: deviceDir, Reason: fmt.Sprintf("%s has version %d; this program reads version %d", MetaFile, m.Version, metaVersion)}
	}
	h, err := handle.Parse(m.Handle)
	if err != nil {
		return nil, &StoreError{Dir: deviceDir, Reason: "invalid handle in " + MetaFile, Err: err}
	}
	pemChain, err := os.ReadFile(filepath.Join(deviceDir, ChainFile))
	if err != nil {
		return nil, &StoreError{Dir: deviceDir, Reason: "cannot read " + ChainFile, Err: err}
	}
	chain, err := pki.DecodeCertificates(pemChain)
	if err != nil {
		return nil, &StoreError{Dir: deviceDir, Reason: ChainFile + " does not hold certificates", Err: err}
	}
	return newDevice(deviceDir, h, &m, chain), nil
}

func newDevice(dir string, h handle.Handle, m *deviceMeta, chain []*x509.Certificate) *Device {
	leaf := chain[0]
	d := &Device{
		Dir:            dir,
		Handle:         h,
		DirectoryURL:   m.DirectoryURL,
		AccountURL:     m.AccountURL,
		CertificateURL: m.CertificateURL,
		Chain:          chain,
		NotBefore:      leaf.NotBefore,
		NotAfter:       leaf.NotAfter,
		Enrolled:       m.Enrolled,
		Fingerprint:    pki.SPKIFingerprint(leaf),
	}
	if len(leaf.Subject.OrganizationalUnit) > 0 {
		d.Label = leaf.Subject.OrganizationalUnit[0]
	}
	if len(leaf.URIs) > 0 {
		d.DID = leaf.URIs[0].String()
	}
	if m.Renewed != nil {
		d.Renewed = *m.Renewed
	}
	if m.Revoked != nil {
		d.Revoked = *m.Revoked
	}
	return d
}

// List returns the devices stored under dir, sorted by handle. Directories
// that are not device directories (no meta.json) are skipped. A device
// directory that cannot be read is reported in the joined error while the
// others are still returned. A missing dir holds no devices.
func List(dir string) ([]*Device, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &StoreError{Dir: dir, Reason: "cannot list", Err: err}
	}
	var devices []*Device
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		deviceDir := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(deviceDir, MetaFile)); err != nil {
			continue
		}
		d, err := Load(deviceDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		devices = append(devices, d)
	}
	slices.SortFunc(devices, func(a, b *Device) int { return strings.Compare(string(a.Handle), string(b.Handle)) })
	return devices, errors.Join(errs...)
}

// writeMeta writes m to deviceDir/meta.json through a temporary file, so
// that a reader never sees a partial file.
func writeMeta(deviceDir string, m *deviceMeta) error {
	m.Version = metaVersion
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(deviceDir, MetaFile), append(b, '\n'), 0o644)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
