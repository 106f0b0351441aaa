package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
)

func newRecordsCommand() *cobra.Command {
	var (
		cscFile     string
		deviceFiles []string
		did         string
		oauth       string
		ttl         uint32
	)
	cmd := &cobra.Command{
		Use:   "records HANDLE --csc FILE [--did DID] [--oauth ISSUER]",
		Short: "Print the zone-file records that publish a handle",
		Long: `Print the DNS records, in zone-file syntax, that a handle owner publishes:

  <handle>.           TLSA 2 1 1 <SHA-256 of the CSC public key>
  <handle>.           TLSA 3 1 1 <SHA-256 of a device public key>   (with --device)
  _atproto.<handle>.  TXT  "did=<DID>"
  _atproto.<handle>.  TXT  "oauth=<issuer>"                          (with --oauth)

The DID defaults to the did:key of the CSC public key, the permanent
identifier of a fresh identity.`,
		Example: `  dnshandle records @alice.example.com --csc csc.pem --oauth https://dhp.example.com`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := handle.ParseInput(args[0])
			if err != nil {
				return err
			}
			if cscFile == "" {
				return errors.New("missing --csc: give the PEM file of the identity's Certificate Signing Certificate")
			}
			csc, err := readCertificate(cscFile)
			if err != nil {
				return err
			}
			// A CSC names its handle in the subject CN, so publishing it under
			// another handle would accredit a CA for the wrong identity.
			if !strings.EqualFold(csc.Subject.CommonName, h.String()) {
				return fmt.Errorf("%s is the CSC of %q, not of %s: give the CSC made for this handle", cscFile, csc.Subject.CommonName, h)
			}
			if !csc.IsCA {
				return fmt.Errorf("%s is not a CA certificate: --csc takes the identity's Certificate Signing Certificate, --device takes device certificates", cscFile)
			}
			set := records.HandleRecords{Handle: h, TTL: ttl, OAuth: oauth}
			set.TLSA = append(set.TLSA, records.CSCRecord(csc))
			for _, f := range deviceFiles {
				leaf, err := readCertificate(f)
				if err != nil {
					return err
				}
				set.TLSA = append(set.TLSA, records.DeviceRecord(leaf))
			}

			if did == "" {
				d, err := handle.DIDKeyFromPublicKey(csc.PublicKey)
				if err != nil {
					return fmt.Errorf("derive did:key from %s: %w (give --did for this key type)", cscFile, err)
				}
				set.DID = d.String()
			} else {
				d, err := handle.ParseDID(did)
				if err != nil {
					return err
				}
				set.DID = d.String()
			}
			if oauth != "" {
				issuer, err := records.ParseOAuthIssuer(oauth)
				if err != nil {
					return err
				}
				set.OAuth = issuer
			}

			_, err = fmt.Fprint(cmd.OutOrStdout(), set.ZoneText())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cscFile, "csc", "", "PEM file with the identity's Certificate Signing Certificate (required)")
	f.StringArrayVar(&deviceFiles, "device", nil, "PEM file with a device certificate to accredit directly with TLSA 3 1 1 (repeatable)")
	f.StringVar(&did, "did", "", "permanent identifier for the TXT did= record (default: did:key of the CSC public key)")
	f.StringVar(&oauth, "oauth", "", "OAuth/OIDC issuer for the TXT oauth= record: a host name or an https:// URL")
	f.Uint32Var(&ttl, "ttl", 3600, "TTL of every record, in seconds")
	return cmd
}

// readCertificate reads the first CERTIFICATE block of a PEM file.
func readCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM CERTIFICATE block found", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid certificate: %w", path, err)
		}
		return cert, nil
	}
}
