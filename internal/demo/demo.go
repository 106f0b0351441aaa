package demo

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// SuccessLine is the last line Run prints when every check passed.
const SuccessLine = "demo: OK: @alice.dhp.test enrolled a device over ACME and signed in to a site with its certificate and through OpenID Connect, as one DID, checked through DNSSEC-signed DNS; a revoked device was rejected"

// DemoAccount is the provider account that owns @alice.dhp.test.
const DemoAccount = "alice"

// Options configures Run.
type Options struct {
	// DataDir receives the demo's files (zones, trust anchor, CSC, device
	// certificate and key). Empty means a temporary directory that Run
	// removes when it returns.
	DataDir string
	// Keep leaves the provider and the relying party running after the
	// checks, until ctx is done, writes a PKCS#12 file for a browser and
	// prints how to use them.
	Keep bool
}

// Run builds the demo world on loopback, runs each step, and prints what
// it checked to out. It returns an error naming the first step that
// failed.
func Run(ctx context.Context, out io.Writer, opts Options) error {
	dir := opts.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dnshandle-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := prepareDataDir(dir); err != nil {
		return err
	}
	p := &printer{out: out, total: 10}
	fmt.Fprintln(out, "dnshandle demo: a DNS-handle login on loopback, data in", dir)

	// Step 1: the provider.
	prov, err := startProvider(ctx, dir)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	defer func() { _ = prov.stop() }() // the demo's outcome is already decided
	anchors, err := prov.trustAnchor(ctx)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	p.step("provider: DNS Handle Provider for %s on loopback (SQLite store, keys sealed at rest)", ProviderZone)
	p.detail("authoritative DNS %s: zone signed with ECDSA P-256 keys and an NSEC3 chain", prov.addrs.DNS)
	p.detail("ACME server %s/directory over HTTPS", prov.addrs.ACMEBaseURL)
	p.detail("OpenID provider %s and web pages (sign-up, identities, devices) on the same listener", prov.addrs.Issuer)
	p.detail("trust anchor for relying parties: %s", anchors[0])

	// Step 2: the account and the identity, published in the provider's zone.
	password, err := newPassword()
	if err != nil {
		return err
	}
	alice, err := createIdentity(ctx, prov, password)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	p.step("identity: account %q and @%s: CSC (P-256, CA with pathlen 0, issuer %q) and records, in one transaction", DemoAccount, alice.handle, pki.Marker)
	p.detail("permanent identifier (did:key of the CSC key): %s", alice.csc.DID)
	for _, line := range strings.Split(strings.TrimSpace(alice.records.ZoneText()), "\n") {
		p.detail("%s", line)
	}

	// Step 3: the device enrolls over ACME.
	alice.device, alice.leaf, err = enrollDevice(ctx, prov, alice.handle, DeviceLabel, filepath.Join(dir, "device"))
	if err != nil {
		return fmt.Errorf("enroll the device: %w", err)
	}
	p.step("device: enrolled %q over ACME with a one-time enrollment code (External Account Binding)", DeviceLabel)
	p.detail("the device key was made on the device and never sent; the CSR named only the handle")
	p.detail("certificate: subject %q, valid until %s, chain [leaf, CSC]", alice.leaf.Subject, alice.leaf.NotAfter.UTC().Format(time.RFC3339))

	// Step 4: resolve the handle as a relying party does.
	resolver, err := resolve.New(resolve.Config{
		Servers:      []string{prov.addrs.DNS},
		TrustAnchors: anchors,
	})
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	res, err := resolver.Resolve(ctx, alice.handle)
	if err != nil {
		return fmt.Errorf("resolve @%s: %w", alice.handle, err)
	}
	p.step("resolve @%s at the provider's DNS: validated locally from the trust anchor", alice.handle)
	p.detail("TLSA %s: %s (%s)", res.TLSAInfo.Name, res.TLSAInfo.Status, res.TLSAInfo.Reason)
	p.detail("TXT  %s: %s, did=%s oauth=%s", res.ATProtoInfo.Name, res.ATProtoInfo.Status, res.ATProto.DID, res.ATProto.OAuth)

	// Step 5: the relying party.
	provClient, provRoots, err := providerClient(prov)
	if err != nil {
		return fmt.Errorf("relying party: %w", err)
	}
	rp, err := startRelyingParty(ctx, resolver, prov.addrs.DNS, anchors, provClient)
	if err != nil {
		return fmt.Errorf("relying party: %w", err)
	}
	defer rp.close()
	p.step("relying party: a web application behind the dnshandle proxy, TLS 1.3 on %s", rp.url)
	p.detail("the proxy asks for a client certificate under %q and offers OIDC sign-in without one", pki.Marker)
	p.detail("it checks revocation with the CRL at each certificate's distribution point, fetched at every login")
	if err := writeFiles(dir, alice, anchors, rp.serverCA); err != nil {
		return fmt.Errorf("write files: %w", err)
	}

	// Step 6: the device logs in with its certificate.
	body, err := rp.get(ctx, &alice.device)
	if err != nil {
		return fmt.Errorf("login with the device certificate: %w", err)
	}
	p.step("TLS login with the device certificate: %s", body)
	tlsID := rp.lastIdentity()
	if tlsID == nil || tlsID.Handle != alice.handle || tlsID.DID != alice.csc.DID.String() || tlsID.Method != verify.MethodTLS {
		return fmt.Errorf("login: the application saw identity %+v, want @%s with %s over tls", tlsID, alice.handle, alice.csc.DID)
	}
	p.detail("checked: leaf dNSName is the handle, TLSA 2 1 1 matches the CSC sent in the chain,")
	p.detail("path leaf -> CSC verified, URI SAN = TXT did= = did:key of the CSC, DNSSEC secure")
	p.detail("the application got DNS-Handle: %s, DNS-Handle-DID, DNS-Handle-Device: %s...", tlsID.Handle, tlsID.Device[:16])

	// Step 7: a browser without the certificate signs in over OIDC.
	p.step("OIDC login in a browser without a certificate (cookie jar, real HTML forms):")
	if _, err := oidcLogin(ctx, p, rp, prov, provRoots, DemoAccount, password); err != nil {
		return fmt.Errorf("login through OpenID Connect: %w", err)
	}
	oidcID := rp.lastIdentity()
	if oidcID == nil || oidcID.Method != "oidc" || oidcID.Handle != alice.handle {
		return fmt.Errorf("OIDC login: the application saw identity %+v, want @%s over oidc", oidcID, alice.handle)
	}
	p.detail("the application got DNS-Handle: %s, DNS-Handle-Method: %s", oidcID.Handle, oidcID.Method)

	// Step 8: both paths end at the same permanent identifier.
	if oidcID.DID != tlsID.DID {
		return fmt.Errorf("the OIDC login gave DID %s, the certificate login %s: want one DID", oidcID.DID, tlsID.DID)
	}
	p.step("same person, same account: certificate and OIDC logins both gave DID %s", oidcID.DID)

	// Step 9: what must fail does fail.
	if err := checkRejections(ctx, p, rp, alice); err != nil {
		return err
	}

	// Step 10: a device revoked at the provider is rejected by the site.
	if err := checkRevocation(ctx, p, prov, rp, alice, filepath.Join(dir, "lost-phone")); err != nil {
		return fmt.Errorf("revocation: %w", err)
	}

	fmt.Fprintln(out, SuccessLine)
	if !opts.Keep {
		return nil
	}
	if err := printKeep(out, dir, prov, rp, alice, password); err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(out, "demo: stopped")
	return nil
}

// prepareDataDir creates dir, or accepts it when it is empty, so that the
// demo never overwrites keys and certificates a user kept there.
func prepareDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("--data %s is not empty: give a new or empty directory, so that no earlier key or certificate is overwritten", dir)
	}
	return nil
}

// checkRejections shows an API request without a certificate getting the
// 401 challenge, and a certificate from another CSC getting 403.
func checkRejections(ctx context.Context, p *printer, rp *relyingParty, alice *identity) error {
	status, challenge, _, err := rp.fetch(ctx, nil)
	if err != nil {
		return fmt.Errorf("request without a certificate: %w", err)
	}
	if status != http.StatusUnauthorized || !strings.HasPrefix(challenge, verify.AuthScheme) {
		return fmt.Errorf("request without a certificate: got status %d, challenge %q; want 401 with a %s challenge", status, challenge, verify.AuthScheme)
	}
	p.step("rejections: an API client without a certificate -> %d, WWW-Authenticate: %s", status, challenge)

	// Mallory has her own CSC and issues herself a certificate that claims
	// Alice's handle; the TLSA record at alice.dhp.test does not list it.
	mallory, err := pki.NewCSC(rand.Reader, alice.handle, pki.CSCOptions{})
	if err != nil {
		return err
	}
	forged, _, err := issueDevice(mallory, alice.handle, "stolen")
	if err != nil {
		return err
	}
	status, _, _, err = rp.fetch(ctx, &forged)
	if err != nil {
		return fmt.Errorf("request with a forged certificate: %w", err)
	}
	if status != http.StatusForbidden {
		return fmt.Errorf("a certificate for @%s from another CSC got status %d, want 403", alice.handle, status)
	}
	var verr *verify.Error
	if !errors.As(rp.lastError(), &verr) {
		return fmt.Errorf("forged certificate: status 403, but the verifier reported %w", rp.lastError())
	}
	p.detail("a certificate for @%s signed by another CSC -> %d; verifier: %v", alice.handle, status, verr)
	return nil
}

// writeFiles stores what a user needs to repeat the checks by hand. The
// device key stays in the device directory that enrollment made.
func writeFiles(dir string, alice *identity, anchors []dns.RR, serverCA *x509.Certificate) error {
	files := map[string][]byte{
		"csc.pem":          pki.EncodeCertificates(alice.csc.Certificate),
		"device-chain.pem": pki.EncodeCertificates(alice.leaf, alice.csc.Certificate),
		"server-ca.pem":    pki.EncodeCertificates(serverCA),
		"trust-anchor.ds":  []byte(anchors[0].String() + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// printKeep writes a PKCS#12 file of the device for a browser and prints
// how to reach the running world.
func printKeep(out io.Writer, dir string, prov *runningProvider, rp *relyingParty, alice *identity, password string) error {
	p12Password, err := newPassword()
	if err != nil {
		return err
	}
	device, err := client.Load(filepath.Join(dir, "device", AliceHandle))
	if err != nil {
		return err
	}
	p12, err := device.ExportPKCS12(p12Password, client.PKCS12Modern)
	if err != nil {
		return err
	}
	p12File := filepath.Join(dir, "alice.p12")
	if err := os.WriteFile(p12File, p12, 0o600); err != nil {
		return err
	}

	host, port, _ := net.SplitHostPort(prov.addrs.DNS)
	admin := fmt.Sprintf("--data %s --kek-file %s --zone %s", prov.svc.Config.DataDir, prov.kekFile, ProviderZone)
	anchor := filepath.Join(dir, "trust-anchor.ds")
	fmt.Fprintf(out, `
The demo world stays up until you press Ctrl-C. The commands below use the
dnshandle binary: build it with "go build ./cmd/dnshandle" (then ./dnshandle),
or put "go run ./cmd/dnshandle" in place of "dnshandle".
  provider DNS:        %s (resolver address for relying parties)
  provider web pages:  %s/ (account %q, password %s)
  provider ACME:       %s/directory (CA file %s)
  relying party:       %s (behind the dnshandle proxy)
  files:               %s

Try:
  dig @%s -p %s +dnssec alice.dhp.test TLSA
  dnshandle resolve @alice.dhp.test --server %s --trust-anchor %s
  dnshandle verify --chain %s --server %s --trust-anchor %s
  curl --cacert %s --cert %s --key %s %s
  dnshandle admin identity list %s
  dnshandle admin device code @alice.dhp.test --label phone --base-url %s %s
  dnshandle device enroll --code <the code printed> --ca %s --dir %s

A browser (Chromium on Linux, with libnss3-tools):
  pk12util -d sql:$HOME/.pki/nssdb -i %s -W %s
  certutil -A -d sql:$HOME/.pki/nssdb -n "dnshandle demo site" -t "C,," -i %s
  certutil -A -d sql:$HOME/.pki/nssdb -n "dnshandle demo provider" -t "C,," -i %s
  then open %s and pick the certificate issued by CN=%s. Without a
  certificate, type @%s at the site, then the account name alice and the
  password above at the provider. "dnshandle browser-policy" writes a
  Chromium policy that skips the certificate picker.
  (On a fresh HOME, create the NSS database first:
  mkdir -p $HOME/.pki/nssdb && certutil -N -d sql:$HOME/.pki/nssdb --empty-password)
`,
		prov.addrs.DNS, prov.addrs.Issuer, DemoAccount, password, prov.addrs.ACMEBaseURL, prov.svc.Config.ACMECAFile(), rp.url, dir,
		host, port,
		prov.addrs.DNS, anchor,
		filepath.Join(dir, "device-chain.pem"), prov.addrs.DNS, anchor,
		filepath.Join(dir, "server-ca.pem"), filepath.Join(dir, "device-chain.pem"), filepath.Join(dir, "device", AliceHandle, "key.pem"), rp.url,
		admin, prov.addrs.ACMEBaseURL, admin, prov.svc.Config.ACMECAFile(), filepath.Join(dir, "phone"),
		p12File, p12Password, filepath.Join(dir, "server-ca.pem"), prov.svc.Config.ACMECAFile(), rp.url, alice.handle, alice.handle)
	return nil
}

// printer numbers the steps of the demo.
type printer struct {
	out   io.Writer
	n     int
	total int
}

func (p *printer) step(format string, args ...any) {
	p.n++
	fmt.Fprintf(p.out, "[%d/%d] %s\n", p.n, p.total, fmt.Sprintf(format, args...))
}

func (p *printer) detail(format string, args ...any) {
	fmt.Fprintf(p.out, "      %s\n", fmt.Sprintf(format, args...))
}
