package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider"
)

func newAdminDeviceCommand(open openFunc) *cobra.Command {
	device := &cobra.Command{Use: "device", Short: "Mint enrollment codes for devices and list the devices of an identity"}

	var (
		label, baseURL string
		qr             bool
	)
	code := &cobra.Command{
		Use:   "code HANDLE --label LABEL",
		Short: "Mint a one-time enrollment code for a device of HANDLE",
		Long: `Mint a one-time ACME External Account Binding credential for one device of
HANDLE and print it as the one-line enrollment code that
"dnshandle device enroll --code" reads. The code is shown once: the store
keeps its key sealed. It names the ACME directory under [acme] base_url
(default https://<acme listen>/acme), and expires after one hour.`,
		Example: `  dnshandle admin device code @alice.dhp.test --label laptop`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := handle.ParseInput(args[0])
			if err != nil {
				return err
			}
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				if baseURL != "" {
					svc.Config.ACME.BaseURL = baseURL
				}
				en, err := svc.NewEnrollment(cmd.Context(), h, label)
				if err != nil {
					return identityHint(err)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintln(out, en.Code())
				if qr {
					// The code is long, so the QR symbol uses the lowest
					// error correction to stay small enough for a terminal.
					symbol, err := qrcode.New(en.Code(), qrcode.Low)
					if err != nil {
						return fmt.Errorf("render the code as a QR code: %w", err)
					}
					fmt.Fprint(out, symbol.ToSmallString(false))
				}
				_, err = fmt.Fprintf(out, "expires %s; directory %s\n", en.Expires.UTC().Format(time.RFC3339), en.DirectoryURL)
				return err
			})
		},
	}
	code.Flags().StringVar(&label, "label", "", "device label written into its certificates, such as laptop (required)")
	code.Flags().StringVar(&baseURL, "base-url", "", "ACME base URL to put into the code (default [acme] base_url, or https://<acme listen>/acme)")
	code.Flags().BoolVar(&qr, "qr", false, "also print the code as a QR code, for a phone or tablet to scan")
	_ = code.MarkFlagRequired("label")

	list := &cobra.Command{
		Use:   "list HANDLE",
		Short: "List the devices of HANDLE with their status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := handle.ParseInput(args[0])
			if err != nil {
				return err
			}
			return withService(cmd.Context(), open, func(svc *provider.Service) error {
				devices, err := svc.Devices(cmd.Context(), h)
				if err != nil {
					return identityHint(err)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "LABEL\tSTATUS\tSERIAL\tDEVICE\tCREATED\tREVOKED")
				for _, d := range devices {
					revoked := "-"
					if !d.RevokedAt.IsZero() {
						revoked = d.RevokedAt.UTC().Format("2006-01-02T15:04Z")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Label, d.Status, d.Serial, d.Fingerprint,
						d.CreatedAt.UTC().Format("2006-01-02T15:04Z"), revoked)
				}
				return tw.Flush()
			})
		},
	}
	device.AddCommand(code, list)
	return device
}
