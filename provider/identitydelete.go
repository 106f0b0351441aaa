package provider

import (
	"context"
	"fmt"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/dnsserver"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/records"
)

// DeletedIdentity describes an identity that DeleteIdentity removed.
type DeletedIdentity struct {
	Handle handle.Handle
	// DID was the identity's permanent identifier. Relying parties keep
	// it for their accounts, and a later identity for the same handle
	// gets another one, so it never signs in to them.
	DID string
	// Zone is the provider zone whose records of the handle were deleted,
	// or "" for a handle under the person's own domain.
	Zone string
	// Serial is the zone serial after the deletion, when Zone is set.
	Serial uint32
}

// OwnDomainNotice returns, for a handle under the person's own domain, the
// records that its DNS host still publishes and that must be removed, or
// "" for a hosted handle, whose records the provider deleted.
func (d *DeletedIdentity) OwnDomainNotice() string {
	if d.Zone != "" {
		return ""
	}
	return fmt.Sprintf("remove the TLSA record at %s and the TXT records at %s from your DNS: they name a CSC whose key is deleted",
		records.OwnerTLSA(d.Handle), records.OwnerATProto(d.Handle))
}

// DeleteIdentity deletes the identity h of the account, or of any account
// when accountName is "". In one transaction, with an audit entry, it
// deletes the handle's records in a provider zone, the CSC and its key,
// and the devices, enrollments, ACME accounts and OpenID grants. Every
// device certificate of the identity stops verifying once relying
// parties see the TLSA record gone. The handle is then free for a new
// identity with a new CSC and DID. The error wraps store.ErrNotFound
// when the account has no identity h.
func (s *Service) DeleteIdentity(ctx context.Context, accountName string, h handle.Handle) (*DeletedIdentity, error) {
	accountName = AccountName(accountName)
	var out *DeletedIdentity
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		id, err := tx.IdentityByHandle(ctx, h.String())
		if err != nil {
			return lookupError("identity "+h.String(), err)
		}
		if accountName != "" {
			acct, err := tx.AccountByName(ctx, accountName)
			if err != nil {
				return lookupError(fmt.Sprintf("account %q", accountName), err)
			}
			if acct.ID != id.AccountID {
				return fmt.Errorf("identity %s belongs to another account than %q: %w", h, accountName, store.ErrNotFound)
			}
		}
		actor := accountName
		if actor == "" {
			actor = "admin"
		}
		out, err = s.deleteIdentityTx(ctx, tx, id, actor)
		return err
	})
	if err != nil {
		return nil, err
	}
	if out.Zone != "" {
		s.zonesChanged()
	}
	return out, nil
}

// deleteIdentityTx deletes the identity id within tx, as DeleteIdentity
// describes, with an audit entry naming actor.
func (s *Service) deleteIdentityTx(ctx context.Context, tx store.Tx, id *store.Identity, actor string) (*DeletedIdentity, error) {
	h := handle.Handle(id.Handle)
	out := &DeletedIdentity{Handle: h, DID: id.DID}
	var err error
	if out.Zone, err = storedZoneOf(ctx, tx, h); err != nil {
		return nil, err
	}
	if out.Zone != "" {
		if out.Serial, err = s.deleteHandleRecords(ctx, tx, out.Zone, h); err != nil {
			return nil, err
		}
	}
	if err := tx.DeleteIdentity(ctx, id.ID); err != nil {
		return nil, err
	}
	err = tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: actor, Action: "identity.delete", Subject: id.Handle, Detail: id.DID})
	return out, err
}

// storedZoneOf returns the stored zone that h is directly under, or "".
// It reads the store, not the configuration, because the server also
// serves zones that are only in the store.
func storedZoneOf(ctx context.Context, r store.Reader, h handle.Handle) (string, error) {
	zones, err := r.Zones(ctx)
	if err != nil {
		return "", err
	}
	name := dns.Fqdn(h.String())
	for _, z := range zones {
		if directlyUnder(name, z.Name) {
			return z.Name, nil
		}
	}
	return "", nil
}

// deleteHandleRecords deletes every RRset at h and at _atproto.h in zone
// within tx and returns the new serial.
func (s *Service) deleteHandleRecords(ctx context.Context, tx store.Tx, zone string, h handle.Handle) (uint32, error) {
	sets := map[dnsserver.RRsetKey][]dns.RR{}
	for _, name := range []string{records.OwnerTLSA(h), records.OwnerATProto(h)} {
		rows, err := tx.LookupName(ctx, zone, name)
		if err != nil {
			return 0, err
		}
		for _, row := range rows {
			switch row.Type {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
				continue
			}
			sets[dnsserver.RRsetKey{Name: name, Type: row.Type}] = nil
		}
	}
	if len(sets) == 0 {
		return tx.ZoneSerial(ctx, zone)
	}
	serial, err := s.Signer.ReplaceRRsets(ctx, tx, zone, sets)
	if err != nil {
		return 0, fmt.Errorf("delete the records of %s: %w", h, err)
	}
	return serial, nil
}

// DeleteHandle deletes the identity h of the account (DeleteIdentity) for
// the web pages, and returns what the person must still do: for a handle
// under her own domain, the records to remove there, and "" otherwise.
func (s *Service) DeleteHandle(ctx context.Context, accountName string, h handle.Handle) (string, error) {
	deleted, err := s.DeleteIdentity(ctx, accountName, h)
	if err != nil {
		return "", err
	}
	return deleted.OwnDomainNotice(), nil
}
