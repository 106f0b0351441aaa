package provider

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/store"
)

func TestIssueDeviceCreatedAtIssuance(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	issued := time.Now().UTC().Truncate(time.Microsecond)
	svc.Now = func() time.Time { return issued }
	h := handle.Handle("alice.dhp.test")
	if _, err := svc.CreateIdentity(ctx, "alice", h, svc.DefaultIdentityOptions()); err != nil {
		t.Fatal(err)
	}

	key, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := pki.CreateCSR(rand.Reader, key, h)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := svc.IssueDevice(ctx, h, "browser", csr)
	if err != nil {
		t.Fatal(err)
	}

	devices, err := svc.Devices(ctx, h)
	if err != nil || len(devices) != 1 {
		t.Fatalf("devices = %v, %v; want the one issued", devices, err)
	}
	if got := devices[0].CreatedAt; !got.Equal(issued) {
		t.Errorf("device created at %v, want the time of issue %v (NotBefore is %v)", got, issued, chain[0].NotBefore)
	}
}

func TestLookupErrorsNameObjectOnce(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	misspelled := handle.Handle("alcie.dhp.test")

	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"enrollment for unknown identity", func() error {
			_, err := svc.NewEnrollment(ctx, misspelled, "laptop")
			return err
		}, "identity alcie.dhp.test: not found"},
		{"devices of unknown identity", func() error {
			_, err := svc.Devices(ctx, misspelled)
			return err
		}, "identity alcie.dhp.test: not found"},
		{"identity for unknown account", func() error {
			_, err := svc.CreateIdentity(ctx, "carl", handle.Handle("carl.dhp.test"), svc.DefaultIdentityOptions())
			return err
		}, `account "carl": not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("error = %v, want one wrapping store.ErrNotFound", err)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q, want %q", err, tc.want)
			}
		})
	}
}
