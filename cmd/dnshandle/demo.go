package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/internal/demo"
)

func newDemoCommand() *cobra.Command {
	var opts demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a DNS-handle login end to end on loopback",
		Long: `Run the demo world on loopback, with no configuration and no network:

  1. start a DNS Handle Provider for dhp.test: SQLite store, signed zone,
     authoritative DNS, and one HTTPS listener with ACME, an OpenID
     provider and the web pages, all on 127.0.0.1;
  2. create the account alice and the identity @alice.dhp.test: a CSC, its
     did:key, and its TLSA and TXT records (did= and oauth=), signed into
     the zone;
  3. enroll a device over ACME with a one-time enrollment code;
  4. resolve the handle and validate the answers from the zone's DS;
  5. start a web application behind the dnshandle proxy;
  6. log in to it with the device certificate over TLS 1.3;
  7. log in to it again without a certificate, through OpenID Connect:
     the site's handle form, the provider's sign-in and consent pages;
  8. check that both logins gave the same DID;
  9. show that an API request without a certificate gets the 401
     challenge and that a certificate from another CSC gets 403;
 10. enroll a second device, sign in with it, revoke it at the provider,
     and show that the site, which fetches the CRL named in the
     certificate, now rejects it with 403 at the revocation step.

It prints what each step checked and ends with a line starting "demo: OK".
With --keep the servers stay up until Ctrl-C, the files to try them by
hand are kept in --data (a temporary directory by default), and the
output lists the addresses, the account's password, a PKCS#12 file of the
device for a browser and the commands to try.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return demo.Run(ctx, cmd.OutOrStdout(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.DataDir, "data", "", "new or empty directory for the demo's provider store, trust anchor, certificates and device key (default: a temporary directory, removed on exit)")
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "keep the provider and the relying party running until Ctrl-C, and write a PKCS#12 file for a browser")
	return cmd
}
