package provider

import (
	"context"
	"fmt"

	"github.com/dnshandle/dnshandle/provider/store"
)

// DeletedAccount describes an account that DeleteAccount removed.
type DeletedAccount struct {
	Name string
	// Identities are the identities deleted with the account.
	Identities []*DeletedIdentity
}

// DeleteAccount deletes the account and every identity of it, as
// DeleteIdentity does for each, in one transaction, with an audit entry
// for each identity and one for the account. Its sessions at the web
// pages stop working, and its name is free for a new account. The error
// wraps store.ErrNotFound when there is no such account.
func (s *Service) DeleteAccount(ctx context.Context, name string) (*DeletedAccount, error) {
	name = AccountName(name)
	out := &DeletedAccount{Name: name}
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		out.Identities = nil
		acct, err := tx.AccountByName(ctx, name)
		if err != nil {
			return lookupError(fmt.Sprintf("account %q", name), err)
		}
		ids, err := tx.Identities(ctx, acct.ID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			deleted, err := s.deleteIdentityTx(ctx, tx, id, name)
			if err != nil {
				return err
			}
			out.Identities = append(out.Identities, deleted)
		}
		if err := tx.DeleteAccount(ctx, acct.ID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: name, Action: "account.delete", Subject: name,
			Detail: fmt.Sprintf("%d identities", len(ids))})
	})
	if err != nil {
		return nil, err
	}
	s.zonesChanged()
	return out, nil
}

// CloseAccount deletes the account (DeleteAccount) for the web pages, and
// returns what the person must still do: for each handle under her own
// domain, the records to remove there.
func (s *Service) CloseAccount(ctx context.Context, name string) ([]string, error) {
	deleted, err := s.DeleteAccount(ctx, name)
	if err != nil {
		return nil, err
	}
	var notices []string
	for _, id := range deleted.Identities {
		if notice := id.OwnDomainNotice(); notice != "" {
			notices = append(notices, id.Handle.Display()+": "+notice)
		}
	}
	return notices, nil
}
