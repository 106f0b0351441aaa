package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/verify"
)

// verifySteps lists the relying party's checks in the order they run,
// with what each one checks.
var verifySteps = []struct {
	step        verify.Step
	description string
}{
	{verify.StepTLS, "a certificate chain was presented"},
	{verify.StepHandle, "the leaf has exactly one dNSName, a valid handle"},
	{verify.StepPolicy, "the handle passes the allow and deny lists (before any DNS query)"},
	{verify.StepDNS, "TLSA and _atproto TXT resolved, DNSSEC status accepted by the policy"},
	{verify.StepTLSA, "a DANE-TA record matches a CA in the chain, or a DANE-EE record the leaf"},
	{verify.StepPath, "the leaf is signed by the matched CSC, both valid now, clientAuth, pathlen 0"},
	{verify.StepDID, "the leaf's URI SAN equals the TXT did= (and the did:key of the trust anchor)"},
	{verify.StepRevocation, "the leaf is not on the CSC's CRL"},
}

func newVerifyCommand() *cobra.Command {
	var (
		flags      resolverFlags
		chain      string
		connect    string
		certFile   string
		keyFile    string
		crlFile    string
		revocation string
		providerCA string
		policy     verify.Policy
	)
	cmd := &cobra.Command{
		Use:   "verify (--chain FILE | --connect HOST:PORT)",
		Short: "Check a client certificate chain as a relying party would",
		Long: `Run the relying party's checks on a DNS-handle client certificate chain and
print each check with its result, then the identity.

--chain FILE checks a PEM chain [leaf, CSC] as a server would receive it.
Revocation is checked as dnshandle proxy does: against the CRL fetched from
the leaf's distribution point (--provider-ca trusts a provider's
self-signed HTTPS certificate), or against --crl FILE; --revocation off
skips it.
--connect HOST:PORT opens a TLS connection to a server that accepts
DNS-handle logins: it shows whether the server lists the profile marker
in its certificate request and, with --cert and --key, logs in with that
chain and checks it locally too. The probe does not check the server's own
certificate: it tests the server's client-certificate request.`,
		Example: `  dnshandle verify --chain device-chain.pem --server 127.0.0.1:5353 --trust-anchor root.ds
  dnshandle verify --connect 127.0.0.1:8443 --cert device-chain.pem --key device-key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (chain == "") == (connect == "") {
				return errors.New("give exactly one of --chain FILE or --connect HOST:PORT")
			}
			if chain == "" {
				chain = certFile
			}
			var certs []*x509.Certificate
			if chain != "" {
				data, err := os.ReadFile(chain)
				if err != nil {
					return err
				}
				if certs, err = pki.DecodeCertificates(data); err != nil {
					return fmt.Errorf("%s: %w", chain, err)
				}
			}
			out := cmd.OutOrStdout()
			if connect != "" {
				if err := probeServer(cmd.Context(), out, connect, certFile, keyFile); err != nil {
					return err
				}
				if certs == nil {
					return nil
				}
			}

			r, err := flags.resolver()
			if err != nil {
				return err
			}
			v := &verify.Verifier{Resolver: r, Policy: policy, Timeout: flags.timeout}
			skip, err := setRevocation(v, certs, revocation, crlFile, providerCA)
			if err != nil {
				return err
			}
			id, err := v.VerifyChain(cmd.Context(), certs)
			printChecks(out, id, err, skip)
			var unknown x509.UnknownAuthorityError
			var untrusted *tls.CertificateVerificationError
			if errors.As(err, &unknown) || errors.As(err, &untrusted) {
				return fmt.Errorf("%w: give the provider's CA with --provider-ca (dnshandle serve writes it to <data>/acme/ca.pem)", err)
			}
			return err
		},
	}
	flags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&chain, "chain", "", "PEM file with the client certificate chain, leaf first")
	f.StringVar(&connect, "connect", "", "HOST:PORT of a TLS server to test")
	f.StringVar(&certFile, "cert", "", "with --connect: PEM chain [leaf, CSC] to present")
	f.StringVar(&keyFile, "key", "", "with --connect: PEM private key of the leaf")
	f.StringVar(&crlFile, "crl", "", "CRL of the CSC (DER or PEM) to check revocation against, in place of the fetched one")
	f.StringVar(&revocation, "revocation", revocationFetch, `how to check revocation: "fetch" the CRL from the leaf's distribution point, the --crl "files", or "off"`)
	f.StringVar(&providerCA, "provider-ca", "", "PEM file of a CA to trust, besides the system roots, for the HTTPS CRL distribution point")
	f.StringSliceVar(&policy.Allow, "allow", nil, `accept only handles under these suffixes ("example.edu" or "*.example.edu")`)
	f.StringSliceVar(&policy.Deny, "deny", nil, "reject handles under these suffixes")
	f.BoolVar(&policy.AllowMissingDID, "allow-missing-did", false, "accept a handle without a did= record")
	return cmd
}

// setRevocation gives v the CRL source that the flags choose, and returns
// why the revocation step is skipped, or "" when it runs.
func setRevocation(v *verify.Verifier, certs []*x509.Certificate, mode, crlFile, providerCA string) (string, error) {
	if crlFile != "" && mode == revocationFetch {
		mode = revocationFiles
	}
	switch mode {
	case revocationOff:
		if crlFile != "" {
			return "", errors.New("--crl applies to --revocation files, not off: drop --crl, or use --revocation files")
		}
		return "not checked (--revocation off)", nil
	case revocationFiles:
		if crlFile == "" {
			return "", errors.New("--revocation files needs --crl FILE")
		}
		der, err := readCRL(crlFile)
		if err != nil {
			return "", fmt.Errorf("--crl %s: %w", crlFile, err)
		}
		v.CRLs = verify.CRLSourceFunc(func(context.Context, *x509.Certificate) ([]byte, error) { return der, nil })
		return "", nil
	case revocationFetch:
		if len(certs) == 0 || !hasHTTPDistributionPoint(certs[0]) {
			return "the certificate names no http or https CRL distribution point (give --crl FILE)", nil
		}
		client, err := httpClientWithCA(providerCA)
		if err != nil {
			return "", err
		}
		v.CRLs = &verify.CRLFetcher{Client: client}
		return "", nil
	}
	return "", fmt.Errorf("--revocation %q is not a mode: use fetch, files or off", mode)
}

// hasHTTPDistributionPoint reports whether leaf names a CRL distribution
// point that CRLFetcher can fetch.
func hasHTTPDistributionPoint(leaf *x509.Certificate) bool {
	for _, u := range leaf.CRLDistributionPoints {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			return true
		}
	}
	return false
}

// printChecks prints each step as passed, failed or not run, and the
// revocation step as skipped for the reason skip when it is not "".
func printChecks(out io.Writer, id *verify.Identity, err error, skip string) {
	var verr *verify.Error
	failed := verify.Step(0)
	if errors.As(err, &verr) {
		failed = verr.Step
	}
	for _, s := range verifySteps {
		switch {
		case s.step == verify.StepRevocation && skip != "" && (err == nil || failed > s.step):
			fmt.Fprintf(out, "  skip  %-10s %s\n", s.step, skip)
		case err == nil || (failed != 0 && s.step < failed):
			fmt.Fprintf(out, "  pass  %-10s %s\n", s.step, s.description)
		case s.step == failed:
			reason := strings.ReplaceAll(verr.Err.Error(), "\n", "\n"+strings.Repeat(" ", 18))
			fmt.Fprintf(out, "  FAIL  %-10s %s\n", s.step, reason)
		default:
			fmt.Fprintf(out, "  -     %-10s not run\n", s.step)
		}
	}
	if err != nil && failed == 0 {
		fmt.Fprintf(out, "  FAIL  %v\n", err)
	}
	if id != nil {
		fmt.Fprintf(out, "identity: handle %s, DID %s, device %s, DNSSEC %s, method %s\n",
			id.Handle.Display(), id.DID, id.Device, id.DNSSEC, id.Method)
	}
}

// probeServer connects to addr, reports the server's certificate request
// and, when certFile is set, whether the login with that chain succeeded.
func probeServer(ctx context.Context, out io.Writer, addr, certFile, keyFile string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--connect %q: %w", addr, err)
	}
	var cert *tls.Certificate
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return errors.New("--cert and --key go together")
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		cert = &c
	}

	var (
		requested bool
		marker    bool
	)
	config := &tls.Config{
		ServerName: host,
		MinVersion: tls.VersionTLS13,
		// The probe tests the server's client-certificate request, not its
		// own certificate, which a test server often has from a private CA.
		InsecureSkipVerify: true, //nolint:gosec // documented test tool behaviour
		GetClientCertificate: func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			requested = true
			for _, name := range info.AcceptableCAs {
				marker = marker || bytes.Equal(name, pki.MarkerName())
			}
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			return cert, nil
		},
	}
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: config}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("TLS 1.3 handshake with %s failed: %w (is it a TLS 1.3 server?)", addr, err)
	}
	// A TLS 1.3 server checks the client certificate after the client's
	// Finished and reports a rejection with an alert. So read once: an
	// alert or a closed connection means rejection, while silence until
	// the deadline (the server waits for a request) means acceptance.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, readErr := conn.Read(make([]byte, 1))
	conn.Close()
	var netErr net.Error
	accepted := errors.As(readErr, &netErr) && netErr.Timeout()

	fmt.Fprintf(out, "server %s:\n", addr)
	fmt.Fprintf(out, "  client certificate requested: %v\n", requested)
	fmt.Fprintf(out, "  marker %q in certificate_authorities: %v\n", pki.Marker, marker)
	switch {
	case cert == nil:
		fmt.Fprintf(out, "  no certificate sent (give --cert and --key to log in)\n")
	case accepted:
		fmt.Fprintf(out, "  login with %s: accepted\n", certFile)
	case errors.Is(readErr, io.EOF):
		fmt.Fprintf(out, "  login with %s: rejected: the server closed the connection\n", certFile)
		return fmt.Errorf("%s closed the connection after the handshake: the login was rejected", addr)
	default:
		fmt.Fprintf(out, "  login with %s: rejected: %v\n", certFile, readErr)
		return fmt.Errorf("%s rejected the login: %w", addr, readErr)
	}
	if !requested {
		return fmt.Errorf("%s did not request a client certificate: it does not accept DNS-handle logins", addr)
	}
	return nil
}

// readCRL reads a CRL file in DER or PEM ("X509 CRL") form and returns
// the DER.
func readCRL(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("%s: PEM block %q is not an X509 CRL", path, block.Type)
		}
		data = block.Bytes
	}
	if _, err := pki.ParseCRL(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}
