package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// deviceFlags are the flags of every device subcommand.
type deviceFlags struct {
	dir     string
	caFile  string
	timeout time.Duration
}

func (f *deviceFlags) register(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.dir, "dir", "", "directory of this device's keys and certificates (default: dnshandle/devices under the user configuration directory)")
	fl.StringVar(&f.caFile, "ca", "", "PEM file of a CA to trust for the provider's HTTPS certificate, in addition to the system roots")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up when the exchange with the provider takes longer, retries included")
}

// baseDir returns --dir or the default under os.UserConfigDir.
func (f *deviceFlags) baseDir() (string, error) {
	if f.dir != "" {
		return f.dir, nil
	}
	config, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no --dir given and no user configuration directory: %w", err)
	}
	return filepath.Join(config, "dnshandle", "devices"), nil
}

// providerCAFile is the copy of --ca that enroll keeps in the device
// directory, so that renew and revoke trust the same provider certificate.
const providerCAFile = "provider-ca.pem"

// httpClient trusts the system roots plus --ca.
func (f *deviceFlags) httpClient() (*http.Client, error) {
	return httpClientWithCA(f.caFile)
}

// httpClientFor is httpClient for an enrolled device: without --ca it
// trusts the CA file kept at enrollment, when there is one.
func (f *deviceFlags) httpClientFor(deviceDir string) (*http.Client, error) {
	return httpClientWithCA(f.caFileFor(deviceDir))
}

// caFileFor returns the CA file that httpClientFor trusts for the device
// in deviceDir: --ca, else the copy kept at enrollment, else "".
func (f *deviceFlags) caFileFor(deviceDir string) string {
	if f.caFile == "" {
		kept := filepath.Join(deviceDir, providerCAFile)
		if _, err := os.Stat(kept); err == nil {
			return kept
		}
	}
	return f.caFile
}

// httpClientWithCA trusts the system roots plus the certificates in caFile
// (none when caFile is empty).
func httpClientWithCA(caFile string) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{Timeout: 30 * time.Second}, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate found", caFile)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}, nil
}

// deviceDir returns the directory of the enrolled handle given as args[0],
// or an error saying that no device is enrolled for it when that
// directory has no client.MetaFile.
func (f *deviceFlags) deviceDir(arg string) (string, error) {
	h, err := handle.ParseInput(arg)
	if err != nil {
		return "", err
	}
	base, err := f.baseDir()
	if err != nil {
		return "", err
	}
	dir := client.DeviceDir(base, h)
	if _, err := os.Stat(filepath.Join(dir, client.MetaFile)); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no device is enrolled for %s in %s: see dnshandle device list, or give the device directory with --dir", h.Display(), base)
	}
	return dir, nil
}

func newDeviceCommand() *cobra.Command {
	var flags deviceFlags
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Enroll this device for a handle over ACME, renew, list and revoke its certificates",
		Long: `Manage this device's client certificates. The device key is made here
and never leaves this machine; the provider signs a certificate for it
under the identity's CSC after an ACME (RFC 8555) exchange authorised by
a one-time enrollment code.`,
	}
	flags.register(cmd)
	cmd.AddCommand(newDeviceEnrollCommand(&flags), newDeviceRenewCommand(&flags),
		newDeviceListCommand(&flags), newDeviceRevokeCommand(&flags), newDeviceExportCommand(&flags))
	return cmd
}

func newDeviceEnrollCommand(flags *deviceFlags) *cobra.Command {
	var (
		code      string
		provider  string
		eabKID    string
		eabKey    string
		handleArg string
		keyType   string
	)
	cmd := &cobra.Command{
		Use:   "enroll (--code CODE | --provider URL --eab-kid KID --eab-key KEY --handle HANDLE)",
		Short: "Make a device key and get its certificate from the provider",
		Example: `  dnshandle device enroll --code dnshandle-enroll:v1:eyJ...
  dnshandle device enroll --provider https://dhp.example.com/acme/directory --eab-kid KID --eab-key KEY --handle @alice.dhp.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base, err := flags.baseDir()
			if err != nil {
				return err
			}
			httpClient, err := flags.httpClient()
			if err != nil {
				return err
			}
			opts := client.EnrollOptions{Code: code, DirectoryURL: provider, EABKeyID: eabKID,
				KeyType: pki.KeyType(keyType), Dir: base, HTTPClient: httpClient}
			if code == "" {
				if provider == "" || eabKID == "" || eabKey == "" || handleArg == "" {
					return errors.New("give --code, or all of --provider, --eab-kid, --eab-key and --handle")
				}
				if opts.EABKey, err = base64.RawURLEncoding.DecodeString(eabKey); err != nil {
					return fmt.Errorf("--eab-key is not base64url without padding: %w", err)
				}
			}
			if handleArg != "" {
				if opts.Handle, err = handle.ParseInput(handleArg); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), flags.timeout)
			defer cancel()
			dev, err := client.Enroll(ctx, opts)
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("enrollment did not finish within %v: check that the code names a running provider (it prints its directory URL) and the provider's log: %w", flags.timeout, err)
			}
			if err != nil {
				return explainUntrustedProvider(err, flags.caFile)
			}
			if flags.caFile != "" {
				if err := copyFile(flags.caFile, filepath.Join(dev.Dir, providerCAFile)); err != nil {
					return fmt.Errorf("enrolled, but keeping --ca for renewals failed (pass --ca to renew and revoke): %w", err)
				}
			}
			out := cmd.OutOrStdout()
			if dev.Replaced != "" {
				fmt.Fprintf(out, "the revoked device of %s was moved to %s\n", dev.Handle.Display(), dev.Replaced)
			}
			fmt.Fprintf(out, "enrolled %s as device %q\n", dev.Handle.Display(), dev.Label)
			fmt.Fprintf(out, "  DID         %s\n  device id   %s\n  valid until %s\n  files       %s\n",
				dev.DID, dev.Fingerprint, dev.NotAfter.UTC().Format(time.RFC3339), dev.Dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&code, "code", "", "one-line enrollment code from the provider (dnshandle-enroll:v1:...)")
	f.StringVar(&provider, "provider", "", "ACME directory URL of the provider")
	f.StringVar(&eabKID, "eab-kid", "", "External Account Binding key ID")
	f.StringVar(&eabKey, "eab-key", "", "External Account Binding HMAC key, base64url")
	f.StringVar(&handleArg, "handle", "", "handle to enroll (with --code it must match the code's handle)")
	f.StringVar(&keyType, "key-type", "", "device key type: p256 (default), p384 or ed25519")
	return cmd
}

func newDeviceRenewCommand(flags *deviceFlags) *cobra.Command {
	var opts client.RenewOptions
	cmd := &cobra.Command{
		Use:   "renew @HANDLE",
		Short: "Renew the device certificate when the provider's renewal information says so",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := flags.deviceDir(args[0])
			if err != nil {
				return err
			}
			if opts.HTTPClient, err = flags.httpClientFor(dir); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), flags.timeout)
			defer cancel()
			r, err := client.Renew(ctx, dir, opts)
			if err != nil {
				return explainUntrustedProvider(err, flags.caFileFor(dir))
			}
			out := cmd.OutOrStdout()
			if r.Renewed {
				fmt.Fprintf(out, "renewed %s: valid until %s\n", r.Device.Handle.Display(), r.Device.NotAfter.UTC().Format(time.RFC3339))
			} else {
				fmt.Fprintf(out, "%s does not need renewal yet: renew at %s (--force renews now)\n", r.Device.Handle.Display(), r.RenewAt.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "renew now, whatever the renewal information suggests")
	cmd.Flags().BoolVar(&opts.NewKey, "new-key", false, "make a new device key (the device id changes)")
	return cmd
}

func newDeviceListCommand(flags *deviceFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the handles this device is enrolled for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base, err := flags.baseDir()
			if err != nil {
				return err
			}
			devices, err := client.List(base)
			if err != nil {
				return err
			}
			if len(devices) == 0 {
				if _, err := os.Stat(base); errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("no device directory at %s: enroll a device first (dnshandle device enroll), or give the --dir it was enrolled into", base)
				}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HANDLE\tLABEL\tVALID UNTIL\tSTATUS\tDEVICE ID")
			for _, d := range devices {
				status := "active"
				if !d.Revoked.IsZero() {
					status = "revoked"
				} else if time.Now().After(d.NotAfter) {
					status = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Handle.Display(), d.Label, d.NotAfter.UTC().Format("2006-01-02"), status, d.Fingerprint)
			}
			return tw.Flush()
		},
	}
}

func newDeviceRevokeCommand(flags *deviceFlags) *cobra.Command {
	var keyCompromise bool
	cmd := &cobra.Command{
		Use:   "revoke @HANDLE",
		Short: "Revoke this device's certificate for a handle, and its ACME account, so relying parties that read the CRL reject it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := flags.deviceDir(args[0])
			if err != nil {
				return err
			}
			opts := client.RevokeOptions{}
			if opts.HTTPClient, err = flags.httpClientFor(dir); err != nil {
				return err
			}
			if keyCompromise {
				opts.Reason = pki.ReasonKeyCompromise
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), flags.timeout)
			defer cancel()
			if err := client.Revoke(ctx, dir, opts); err != nil {
				return explainUntrustedProvider(err, flags.caFileFor(dir))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "revoked the device certificate in %s\n", dir)
			return err
		},
	}
	cmd.Flags().BoolVar(&keyCompromise, "key-compromise", false, "give keyCompromise as the reason (the key was lost or stolen)")
	return cmd
}

// explainUntrustedProvider adds advice to an error of an exchange with
// the provider whose HTTPS certificate is signed by an unknown authority.
// caFile is the CA file the client trusted besides the system roots, or
// "" for none.
func explainUntrustedProvider(err error, caFile string) error {
	var unknown x509.UnknownAuthorityError
	switch {
	case !errors.As(err, &unknown):
		return err
	case caFile == "":
		return fmt.Errorf("%w: the provider's HTTPS certificate is not trusted: give its CA file with --ca (dnshandle serve writes it to <data>/acme/ca.pem)", err)
	default:
		return fmt.Errorf("%w: no CA in %s signed the provider's HTTPS certificate: give this provider's CA file with --ca (dnshandle serve writes it to <data>/acme/ca.pem)", err, caFile)
	}
}

// copyFile copies a certificate file, readable by everyone like the chain.
func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

func newDeviceExportCommand(flags *deviceFlags) *cobra.Command {
	var (
		out          string
		passwordFile string
		legacy       bool
	)
	cmd := &cobra.Command{
		Use:   "export @HANDLE --out FILE",
		Short: "Write the device key and certificate chain as a PKCS #12 file for a browser",
		Long: `Write the device key, the device certificate and the CSC as a
password-protected PKCS #12 file (mode 0600), for importing into a
browser's certificate store on this device, for example:

  pk12util -d sql:$HOME/.pki/nssdb -i alice.p12

The password comes from --password-file, from a prompt on a terminal, or
from the first line of standard input, and must have at least ` + strconv.Itoa(client.MinPKCS12PasswordLength) + `
characters. The file holds the private key: delete it once imported.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("missing --out: give the file to write, such as alice.p12")
			}
			dir, err := flags.deviceDir(args[0])
			if err != nil {
				return err
			}
			dev, err := client.Load(dir)
			if err != nil {
				return err
			}
			password, err := readNewPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), passwordFile)
			if err != nil {
				return err
			}
			encoding := client.PKCS12Modern
			if legacy {
				encoding = client.PKCS12Legacy
			}
			data, err := dev.ExportPKCS12(password, encoding)
			if err != nil {
				return err
			}
			// O_EXCL keeps an existing file, which may be another key.
			file, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			switch {
			case errors.Is(err, fs.ErrExist):
				return fmt.Errorf("%w: choose another --out, or remove the file first", err)
			case errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("--out: %w: create the directory first, or choose another --out", err)
			case err != nil:
				return fmt.Errorf("--out: %w", err)
			}
			if _, err := file.Write(data); err != nil {
				file.Close()
				os.Remove(out)
				return err
			}
			if err := file.Close(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote the key and certificates of %s (%s encoding) to %s\n", dev.Handle.Display(), encoding, out)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "PKCS #12 file to create (it must not exist)")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "file whose first line is the password")
	cmd.Flags().BoolVar(&legacy, "legacy", false, "use the legacy SHA-1 and 3DES encoding for software that cannot read AES (weak: use a long random password)")
	return cmd
}
