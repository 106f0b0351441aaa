package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider"
	"github.com/dnshandle/dnshandle/provider/store"
)

func newAdminCommand() *cobra.Command {
	var flags providerFlags
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage the provider's accounts, identities and zones in its store",
		Long: `Manage the DNS Handle Provider's store directly. The commands open the
same store as "dnshandle serve" (the same --config, --data, --database and
key-encryption key) and may run while it serves: a running server sends
NOTIFY for zone changes made here within a second.`,
	}
	flags.register(cmd)
	// open builds the provider service of a subcommand on an existing
	// store. openOrCreate builds it for the subcommands that may be the
	// first to run on a new provider, and creates the store.
	open := func(ctx context.Context) (*provider.Service, error) {
		return openProvider(ctx, &flags, false)
	}
	openOrCreate := func(ctx context.Context) (*provider.Service, error) {
		return openProvider(ctx, &flags, true)
	}
	cmd.AddCommand(
		newAdminAccountCommand(openOrCreate),
		newAdminIdentityCommand(open),
		newAdminZoneCommand(open, openOrCreate),
		newAdminAuditCommand(open),
		newAdminDeviceCommand(open),
		newAdminImportCommand(open),
	)
	return cmd
}

type openFunc func(ctx context.Context) (*provider.Service, error)

// openProvider loads the configuration of the flags and opens the
// provider's store. Unless create is set, a SQLite store must exist
// already, so that a mistyped --data does not silently start an empty one.
func openProvider(ctx context.Context, flags *providerFlags, create bool) (*provider.Service, error) {
	cfg, err := flags.load()
	if err != nil {
		return nil, err
	}
	if !create {
		if err := requireSQLiteStore(cfg); err != nil {
			return nil, err
		}
	}
	return provider.Open(ctx, cfg)
}

// requireSQLiteStore returns an error naming the database file when cfg
// selects SQLite and the file does not exist. A PostgreSQL store passes,
// and so does a file that cannot be checked: provider.Open reports that.
func requireSQLiteStore(cfg *provider.Config) error {
	if cfg.Database != "" {
		return nil
	}
	path := filepath.Join(cfg.DataDir, store.SQLiteFileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no provider store at %s: pass the --data directory of the provider (or set DNSHANDLE_DATA), "+
			"or create the provider first with dnshandle serve or dnshandle admin zone create", path)
	}
	return nil
}
func newAdminAccountCommand(open openFunc) *cobra.Command {
	var passwordFile string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an account; the password is read from --password-file or standard input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := readPassword(cmd.InOrStdin(), passwordFile)
			if err != nil {
				return err
			}
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				acct, err := svc.CreateAccount(cmd.Context(), args[0], password)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "account %q created\n", acct.Name)
				return err
			})
		},
	}
	create.Flags().StringVar(&passwordFile, "password-file", "", "file whose first line is the password (default: the first line of standard input)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts with their number of identities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				accounts, err := svc.Store.Accounts(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ACCOUNT\tIDENTITIES\tCREATED")
				for _, a := range accounts {
					ids, err := svc.Store.Identities(cmd.Context(), a.ID)
					if err != nil {
						return err
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\n", a.Name, len(ids), a.CreatedAt.UTC().Format("2006-01-02T15:04Z"))
				}
				return tw.Flush()
			})
		},
	}
	account := &cobra.Command{Use: "account", Short: "Create, list and delete accounts"}
	account.AddCommand(create, list, newAdminAccountDeleteCommand(open))
	return account
}

// readPassword reads the first line of the file, or of stdin.
func readPassword(stdin io.Reader, file string) (string, error) {
	r := stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("no password given: write it on standard input or in --password-file")
	}
	return password, nil
}

func newAdminIdentityCommand(open openFunc) *cobra.Command {
	identity := &cobra.Command{Use: "identity", Short: "Create, list, check and delete identities (handles with their CSC)"}

	var (
		account string
		oauth   string
		keyType string
	)
	create := &cobra.Command{
		Use:   "create HANDLE --account NAME",
		Short: "Create an identity: its CSC, its did:key and, for a hosted handle, its signed records",
		Long: `Create an identity for HANDLE in one transaction: a CSC with its key sealed
at rest, the did:key of the CSC key, and the TLSA and TXT records. A handle
directly under a provider zone is hosted: its records go into the zone at
once. Any other handle is under the user's own domain: the command prints
the records to publish there, then "dnshandle admin identity check" marks
it verified.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := handle.ParseInput(args[0])
			if err != nil {
				return err
			}
			if account == "" {
				return errors.New("missing --account: name the account that owns the identity")
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
				if _, err := accountByName(cmd.Context(), svc, account); err != nil {
					return err
				}
				created, err := svc.CreateIdentity(cmd.Context(), account, h, opts)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "identity %s created, DID %s\n", h.Display(), created.Identity.DID)
				if created.Identity.Hosted {
					fmt.Fprintf(out, "records published in the provider zone (serial %d):\n", created.Serial)
				} else {
					fmt.Fprintf(out, "publish these records in the zone of %s, then run: dnshandle admin identity check %s\n", h, h)
				}
				_, err = fmt.Fprint(out, created.Records.ZoneText())
				return err
			})
		},
	}
	create.Flags().StringVar(&account, "account", "", "account that owns the identity (required)")
	create.Flags().StringVar(&oauth, "oauth", "", "OAuth/OIDC issuer to publish as oauth= (host or https URL); default this provider's issuer, \"none\" for no oauth=")
	create.Flags().StringVar(&keyType, "key-type", "", "CSC key type: p256 (default) or ed25519")

	var rflags resolverFlags
	check := &cobra.Command{
		Use:   "check HANDLE",
		Short: "Resolve an own-domain handle and mark it verified when its records match",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := handle.ParseInput(args[0])
			if err != nil {
				return err
			}
			r, err := rflags.resolver()
			if err != nil {
				return err
			}
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				svc.Resolver = r
				problems, err := svc.CheckIdentity(cmd.Context(), h)
				if err != nil {
					return identityHint(err)
				}
				out := cmd.OutOrStdout()
				if len(problems) == 0 {
					_, err := fmt.Fprintf(out, "%s verified: its TLSA and did= records match the identity\n", h.Display())
					return err
				}
				fmt.Fprintf(out, "%s not verified:\n", h.Display())
				for _, p := range problems {
					fmt.Fprintf(out, "  - %s\n", p)
				}
				return errUnusable
			})
		},
	}
	rflags.register(check)

	var listAccount string
	list := &cobra.Command{
		Use:   "list",
		Short: "List identities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				var accountID int64
				if listAccount != "" {
					acct, err := accountByName(cmd.Context(), svc, listAccount)
					if err != nil {
						return err
					}
					accountID = acct.ID
				}
				ids, err := svc.Store.Identities(cmd.Context(), accountID)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "HANDLE\tACCOUNT\tHOSTED\tVERIFIED\tDID\tCREATED")
				names := map[int64]string{}
				for _, id := range ids {
					name, ok := names[id.AccountID]
					if !ok {
						acct, err := svc.Store.AccountByID(cmd.Context(), id.AccountID)
						if err != nil {
							return err
						}
						name = acct.Name
						names[id.AccountID] = name
					}
					fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\t%s\n", id.Handle, name, id.Hosted, id.Verified, id.DID, id.CreatedAt.UTC().Format("2006-01-02T15:04Z"))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&listAccount, "account", "", "only the identities of this account")

	identity.AddCommand(create, check, list, newAdminIdentityDeleteCommand(open))
	return identity
}

func newAdminZoneCommand(open, openOrCreate openFunc) *cobra.Command {
	zone := &cobra.Command{Use: "zone", Short: "List, export and show the DS of provider zones"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the zones in the store with their serials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				zones, err := svc.Store.Zones(cmd.Context())
				if err != nil {
					return err
				}
				for _, z := range zones {
					fmt.Fprintf(cmd.OutOrStdout(), "%s\tserial %d\n", z.Name, z.Serial)
				}
				return nil
			})
		},
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the configured zones (--zone, --config) that the store lacks, with their DNSSEC keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(cmd.Context(), openOrCreate, func(svc *provider.Service) error {
				created, err := svc.EnsureZones(cmd.Context())
				for _, z := range created {
					fmt.Fprintf(cmd.OutOrStdout(), "zone %s created\n", z)
				}
				return err
			})
		},
	}
	ds := &cobra.Command{
		Use:   "ds ZONE",
		Short: "Print the DS record to publish at the parent zone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				records, err := svc.Signer.DS(cmd.Context(), strings.ToLower(dns.Fqdn(args[0])))
				if err != nil {
					return err
				}
				for _, d := range records {
					fmt.Fprintln(cmd.OutOrStdout(), d.String())
				}
				return nil
			})
		},
	}
	export := &cobra.Command{
		Use:   "export ZONE",
		Short: "Print the signed zone in zone-file format, as a secondary would load it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				w := bufio.NewWriter(cmd.OutOrStdout())
				name := strings.ToLower(dns.Fqdn(args[0]))
				err := svc.Store.WalkZone(cmd.Context(), name, func(rr store.RR) error {
					_, err := fmt.Fprintf(w, "%s\t%d\tIN\t%s\t%s\n", rr.Name, rr.TTL, dns.TypeToString[rr.Type], rr.Data)
					return err
				})
				if err != nil {
					return err
				}
				return w.Flush()
			})
		},
	}
	zone.AddCommand(list, create, ds, export)
	return zone
}

func newAdminAuditCommand(open openFunc) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Print the newest entries of the append-only audit log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				entries, err := svc.Store.Audit(cmd.Context(), limit)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				for _, e := range entries {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02T15:04:05Z"), e.Actor, e.Action, e.Subject, e.Detail)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "number of entries")
	return cmd
}

// withService opens the provider's store, runs fn and closes the store.
func withService(ctx context.Context, open openFunc, fn func(svc *provider.Service) error) error {
	svc, err := open(ctx)
	if err != nil {
		return err
	}
	defer svc.Close()
	return fn(svc)
}

// accountByName returns the account called name, or an error with a hint
// to create it when there is none.
func accountByName(ctx context.Context, svc *provider.Service, name string) (*store.Account, error) {
	name = provider.AccountName(name)
	acct, err := svc.Store.AccountByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("account %q: %w: create it with dnshandle admin account create %s", name, store.ErrNotFound, name)
	}
	return acct, err
}

// identityHint adds a pointer to dnshandle admin identity list to an error
// that wraps store.ErrNotFound, such as the error for an unknown handle.
func identityHint(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: see the identities with dnshandle admin identity list", err)
	}
	return err
}
