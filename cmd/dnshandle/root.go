package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
// When it is empty, the module version or VCS revision from the build
// information is shown instead.
var version string

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "dnshandle",
		Short: "Log in with a DNS handle: TLS client certificates bound through DNS, and OIDC",
		Long: `dnshandle makes a DNS name such as @alice.example.com a login for every service.

A relying party accepts a TLS client certificate because a TLSA record under
the handle accredits the key that signed it, and reads the permanent
identifier (a DID) from the TXT record at _atproto.<handle>.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetVersionTemplate("dnshandle {{.Version}}\n")
	root.AddCommand(newVersionCommand(), newRecordsCommand(), newResolveCommand(), newVerifyCommand(), newServeCommand(), newAdminCommand(), newDeviceCommand(), newDemoCommand(),
		newProxyCommand(), newGetCommand(), newBrowserPolicyCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "dnshandle %s\n", buildVersion())
			return err
		},
	}
}

// buildVersion returns the version set with -ldflags, else the module
// version, else the VCS revision recorded by the Go toolchain.
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	revision, modified := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		return "(devel)"
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if modified {
		revision += "-dirty"
	}
	return "(devel) " + revision
}

// countNoun returns n followed by the singular or the plural of a noun,
// such as "1 site" or "0 sites".
func countNoun(n int, singular, plural string) string {
	if n == 1 {
		return "1 " + singular
	}
	return fmt.Sprintf("%d %s", n, plural)
}
