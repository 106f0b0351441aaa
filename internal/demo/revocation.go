package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/verify"
)

// LostDeviceLabel is the device that the demo enrolls, signs in with and
// then revokes.
const LostDeviceLabel = "lost phone"

// checkRevocation enrolls a second device into deviceDir and signs in
// with it. It then revokes the device at the provider, as the "Revoke"
// button of the provider's devices page does, and shows that the site
// rejects the same certificate at the revocation step while the first
// device still signs in.
func checkRevocation(ctx context.Context, p *printer, prov *runningProvider, rp *relyingParty, alice *identity, deviceDir string) error {
	phone, leaf, err := enrollDevice(ctx, prov, alice.handle, LostDeviceLabel, deviceDir)
	if err != nil {
		return fmt.Errorf("enroll a second device: %w", err)
	}
	if _, err := rp.get(ctx, &phone); err != nil {
		return fmt.Errorf("login with the second device before its revocation: %w", err)
	}

	serial := acme.SerialText(leaf.SerialNumber)
	if err := prov.svc.RevokeDevice(ctx, alice.handle, serial, pki.ReasonKeyCompromise); err != nil {
		return fmt.Errorf("revoke the second device: %w", err)
	}
	p.step("revocation: device %q signed in, then the account revoked it at the provider (serial %s, keyCompromise)", LostDeviceLabel, serial)

	status, _, body, err := rp.fetch(ctx, &phone)
	if err != nil {
		return fmt.Errorf("request with the revoked certificate: %w", err)
	}
	if status != http.StatusForbidden {
		return fmt.Errorf("the revoked certificate got status %d, want 403: %.300s", status, body)
	}
	var verr *verify.Error
	if !errors.As(rp.lastError(), &verr) || verr.Step != verify.StepRevocation {
		return fmt.Errorf("the revoked certificate got 403, but the verifier reported %w", rp.lastError())
	}
	revoked, ok := errors.AsType[*verify.RevokedError](verr)
	if !ok {
		return fmt.Errorf("the revoked certificate failed the revocation step without a revocation entry: %w", verr)
	}
	p.detail("the same certificate -> %s", strings.TrimSpace(string(body)))
	p.detail("checked: the site fetched the CRL at the certificate's distribution point %s,", strings.Join(leaf.CRLDistributionPoints, " "))
	p.detail("verified its signature with the CSC key and its thisUpdate/nextUpdate, and found serial %s (%s)", revoked.Serial, revoked.Reason)

	if _, err := rp.get(ctx, &alice.device); err != nil {
		return fmt.Errorf("login with the first device after the second was revoked: %w", err)
	}
	p.detail("device %q still signs in: the revocation covers one certificate", DeviceLabel)
	return nil
}
