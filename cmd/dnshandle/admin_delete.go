package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider"
	"github.com/dnshandle/dnshandle/provider/store"
)

func newAdminIdentityDeleteCommand(open openFunc) *cobra.Command {
	var (
		account string
		yes     bool
	)
	cmd := &cobra.Command{
		Use:   "delete HANDLE --yes [--account NAME]",
		Short: "Delete an identity: its records, CSC, devices and grants, and free its handle",
		Long: `Delete the identity of HANDLE in one transaction: the TLSA and TXT records
of a hosted handle leave the provider zone, and the CSC with its sealed key,
the devices, enrollment codes, ACME accounts and OpenID grants are deleted.
Every device certificate of the identity stops verifying as soon as relying
parties see the records gone. The audit log keeps the deletion.

The handle is then free: a new identity for it gets a new CSC and a new
DID, so it never signs in to the accounts that sites keep for the old DID.
For a handle under the user's own domain, the command says which records
to remove from that domain's DNS.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := handle.ParseInput(args[0])
			if err != nil {
				return err
			}
			if !yes {
				return fmt.Errorf("deleting %s removes its CSC, devices and records for good: run the command again with --yes", h.Display())
			}
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				if account != "" {
					if _, err := accountByName(cmd.Context(), svc, account); err != nil {
						return err
					}
				}
				deleted, err := svc.DeleteIdentity(cmd.Context(), account, h)
				if err != nil {
					return identityHint(err)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "identity %s deleted (DID %s)\n", h.Display(), deleted.DID)
				if deleted.Zone != "" {
					_, err = fmt.Fprintf(out, "its records left zone %s (serial %d)\n", deleted.Zone, deleted.Serial)
					return err
				}
				_, err = fmt.Fprintln(out, deleted.OwnDomainNotice())
				return err
			})
		},
	}
	cmd.Flags().StringVar(&account, "account", "", "delete only if this account owns the identity")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}

func newAdminAccountDeleteCommand(open openFunc) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME --yes",
		Short: "Delete an account with all its identities, and free its name",
		Long: `Delete the account NAME and each of its identities, as "dnshandle admin
identity delete" does for one, in one transaction. The account's sessions
at the web pages stop working and its name is free for a new account.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := provider.AccountName(args[0])
			if !yes {
				return fmt.Errorf("deleting account %q removes all its identities, devices and records for good: run the command again with --yes", name)
			}
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				deleted, err := svc.DeleteAccount(cmd.Context(), name)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("%w: see the accounts with dnshandle admin account list", err)
				}
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "account %q deleted with %s\n", deleted.Name, identityCount(len(deleted.Identities)))
				for _, id := range deleted.Identities {
					if notice := id.OwnDomainNotice(); notice != "" {
						fmt.Fprintf(out, "  %s: %s\n", id.Handle.Display(), notice)
					} else {
						fmt.Fprintf(out, "  %s: records left zone %s\n", id.Handle.Display(), id.Zone)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}

// identityCount returns "1 identity" or "N identities".
func identityCount(n int) string {
	if n == 1 {
		return "1 identity"
	}
	return fmt.Sprintf("%d identities", n)
}
