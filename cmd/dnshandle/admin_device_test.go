package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// TestDeviceEnrollmentThroughServe runs the whole path of a device: the
// admin mints a code, serve runs the ACME server over HTTPS with its self-signed
// certificate, the device enrolls with the code and the CA file, and a
// relying party verifies the certificate against the provider's own DNS.
// Then the device revokes it and the relying party sees the revocation.
func TestDeviceEnrollmentThroughServe(t *testing.T) {
	args := adminArgs(t)
	dataDir, kekFile := args[1], args[3]
	run := mustRun
	admin := func(t *testing.T, stdin string, sub ...string) string {
		t.Helper()
		return mustRun(t, stdin, adminCommand(args, sub...)...)
	}
	admin(t, "", "zone", "create")
	admin(t, "correct horse battery staple\n", "account", "create", "alice")
	admin(t, "", "identity", "create", "@alice.dhp.test", "--account", "alice")

	addrs, svc := startProvider(t, dataDir, kekFile)
	out := admin(t, "", "device", "code", "@alice.dhp.test", "--label", "laptop", "--base-url", addrs.ACMEBaseURL)
	code, _, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(code, client.CodePrefix) || !strings.Contains(out, "expires ") {
		t.Fatalf("device code:\n%s", out)
	}

	caFile := svc.Config.ACMECAFile()
	deviceDir := t.TempDir()
	run(t, "", "device", "enroll", "--code", code, "--ca", caFile, "--dir", deviceDir)
	dev, err := client.Load(client.DeviceDir(deviceDir, "alice.dhp.test"))
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	verifier := providerVerifier(t, svc, addrs.DNS, caFile)
	id, err := verifier.VerifyChain(ctx, dev.Chain)
	if err != nil {
		t.Fatalf("verify the enrolled device: %v", err)
	}
	ident, err := svc.Store.IdentityByHandle(ctx, "alice.dhp.test")
	if err != nil {
		t.Fatal(err)
	}
	if id.Handle != handle.Handle("alice.dhp.test") || id.DID != ident.DID || id.Device != dev.Fingerprint || id.DNSSEC != resolve.Secure {
		t.Errorf("identity = %+v, want alice.dhp.test with DID %s and device %s, DNSSEC secure", id, ident.DID, dev.Fingerprint)
	}
	if out := admin(t, "", "device", "list", "@alice.dhp.test"); !strings.Contains(out, "laptop") || !strings.Contains(out, "active") {
		t.Errorf("device list after enrollment:\n%s", out)
	}

	run(t, "", "device", "revoke", "@alice.dhp.test", "--ca", caFile, "--dir", deviceDir)
	_, err = verifier.VerifyChain(ctx, dev.Chain)
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Step != verify.StepRevocation {
		t.Errorf("revoked device: %v, want a failure at the revocation step", err)
	}
	if out := admin(t, "", "device", "list", "@alice.dhp.test"); !strings.Contains(out, "revoked") {
		t.Errorf("device list after revocation:\n%s", out)
	}
}

// startProvider runs serve's Service on loopback ports until the test ends.
func startProvider(t *testing.T, dataDir, kekFile string) (provider.Addrs, *provider.Service) {
	t.Helper()
	cfg := &provider.Config{DataDir: dataDir, KEKFile: kekFile}
	cfg.DNS.Listen, cfg.HTTP.Listen, cfg.ACME.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DNS.Zones = []provider.ZoneConfig{{Name: "dhp.test"}}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := provider.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan provider.Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- svc.ServeAddrs(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(a provider.Addrs) { ready <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		_ = svc.Close()
	})
	select {
	case a := <-ready:
		return a, svc
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return provider.Addrs{}, nil
}

// providerVerifier is a relying party that resolves through the provider's
// DNS server with the zone's DS as trust anchor and fetches CRLs over HTTPS
// trusting the provider's CA file.
func providerVerifier(t *testing.T, svc *provider.Service, dnsAddr, caFile string) *verify.Verifier {
	t.Helper()
	ds, err := svc.Signer.DS(context.Background(), "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	anchors := make([]dns.RR, len(ds))
	for i, d := range ds {
		anchors[i] = d
	}
	r, err := resolve.New(resolve.Config{Servers: []string{dnsAddr}, TrustAnchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		t.Fatalf("%s contains no certificate", caFile)
	}
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	crls := verify.CRLSourceFunc(func(ctx context.Context, csc *x509.Certificate) ([]byte, error) {
		return fetchCRL(ctx, httpClient, svc, csc)
	})
	return &verify.Verifier{Resolver: r, CRLs: crls}
}

// fetchCRL fetches the CRL of the CSC's identity from the provider's ACME
// server, at the distribution point it writes into device certificates.
func fetchCRL(ctx context.Context, httpClient *http.Client, svc *provider.Service, csc *x509.Certificate) ([]byte, error) {
	ident, err := svc.Store.IdentityByHandle(ctx, csc.Subject.CommonName)
	if err != nil {
		return nil, err
	}
	devices, err := svc.Store.Devices(ctx, ident.ID)
	if err != nil {
		return nil, err
	}
	if len(devices) == 0 {
		return nil, fmt.Errorf("identity %s has no devices", ident.Handle)
	}
	leaf, err := x509.ParseCertificate(devices[0].CertDER)
	if err != nil {
		return nil, err
	}
	if len(leaf.CRLDistributionPoints) == 0 {
		return nil, errors.New("device certificate without CRL distribution point")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, leaf.CRLDistributionPoints[0], nil)
	if err != nil {
		return nil, err
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, errors.New("CRL fetch: " + res.Status)
	}
	return io.ReadAll(res.Body)
}

func TestAdminDeviceCodeQR(t *testing.T) {
	args := adminArgs(t)
	admin := func(stdin string, sub ...string) string {
		t.Helper()
		return mustRun(t, stdin, adminCommand(args, sub...)...)
	}
	admin("", "zone", "create")
	admin("correct horse battery staple\n", "account", "create", "alice")
	admin("", "identity", "create", "@alice.dhp.test", "--account", "alice")

	out := admin("", "device", "code", "@alice.dhp.test", "--label", "phone", "--qr", "--base-url", "https://127.0.0.1:8443/acme")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if !strings.HasPrefix(lines[0], client.CodePrefix) {
		t.Fatalf("first line is not the code:\n%s", out)
	}
	symbol := lines[1 : len(lines)-1]
	if len(symbol) < 20 {
		t.Fatalf("QR symbol has %d lines, want at least 20:\n%s", len(symbol), out)
	}
	for i, line := range symbol {
		if strings.Trim(line, "█▀▄ ") != "" {
			t.Fatalf("QR line %d holds characters other than block elements: %q", i, line)
		}
		if len([]rune(line)) != len([]rune(symbol[0])) {
			t.Fatalf("QR line %d is %d wide, line 0 is %d", i, len([]rune(line)), len([]rune(symbol[0])))
		}
	}
	if !strings.HasPrefix(lines[len(lines)-1], "expires ") {
		t.Errorf("last line is not the expiry: %q", lines[len(lines)-1])
	}
}
