package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/resolve/dnssec"
)

// resolverFlags are the flags of every command that looks handles up.
type resolverFlags struct {
	servers        []string
	trustAnchor    string
	acceptInsecure bool
	timeout        time.Duration
	snapshot       string
}

func (f *resolverFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.servers, "server", nil, `upstream DNS server, "HOST[:PORT]" or "tls://HOST[:PORT]" (repeatable; default: the nameservers of /etc/resolv.conf)`)
	fl.StringVar(&f.trustAnchor, "trust-anchor", "", "file of DS or DNSKEY records (zone-file syntax) to validate DNSSEC locally; without it only the AD bit of loopback or DNS-over-TLS upstreams counts")
	fl.BoolVar(&f.acceptInsecure, "accept-insecure", false, "accept answers that are not DNSSEC secure and flag them (development only); bogus answers always fail")
	fl.DurationVar(&f.timeout, "timeout", resolve.DefaultTimeout, "deadline for each DNS lookup")
	fl.StringVar(&f.snapshot, "snapshot", "", "answer from this offline snapshot file instead of the network (see --write-snapshot)")
}

// config builds the resolver configuration the flags describe.
func (f *resolverFlags) config() (resolve.Config, error) {
	cfg := resolve.Config{Servers: f.servers, Timeout: f.timeout}
	if f.acceptInsecure {
		cfg.Policy = resolve.AcceptInsecure
	}
	if f.trustAnchor != "" {
		file, err := os.Open(f.trustAnchor)
		if err != nil {
			return cfg, fmt.Errorf("read trust anchors: %w", err)
		}
		defer file.Close()
		anchors, err := dnssec.ParseAnchors(file)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", f.trustAnchor, err)
		}
		cfg.TrustAnchors = anchors
	}
	return cfg, nil
}

// resolver returns a network resolver, or an offline one on --snapshot.
func (f *resolverFlags) resolver() (*resolve.Resolver, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	if f.snapshot == "" {
		return resolve.New(cfg)
	}
	if len(f.servers) > 0 {
		return nil, errors.New("--snapshot reads records from the file and queries no server: drop --server, or drop --snapshot to query the server")
	}
	file, err := os.Open(f.snapshot)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	defer file.Close()
	r, err := resolve.NewOffline(cfg, file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.snapshot, err)
	}
	return r, nil
}

func newResolveCommand() *cobra.Command {
	var (
		flags         resolverFlags
		asJSON        bool
		writeSnapshot string
		httpsDID      bool
	)
	cmd := &cobra.Command{
		Use:   "resolve @HANDLE [@HANDLE...]",
		Short: "Look up a handle's TLSA and _atproto records with their DNSSEC status",
		Long: `Look up the TLSA RRset at <handle> and the TXT RRset at _atproto.<handle>,
print each with its DNSSEC status (secure, insecure, bogus, indeterminate)
and the reason, and say what to publish or fix when something is wrong.

The command exits non-zero when a lookup fails or the records cannot be
used: no TLSA record, an ambiguous did=, or answers that are not secure
under the default policy.`,
		Example: `  dnshandle resolve @alice.dhp.test --server 127.0.0.1:5353 --trust-anchor root.ds
  dnshandle resolve @alice.example.com --json
  dnshandle resolve @alice.example.com @bob.example.com --trust-anchor root.ds --write-snapshot hub.snapshot
  dnshandle resolve @alice.example.com --snapshot hub.snapshot --trust-anchor root.ds`,
		Args: requireHandles,
		RunE: func(cmd *cobra.Command, args []string) error {
			handles := make([]handle.Handle, 0, len(args))
			for _, arg := range args {
				h, err := handle.ParseInput(arg)
				if err != nil {
					return err
				}
				handles = append(handles, h)
			}
			r, err := flags.resolver()
			if err != nil {
				return err
			}
			if writeSnapshot != "" {
				if flags.trustAnchor == "" {
					return errors.New("--write-snapshot needs --trust-anchor: without trust anchors the snapshot lacks the DNSKEY and DS chain, and AD bits in a file prove nothing offline")
				}
				if err := writeSnapshotFile(cmd.Context(), r, writeSnapshot, handles); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote the records of %s, with their signatures and chain of trust, to %s\n", countNoun(len(handles), "handle", "handles"), writeSnapshot)
			}
			err = printResolutions(cmd.Context(), cmd.OutOrStdout(), r, handles, asJSON)
			if httpsDID {
				err = errors.Join(err, printHTTPSDIDs(cmd.Context(), cmd.OutOrStdout(), handles, flags.timeout))
			}
			return err
		},
	}
	flags.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one indented JSON object per handle")
	cmd.Flags().BoolVar(&httpsDID, "https-did", false, "also fetch each DID with the AT Protocol HTTPS method, https://<handle>/.well-known/atproto-did")
	cmd.Flags().StringVar(&writeSnapshot, "write-snapshot", "", "write the answers, signatures and DNSKEY/DS chain of the handles to this file for offline use")
	return cmd
}

// errUnusable reports that at least one handle's records cannot be used;
// the details were already printed.
var errUnusable = errors.New("records not usable; the problems are listed above")

// requireHandles checks that a command got at least one handle argument.
func requireHandles(_ *cobra.Command, args []string) error {
	if len(args) == 0 {
		return errors.New("missing handle: give at least one, for example @alice.dhp.test")
	}
	return nil
}

func printResolutions(ctx context.Context, out io.Writer, r *resolve.Resolver, handles []handle.Handle, asJSON bool) error {
	failed := false
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	for _, h := range handles {
		res, err := r.Resolve(ctx, h)
		problems := resolve.Diagnose(res, err)
		if err != nil || len(problems) > 0 {
			failed = true
		}
		if asJSON {
			if err := enc.Encode(resolve.NewView(res, err)); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintln(out, resolve.Render(res, err)); err != nil {
			return err
		}
	}
	if failed {
		return errUnusable
	}
	return nil
}

// writeSnapshotFile writes the snapshot to a temporary file beside path
// and renames it, so a failed run never leaves a partial snapshot.
func writeSnapshotFile(ctx context.Context, r *resolve.Resolver, path string, handles []handle.Handle) error {
	file, err := os.CreateTemp(filepath.Dir(path), ".snapshot-*")
	if err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	defer os.Remove(file.Name())
	if err := r.WriteSnapshot(ctx, file, handles); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	return os.Rename(file.Name(), path)
}

// printHTTPSDIDs fetches the DID of each handle over HTTPS and prints it.
func printHTTPSDIDs(ctx context.Context, out io.Writer, handles []handle.Handle, timeout time.Duration) error {
	client := &http.Client{Timeout: timeout}
	failed := 0
	for _, h := range handles {
		did, err := resolve.DIDOverHTTPS(ctx, client, h)
		if err != nil {
			fmt.Fprintf(out, "did over HTTPS for %s: %v\n", h.Display(), err)
			failed++
			continue
		}
		fmt.Fprintf(out, "did over HTTPS for %s: %s\n", h.Display(), did)
	}
	if failed > 0 {
		return fmt.Errorf("the HTTPS DID lookup failed for %d of %d handles", failed, len(handles))
	}
	return nil
}
