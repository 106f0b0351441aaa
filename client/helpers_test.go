package client

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
)

// testIdentity is a CSC made in the test, as a provider makes one.
type testIdentity struct {
	h   handle.Handle
	csc *pki.CSC
}

func newTestIdentity(t *testing.T, h handle.Handle) *testIdentity {
	t.Helper()
	csc, err := pki.NewCSC(nil, h, pki.CSCOptions{})
	if err != nil {
		t.Fatalf("NewCSC(%s): %v", h, err)
	}
	return &testIdentity{h: h, csc: csc}
}

// zoneText returns the identity's TLSA and _atproto records.
func (id *testIdentity) zoneText() string {
	return records.HandleRecords{Handle: id.h, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(id.csc.Certificate)}, DID: id.csc.DID.String()}.ZoneText()
}

// issue makes a device key and certificate under the identity's CSC.
func (id *testIdentity) issue(t *testing.T, label string) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := pki.CreateCSR(nil, key, id.h)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.IssueDevice(nil, id.csc, csr, pki.DeviceOptions{Label: label})
	if err != nil {
		t.Fatal(err)
	}
	return key, leaf
}

// enroll stores a device of the identity under the base directory dir, in
// the layout Enroll writes, and returns it.
func (id *testIdentity) enroll(t *testing.T, dir, label string) *Device {
	t.Helper()
	key, leaf := id.issue(t, label)
	deviceDir := DeviceDir(dir, id.h)
	if err := os.MkdirAll(deviceDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePrivateKeyFile(filepath.Join(deviceDir, KeyFile), key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(deviceDir, ChainFile), pki.EncodeCertificates(leaf, id.csc.Certificate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeMeta(deviceDir, &deviceMeta{Handle: string(id.h), Enrolled: time.Now()}); err != nil {
		t.Fatal(err)
	}
	dev, err := Load(deviceDir)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}
