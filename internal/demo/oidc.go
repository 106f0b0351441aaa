package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strings"
	"time"
)

// providerClient returns an HTTP client that trusts the provider's
// self-signed HTTPS certificate (ACME, OIDC and the web pages).
func providerClient(prov *runningProvider) (*http.Client, *x509.CertPool, error) {
	caPEM, err := os.ReadFile(prov.svc.Config.ACMECAFile())
	if err != nil {
		return nil, nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("no PEM certificate found in %s", prov.svc.Config.ACMECAFile())
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
		Timeout:   30 * time.Second,
	}, roots, nil
}

// oidcLogin signs in to the relying party as a person in a browser without
// a device certificate does. It types the handle into the site's sign-in
// page, the account password into the provider's form, approves on the
// consent page, and returns the site's page it lands on.
func oidcLogin(ctx context.Context, p *printer, rp *relyingParty, prov *runningProvider, providerRoots *x509.CertPool, account, password string) (*page, error) {
	features, err := advertised(ctx, prov, providerRoots)
	if err != nil {
		return nil, err
	}
	roots := providerRoots.Clone()
	roots.AddCert(rp.serverCA)
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	b := &browser{client: &http.Client{
		Jar:       jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
		Timeout:   30 * time.Second,
	}}

	site, err := b.get(ctx, rp.url)
	if err != nil {
		return nil, fmt.Errorf("open the site: %w", err)
	}
	p.detail("the site without a certificate: %d, a page offering sign-in with a DNS handle", site.Status)
	atProvider, err := b.submit(ctx, site, map[string]string{"handle": "@" + AliceHandle})
	if err != nil {
		return nil, fmt.Errorf("type the handle: %w", err)
	}
	p.detail("typed @%s: the site read oauth= from _atproto.%s and fetched discovery (the provider offers %s),", AliceHandle, AliceHandle, features)
	p.detail("started the request with them and sent the browser to %s://%s%s", atProvider.URL.Scheme, atProvider.URL.Host, atProvider.URL.Path)

	consent, err := b.submit(ctx, atProvider, map[string]string{"name": account, "password": password})
	if err != nil {
		return nil, fmt.Errorf("sign in at the provider: %w", err)
	}
	p.detail("signed in at the provider as account %q with its password (argon2id)", account)
	back, err := b.submit(ctx, consent, map[string]string{"action": "approve"})
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	if back.Status != http.StatusOK || !strings.HasPrefix(back.URL.String(), rp.url) {
		return nil, fmt.Errorf("after consent the browser is at %s with status %d: %.300s", back.URL, back.Status, back.text())
	}
	p.detail("allowed the site to see @%s; the site checked state and iss, exchanged the code,", AliceHandle)
	p.detail("verified the ID token, resolved the handle again: did= = sub and oauth= = issuer")
	return back, nil
}

// advertised reads the provider's discovery document and names the
// protections a relying party uses with it.
func advertised(ctx context.Context, prov *runningProvider, roots *x509.CertPool) (string, error) {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, prov.addrs.Issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	var doc struct {
		PAR     string   `json:"pushed_authorization_request_endpoint"`
		PKCE    []string `json:"code_challenge_methods_supported"`
		DPoP    []string `json:"dpop_signing_alg_values_supported"`
		ISSParm bool     `json:"authorization_response_iss_parameter_supported"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPage)).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}

	var f []string
	if doc.PAR != "" {
		f = append(f, "PAR")
	}
	if slices.Contains(doc.PKCE, "S256") {
		f = append(f, "PKCE S256")
	}
	if len(doc.DPoP) > 0 {
		f = append(f, "DPoP")
	}
	if doc.ISSParm {
		f = append(f, "RFC 9207 iss")
	}
	return strings.Join(f, ", "), nil
}
