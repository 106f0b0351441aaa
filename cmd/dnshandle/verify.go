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
	"time"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/verify"
)

// verifySteps lists the relying party's checks in the order they run.
var verifySteps = []verify.Step{
	verify.StepTLS, verify.StepHandle, verify.StepPolicy, verify.StepDNS,
	verify.StepTLSA, verify.StepPath, verify.StepDID, verify.StepRevocation,
}

func newVerifyCommand() *cobra.Command {
	var (
		flags    resolverFlags
		chain    string
		connect  string
		certFile string
		keyFile  string
		crlFile  string
		policy   verify.Policy
	)
	cmd := &cobra.Command{
		Use:   "verify (--chain FILE | --connect HOST:PORT)",
		Short: "Check a client certificate chain as a relying party would",
		Long: `Run the relying party's checks on a DNS-handle client certificate chain and
print each check with its result, then the identity.

--chain FILE checks a PEM chain [leaf, CSC] as a server would receive it.
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
			if crlFile != "" {
				der, err := readCRL(crlFile)
				if err != nil {
					return err
				}
				v.CRLs = verify.CRLSourceFunc(func(context.Context, *x509.Certificate) ([]byte, error) { return der, nil })
			}
			id, err := v.VerifyChain(cmd.Context(), certs)
			printChecks(out, id, err, crlFile != "")
			return err
		},
	}
	flags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&chain, "chain", "", "PEM file with the client certificate chain, leaf first")
	f.StringVar(&connect, "connect", "", "HOST:PORT of a TLS server to test")
	f.StringVar(&certFile, "cert", "", "with --connect: PEM chain [leaf, CSC] to present")
	f.StringVar(&keyFile, "key", "", "with --connect: PEM private key of the leaf")
	f.StringVar(&crlFile, "crl", "", "CRL of the CSC (DER or PEM) to check revocation against")
	f.StringSliceVar(&policy.Allow, "allow", nil, `accept only handles under these suffixes ("example.edu" or "*.example.edu")`)
	f.StringSliceVar(&policy.Deny, "deny", nil, "reject handles under these suffixes")
	f.BoolVar(&policy.AllowMissingDID, "allow-missing-did", false, "accept a handle without a did= record")
	return cmd
}

// printChecks prints each step as passed, failed or not run.
func printChecks(out io.Writer, id *verify.Identity, err error, haveCRL bool) {
	var verr *verify.Error
	failed := verify.Step(0)
	if errors.As(err, &verr) {
		failed = verr.Step
	}
	for _, step := range verifySteps {
		switch {
		case err == nil && step == verify.StepRevocation && !haveCRL:
			fmt.Fprintf(out, "  skip  %-10s no CRL given (--crl)\n", step)
		case err == nil || (failed != 0 && step < failed):
			fmt.Fprintf(out, "  pass  %s\n", step)
		case step == failed:
			fmt.Fprintf(out, "  FAIL  %-10s %v\n", step, verr.Err)
		default:
			fmt.Fprintf(out, "  -     %s (not run)\n", step)
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
	if err == nil {
		// TLS 1.3 servers report a rejected client certificate after the
		// client's Finished, so read once to see the alert.
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			err = nil
		}
		conn.Close()
	}

	fmt.Fprintf(out, "server %s:\n", addr)
	fmt.Fprintf(out, "  client certificate requested: %v\n", requested)
	fmt.Fprintf(out, "  marker %q in certificate_authorities: %v\n", pki.Marker, marker)
	switch {
	case cert == nil:
		fmt.Fprintf(out, "  no certificate sent (give --cert and --key to log in)\n")
	case err != nil && !errors.Is(err, io.EOF):
		fmt.Fprintf(out, "  login with %s: rejected: %v\n", certFile, err)
	default:
		fmt.Fprintf(out, "  login with %s: handshake accepted\n", certFile)
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
