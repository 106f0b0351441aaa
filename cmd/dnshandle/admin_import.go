package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider"
)

func newAdminImportCommand(open openFunc) *cobra.Command {
	var (
		account string
		oauth   string
		keyType string
	)
	cmd := &cobra.Command{
		Use:   "import FILE --account NAME",
		Short: "Create many hosted identities in one transaction from a file of handles",
		Long: `Create an identity, as "dnshandle admin identity create" does, for every
handle in FILE (one a line; blank lines and lines starting with # are
skipped; "-" reads standard input). All of them are created in one
transaction, or none when one fails, and the zone's NSEC3 chain is built
once for all of them, which makes the import much faster than creating
the identities one by one. Every handle must lie directly under a provider
zone. The store's writer is busy until the import ends, so other changes
wait; a running "dnshandle serve" serves the new handles after the commit
and sends NOTIFY to its secondaries within a second.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if account == "" {
				return fmt.Errorf("missing --account: name the account that owns the identities")
			}
			handles, err := readHandles(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				opts := svc.DefaultIdentityOptions()
				opts.KeyType = pki.KeyType(keyType)
				switch oauth {
				case "":
				case "none":
					opts.OAuth = ""
				default:
					opts.OAuth = oauth
				}
				errOut := cmd.ErrOrStderr()
				step := max(len(handles)/10, 1)
				next := step
				result, err := svc.ImportIdentities(cmd.Context(), account, handles, opts, func(done int) {
					if done >= next || done == len(handles) {
						fmt.Fprintf(errOut, "prepared and stored %d of %d identities\n", done, len(handles))
						next = done + step
					}
				})
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "imported %d identities\n", result.Identities)
				for zone, serial := range result.Serials {
					fmt.Fprintf(out, "zone %s at serial %d\n", zone, serial)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&account, "account", "", "account that owns the identities (required)")
	cmd.Flags().StringVar(&oauth, "oauth", "", "OAuth/OIDC issuer to publish as oauth= (host or https URL); default this provider's issuer, \"none\" for no oauth=")
	cmd.Flags().StringVar(&keyType, "key-type", "", "CSC key type: p256 (default) or ed25519")
	return cmd
}

// readHandles reads the handles of path, or of stdin for "-": one a line,
// with blank lines and lines starting with "#" skipped.
func readHandles(stdin io.Reader, path string) ([]handle.Handle, error) {
	in := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	var out []handle.Handle
	scanner := bufio.NewScanner(in)
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		h, err := handle.ParseInput(text)
		if err != nil {
			return nil, fmt.Errorf("%s, line %d: %w", path, line, err)
		}
		out = append(out, h)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no handles", path)
	}
	return out, nil
}
