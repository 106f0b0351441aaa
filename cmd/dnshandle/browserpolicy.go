package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/client"
)

func newBrowserPolicyCommand() *cobra.Command {
	var (
		flags deviceFlags
		out   string
	)
	cmd := &cobra.Command{
		Use:   "browser-policy",
		Short: "Write a Chromium policy that presents the chosen handle's certificate at each site",
		Long: `Write a Chromium managed policy (JSON) with one AutoSelectCertificateForUrls
entry per site choice in sites.json: at that origin Chromium presents, with
no certificate picker, the device certificate issued by the CSC of the
chosen handle (the filter {"ISSUER":{"CN":"<handle>"}}).

Import the device certificate into the browser first (dnshandle device
export, then pk12util for NSS). Chromium on Linux reads policies from
` + client.ChromiumPolicyDir + `, Google Chrome from /etc/opt/chrome/policies/managed;
both need root to write there, and chrome://policy shows what was loaded.
Choose a handle for a site with dnshandle get --handle.`,
		Example: `  dnshandle browser-policy
  sudo dnshandle browser-policy --dir ~/.config/dnshandle/devices --out /etc/chromium/policies/managed/dnshandle.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base, err := flags.baseDir()
			if err != nil {
				return err
			}
			sites, err := client.LoadSites(base)
			if err != nil {
				return err
			}
			choices := sites.List()
			if len(choices) == 0 {
				return fmt.Errorf("no site has a handle chosen in %s: choose a handle for each site first with dnshandle get URL --handle @HANDLE", sites.Path())
			}
			policy, err := client.ChromiumPolicy(choices)
			if err != nil {
				return err
			}

			if out == "" || out == "-" {
				if _, err := cmd.OutOrStdout().Write(policy); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s; Chromium reads managed policies from %s/*.json\n", countNoun(len(choices), "site", "sites"), client.ChromiumPolicyDir)
				return nil
			}
			if err := os.WriteFile(out, policy, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the certificate choices of %s to %s\n", countNoun(len(choices), "site", "sites"), out)
			if filepath.Dir(out) != client.ChromiumPolicyDir {
				fmt.Fprintf(cmd.OutOrStdout(), "Chromium reads managed policies from %s/*.json: copy the file there\n", client.ChromiumPolicyDir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.dir, "dir", "", "directory of this device's keys, certificates and site choices (default: dnshandle/devices under the user configuration directory)")
	cmd.Flags().StringVar(&out, "out", "", "file to write the policy to (default: standard output)")
	return cmd
}
