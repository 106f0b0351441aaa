package acmestore

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/store"
)

func eabPurpose(keyID string) string { return "eab:" + keyID }

// CreateEABCredential implements acme.Backend. The HMAC key is stored sealed.
func (b *Backend) CreateEABCredential(ctx context.Context, c *acme.EABCredential) error {
	id, err := parseIdentityKey(c.IdentityID)
	if err != nil {
		return err
	}
	sealed, err := b.sealer.Seal(c.Key, eabPurpose(c.KeyID))
	if err != nil {
		return fmt.Errorf("seal the EAB key %q: %w", c.KeyID, err)
	}
	e := &store.Enrollment{KeyID: c.KeyID, IdentityID: id, Label: c.Label, MACKeyHash: sealed, ExpiresAt: c.Expires}
	err = b.st.InTx(ctx, func(tx store.Tx) error { return tx.CreateEnrollment(ctx, e) })
	return mapErr(err, acme.ErrDuplicate)
}

// EABCredential implements acme.Backend. Created is not stored and is
// returned as the zero time. A used credential whose key Prune erased is
// returned as acme.ErrNotFound, like one Prune deleted.
func (b *Backend) EABCredential(ctx context.Context, keyID string) (*acme.EABCredential, error) {
	e, err := b.st.Enrollment(ctx, keyID)
	if err != nil {
		return nil, mapErr(err, nil)
	}
	if len(e.MACKeyHash) == 0 {
		return nil, fmt.Errorf("EAB key ID %q expired and its key was erased: %w", keyID, acme.ErrNotFound)
	}
	key, err := b.sealer.Open(e.MACKeyHash, eabPurpose(keyID))
	if err != nil {
		return nil, fmt.Errorf("unseal the EAB key %q: %w", keyID, err)
	}
	c := &acme.EABCredential{KeyID: e.KeyID, Key: key, IdentityID: IdentityKey(e.IdentityID), Label: e.Label, Expires: e.ExpiresAt}
	if !e.UsedAt.IsZero() {
		a, err := b.st.ACMEAccountByEABKey(ctx, keyID)
		if err != nil {
			return nil, mapErr(err, nil)
		}
		c.AccountID = a.ID
	}
	return c, nil
}

func accountRow(a *acme.Account) (*store.ACMEAccount, error) {
	id, err := parseIdentityKey(a.IdentityID)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode ACME account %q: %w", a.ID, err)
	}
	return &store.ACMEAccount{ID: a.ID, IdentityID: id, Thumbprint: a.Thumbprint, EABKeyID: a.EABKeyID, Data: data}, nil
}

func accountOf(row *store.ACMEAccount) (*acme.Account, error) {
	a := &acme.Account{}
	if err := json.Unmarshal(row.Data, a); err != nil {
		return nil, fmt.Errorf("decode ACME account %q: %w", row.ID, err)
	}
	return a, nil
}

// CreateAccount implements acme.Backend: it uses the enrollment and stores
// the account in one transaction.
func (b *Backend) CreateAccount(ctx context.Context, a *acme.Account) error {
	row, err := accountRow(a)
	if err != nil {
		return err
	}
	return b.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.ACMEAccountByThumbprint(ctx, a.Thumbprint); err == nil {
			return fmt.Errorf("account key %s: %w", a.Thumbprint, acme.ErrKeyInUse)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.UseEnrollment(ctx, a.EABKeyID, a.Created); err != nil {
			return mapErr(err, acme.ErrEABUsed)
		}
		return mapErr(tx.CreateACMEAccount(ctx, row), acme.ErrDuplicate)
	})
}

// Account implements acme.Backend.
func (b *Backend) Account(ctx context.Context, id string) (*acme.Account, error) {
	row, err := b.st.ACMEAccount(ctx, id)
	if err != nil {
		return nil, mapErr(err, nil)
	}
	return accountOf(row)
}

// AccountByThumbprint implements acme.Backend.
func (b *Backend) AccountByThumbprint(ctx context.Context, thumbprint string) (*acme.Account, error) {
	row, err := b.st.ACMEAccountByThumbprint(ctx, thumbprint)
	if err != nil {
		return nil, mapErr(err, nil)
	}
	return accountOf(row)
}

// UpdateAccount implements acme.Backend.
func (b *Backend) UpdateAccount(ctx context.Context, a *acme.Account) error {
	row, err := accountRow(a)
	if err != nil {
		return err
	}
	err = b.st.InTx(ctx, func(tx store.Tx) error {
		other, err := tx.ACMEAccountByThumbprint(ctx, a.Thumbprint)
		if err == nil && other.ID != a.ID {
			return fmt.Errorf("account key %s: %w", a.Thumbprint, acme.ErrKeyInUse)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.UpdateACMEAccount(ctx, row)
	})
	return mapErr(err, acme.ErrKeyInUse)
}

func orderRow(o *acme.Order) (*store.ACMEOrder, error) {
	data, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode ACME order %q: %w", o.ID, err)
	}
	return &store.ACMEOrder{ID: o.ID, AccountID: o.AccountID, Status: string(o.Status), Replaces: o.Replaces, Expires: o.Expires, Data: data}, nil
}

func orderOf(row *store.ACMEOrder) (*acme.Order, error) {
	o := &acme.Order{}
	if err := json.Unmarshal(row.Data, o); err != nil {
		return nil, fmt.Errorf("decode ACME order %q: %w", row.ID, err)
	}
	return o, nil
}

// CreateOrder implements acme.Backend. The replacement check (RFC 9773,
// section 5) and the insert are one transaction.
func (b *Backend) CreateOrder(ctx context.Context, o *acme.Order) error {
	row, err := orderRow(o)
	if err != nil {
		return err
	}
	return b.st.InTx(ctx, func(tx store.Tx) error {
		if o.Replaces != "" {
			others, err := tx.ACMEOrdersReplacing(ctx, o.Replaces)
			if err != nil {
				return err
			}
			for _, other := range others {
				if other.Status != string(acme.OrderInvalid) && other.Expires.After(o.Created) {
					return fmt.Errorf("order %s replaces %s: %w", other.ID, o.Replaces, acme.ErrAlreadyReplaced)
				}
			}
		}
		return mapErr(tx.CreateACMEOrder(ctx, row), acme.ErrDuplicate)
	})
}

// Order implements acme.Backend.
func (b *Backend) Order(ctx context.Context, id string) (*acme.Order, error) {
	row, err := b.st.ACMEOrder(ctx, id)
	if err != nil {
		return nil, mapErr(err, nil)
	}
	return orderOf(row)
}

// UpdateOrder implements acme.Backend.
func (b *Backend) UpdateOrder(ctx context.Context, o *acme.Order, prev acme.OrderStatus) error {
	row, err := orderRow(o)
	if err != nil {
		return err
	}
	err = b.st.InTx(ctx, func(tx store.Tx) error { return tx.UpdateACMEOrder(ctx, row, string(prev)) })
	return mapErr(err, acme.ErrStatusChanged)
}

// AccountOrders implements acme.Backend.
func (b *Backend) AccountOrders(ctx context.Context, accountID, after string, limit int) ([]string, error) {
	ids, err := b.st.ACMEOrderIDs(ctx, accountID, after, limit)
	return ids, mapErr(err, nil)
}

// CreateCertificate implements acme.Backend: a device row and the chain, in
// one transaction.
func (b *Backend) CreateCertificate(ctx context.Context, c *acme.Certificate) error {
	id, err := parseIdentityKey(c.IdentityID)
	if err != nil {
		return err
	}
	if len(c.Chain) == 0 {
		return fmt.Errorf("certificate %s has an empty chain", c.Serial)
	}
	chain, err := json.Marshal(c.Chain)
	if err != nil {
		return fmt.Errorf("encode the chain of certificate %s: %w", c.Serial, err)
	}
	// The device row is created when the certificate is issued. NotBefore
	// is earlier, because pki backdates it by pki.ClockSkew.
	// NOTE: the time comes from time.Now, not from the ACME server's
	// clock, because the Backend has no clock of its own.
	d := &store.Device{IdentityID: id, Label: c.Label, Serial: c.Serial, Fingerprint: c.KeyFingerprint,
		CertDER: c.Chain[0], CreatedAt: time.Now()}
	err = b.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateDevice(ctx, d); err != nil {
			return err
		}
		if c.Revoked {
			if err := tx.RevokeDevice(ctx, d.ID, c.RevokedAt, int(c.Reason)); err != nil {
				return err
			}
		}
		if err := tx.CreateACMECertificate(ctx, &store.ACMECertificate{Serial: c.Serial, AccountID: c.AccountID, OrderID: c.OrderID, Chain: chain}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: c.NotBefore, Actor: auditActor(c.AccountID), Action: "device.issue",
			Subject: subjectOf(c.Chain[0]), Detail: fmt.Sprintf("serial %s, label %q, order %s", c.Serial, c.Label, c.OrderID)})
	})
	return mapErr(err, acme.ErrDuplicate)
}

// Certificate implements acme.Backend.
func (b *Backend) Certificate(ctx context.Context, serial string) (*acme.Certificate, error) {
	d, err := b.st.DeviceBySerial(ctx, serial)
	if err != nil {
		return nil, mapErr(err, nil)
	}
	return b.certificateOf(ctx, d)
}

// certificateOf builds the certificate of a device row. A device that was
// not issued over ACME has no chain row: its chain is its certificate alone.
func (b *Backend) certificateOf(ctx context.Context, d *store.Device) (*acme.Certificate, error) {
	cert, err := x509.ParseCertificate(d.CertDER)
	if err != nil {
		return nil, fmt.Errorf("stored certificate of device %s: %w", d.Serial, err)
	}
	c := &acme.Certificate{
		Serial: d.Serial, IdentityID: IdentityKey(d.IdentityID), Label: d.Label, Chain: [][]byte{d.CertDER},
		KeyFingerprint: d.Fingerprint, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		Revoked: d.Status == store.DeviceRevoked, RevokedAt: d.RevokedAt, Reason: pki.RevocationReason(d.RevocationReason),
	}
	row, err := b.st.ACMECertificate(ctx, d.Serial)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return c, nil
	case err != nil:
		return nil, err
	}
	c.AccountID, c.OrderID = row.AccountID, row.OrderID
	if err := json.Unmarshal(row.Chain, &c.Chain); err != nil {
		return nil, fmt.Errorf("decode the chain of certificate %s: %w", d.Serial, err)
	}
	return c, nil
}

// IdentityCertificates implements acme.Backend.
func (b *Backend) IdentityCertificates(ctx context.Context, identityID string) ([]*acme.Certificate, error) {
	id, err := parseIdentityKey(identityID)
	if err != nil {
		return nil, err
	}
	devices, err := b.st.Devices(ctx, id)
	if err != nil {
		return nil, err
	}
	list := make([]*acme.Certificate, 0, len(devices))
	for _, d := range devices {
		c, err := b.certificateOf(ctx, d)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, nil
}

// RevokeCertificate implements acme.Backend with RevokeDeviceKey.
func (b *Backend) RevokeCertificate(ctx context.Context, serial string, reason pki.RevocationReason, at time.Time) error {
	err := b.st.InTx(ctx, func(tx store.Tx) error {
		d, err := tx.DeviceBySerial(ctx, serial)
		if err != nil {
			return err
		}
		return RevokeDeviceKey(ctx, tx, d, reason, at, "acme")
	})
	return mapErr(err, acme.ErrAlreadyRevoked)
}

// RevokeDeviceKey revokes the device certificate d and every other active
// certificate of its identity for the same device key, with an audit
// entry each, in tx. Those are the certificates a renewal replaced, and a
// stolen key must not still pass with one of them. The ACME accounts that
// ordered them are revoked too, since an account belongs to one device:
// a revoked device cannot renew itself and needs a new enrollment. The
// error wraps store.ErrConflict when d is revoked already.
func RevokeDeviceKey(ctx context.Context, tx store.Tx, d *store.Device, reason pki.RevocationReason, at time.Time, actor string) error {
	revoke := []*store.Device{d}
	if d.Status == store.DeviceActive && d.Fingerprint != "" {
		siblings, err := tx.Devices(ctx, d.IdentityID)
		if err != nil {
			return err
		}
		for _, o := range siblings {
			if o.ID != d.ID && o.Fingerprint == d.Fingerprint && o.Status == store.DeviceActive {
				revoke = append(revoke, o)
			}
		}
	}
	for _, r := range revoke {
		if err := tx.RevokeDevice(ctx, r.ID, at, int(reason)); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, store.AuditEntry{At: at, Actor: actor, Action: "device.revoke",
			Subject: subjectOf(r.CertDER), Detail: fmt.Sprintf("serial %s, label %q, reason %s", r.Serial, r.Label, reason)}); err != nil {
			return err
		}
		if err := revokeOrderingAccount(ctx, tx, r.Serial); err != nil {
			return err
		}
	}
	return nil
}

// revokeOrderingAccount sets the ACME account that ordered the certificate
// with serial to revoked (RFC 8555, section 7.1.6), so that it can make no
// further requests. A certificate issued outside ACME has no account.
func revokeOrderingAccount(ctx context.Context, tx store.Tx, serial string) error {
	row, err := tx.ACMECertificate(ctx, serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	acctRow, err := tx.ACMEAccount(ctx, row.AccountID)
	if err != nil {
		return err
	}
	a, err := accountOf(acctRow)
	if err != nil {
		return err
	}
	if a.Status != acme.AccountValid {
		return nil
	}
	a.Status = acme.AccountRevoked
	updated, err := accountRow(a)
	if err != nil {
		return err
	}
	return tx.UpdateACMEAccount(ctx, updated)
}

// auditActor names the ACME account that acted in the audit log.
func auditActor(accountID string) string {
	if accountID == "" {
		return "acme"
	}
	return "acme:" + accountID
}

// subjectOf returns the handle a device certificate names (its first
// dNSName), or "" when the certificate does not parse.
func subjectOf(der []byte) string {
	cert, err := x509.ParseCertificate(der)
	if err != nil || len(cert.DNSNames) == 0 {
		return ""
	}
	return cert.DNSNames[0]
}
