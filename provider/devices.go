package provider

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/acmestore"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/records"
)

// CreateHandle creates the identity h for the account with the default
// options of this provider (CreateIdentity), and returns it.
func (s *Service) CreateHandle(ctx context.Context, accountName string, h handle.Handle) (*store.Identity, error) {
	created, err := s.CreateIdentity(ctx, accountName, h, s.DefaultIdentityOptions())
	if err != nil {
		return nil, err
	}
	return created.Identity, nil
}

// HandleRecords returns the records the identity h publishes, rebuilt
// from its stored CSC and DID, with oauth= naming this provider's issuer
// (DefaultIdentityOptions): for an own domain, what its owner publishes.
func (s *Service) HandleRecords(ctx context.Context, h handle.Handle) (records.HandleRecords, error) {
	id, err := s.Store.IdentityByHandle(ctx, h.String())
	if err != nil {
		return records.HandleRecords{}, lookupError("identity "+h.String(), err)
	}
	cert, err := x509.ParseCertificate(id.CSCCert)
	if err != nil {
		return records.HandleRecords{}, fmt.Errorf("stored CSC of %s: %w", h, err)
	}
	set := records.HandleRecords{Handle: h, TTL: RecordTTL, DID: id.DID, TLSA: []records.TLSA{records.CSCRecord(cert)}}
	set.OAuth = s.DefaultIdentityOptions().OAuth
	return set, nil
}

// IssueDevice signs a device certificate for the key of csr with the CSC
// of h, records it as a device of h with the label, and returns the chain
// [device certificate, CSC]. It is the path for devices that cannot run an
// ACME client, such as a browser that imports a PKCS#12 file: the caller
// made the key and only the CSR reaches the provider.
func (s *Service) IssueDevice(ctx context.Context, h handle.Handle, label string, csr *x509.CertificateRequest) ([]*x509.Certificate, error) {
	id, err := s.Store.IdentityByHandle(ctx, h.String())
	if err != nil {
		return nil, lookupError("identity "+h.String(), err)
	}
	did, err := handle.ParseDID(id.DID)
	if err != nil {
		return nil, fmt.Errorf("stored DID of %s: %w", h, err)
	}
	csc, err := s.LoadCSC(ctx, h)
	if err != nil {
		return nil, err
	}
	leaf, err := pki.IssueDevice(rand.Reader, csc, csr, pki.DeviceOptions{
		Label: label, DID: did, Now: s.Now,
		CRLURL: s.Config.ACMEBaseURL() + "/crl/" + acmestore.IdentityKey(id.ID),
	})
	if err != nil {
		return nil, err
	}

	d := &store.Device{
		IdentityID: id.ID, Label: label, Serial: acme.SerialText(leaf.SerialNumber),
		Fingerprint: pki.SPKIFingerprint(leaf), CertDER: leaf.Raw, CreatedAt: s.now(),
	}
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateDevice(ctx, d); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: "web", Action: "device.issue", Subject: h.String(),
			Detail: fmt.Sprintf("serial %s, label %q", d.Serial, label)})
	})
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{leaf, csc.Certificate}, nil
}

// RevokeDevice revokes the device certificate of h with the serial
// (lowercase hex), and every other active certificate of the same device
// key. The error wraps store.ErrNotFound when h has no such device and
// store.ErrConflict when it is revoked already.
func (s *Service) RevokeDevice(ctx context.Context, h handle.Handle, serial string, reason pki.RevocationReason) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		id, err := tx.IdentityByHandle(ctx, h.String())
		if err != nil {
			return lookupError("identity "+h.String(), err)
		}
		d, err := tx.DeviceBySerial(ctx, serial)
		if err != nil {
			return err
		}
		if d.IdentityID != id.ID {
			return fmt.Errorf("device %s of %s: %w", serial, h, store.ErrNotFound)
		}
		return acmestore.RevokeDeviceKey(ctx, tx, d, reason, s.now(), "web")
	})
}

// TouchDevice records that the device certificate with the serial was
// just used to sign in.
func (s *Service) TouchDevice(ctx context.Context, serial string) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		d, err := tx.DeviceBySerial(ctx, serial)
		if err != nil {
			return err
		}
		return tx.TouchDevice(ctx, d.ID, s.now())
	})
}

// lookupError wraps the error of looking up what, such as "identity
// alice.example", in the store. A not-found error becomes "<what>: not
// found" without the store's message, because that names the object
// again.
func lookupError(what string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
