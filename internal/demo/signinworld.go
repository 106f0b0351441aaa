package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/resolve"
)

// SignInWorld is the part of the demo world that a browser signs in to
// through OpenID Connect: the provider, where the account DemoAccount owns
// @alice.dhp.test, and the site behind the dnshandle proxy. It has no
// enrolled device. Every server listens on 127.0.0.1. The fields are set
// by StartSignInWorld and must not be changed.
type SignInWorld struct {
	// SiteURL is the site behind the proxy, "https://127.0.0.1:PORT/".
	SiteURL string
	// ProviderURL is the provider's HTTPS origin, which is both the OIDC
	// issuer and the origin of its web pages.
	ProviderURL string
	// ProviderCAFile is the PEM file of the self-signed CA of the
	// provider's HTTPS certificate.
	ProviderCAFile string
	// SiteCAFile is the PEM file of the CA of the site's server
	// certificate.
	SiteCAFile string
	// Password is the password of DemoAccount, random in each world.
	Password string
	// DID is the permanent identifier of @alice.dhp.test.
	DID string

	prov *runningProvider
	rp   *relyingParty
}

// StartSignInWorld runs the provider with its data under dir, creates the
// account DemoAccount with a random password and the identity
// @alice.dhp.test there, and starts the site behind the proxy, which
// signs people in over OIDC. dir must be new or empty, as for Run. The
// servers run until Close or until ctx is done. Errors name the part
// that failed to start, and nothing is left running after one.
func StartSignInWorld(ctx context.Context, dir string) (*SignInWorld, error) {
	if err := prepareDataDir(dir); err != nil {
		return nil, err
	}
	prov, err := startProvider(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	w := &SignInWorld{prov: prov, ProviderURL: prov.addrs.Issuer, ProviderCAFile: prov.svc.Config.ACMECAFile()}
	if err := w.startSite(ctx, dir); err != nil {
		return nil, errors.Join(err, prov.stop())
	}
	return w, nil
}

// startSite creates the account and the identity at the provider and
// starts the site.
func (w *SignInWorld) startSite(ctx context.Context, dir string) error {
	anchors, err := w.prov.trustAnchor(ctx)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	if w.Password, err = newPassword(); err != nil {
		return err
	}
	alice, err := createIdentity(ctx, w.prov, w.Password)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	w.DID = alice.csc.DID.String()

	resolver, err := resolve.New(resolve.Config{Servers: []string{w.prov.addrs.DNS}, TrustAnchors: anchors})
	if err != nil {
		return fmt.Errorf("relying party: %w", err)
	}
	provClient, _, err := providerClient(w.prov)
	if err != nil {
		return fmt.Errorf("relying party: %w", err)
	}
	w.rp, err = startRelyingParty(ctx, resolver, w.prov.addrs.DNS, anchors, provClient)
	if err != nil {
		return fmt.Errorf("relying party: %w", err)
	}
	w.SiteURL = w.rp.url

	w.SiteCAFile = filepath.Join(dir, "server-ca.pem")
	if err := os.WriteFile(w.SiteCAFile, pki.EncodeCertificates(w.rp.serverCA), 0o644); err != nil {
		w.rp.close()
		return fmt.Errorf("relying party: %w", err)
	}
	return nil
}

// Close stops the site and then the provider, and returns the provider's
// error from serving or closing its store. It leaves the files in dir.
func (w *SignInWorld) Close() error {
	w.rp.close()
	return w.prov.stop()
}
