// Package acmestore implements acme.Backend on the provider store, so that
// the ACME server's state survives a restart and is shared by every provider
// process on one database.
//
// The records map to the store as follows: an EAB credential is a row of
// enrollments (its HMAC key sealed with the purpose "eab:<key ID>"), an
// account a row of acme_accounts, an order with its authorization a row of
// acme_orders, and an issued certificate a row of devices (certificate,
// label, key fingerprint, revocation) with its chain in acme_certificates.
// So `dnshandle admin device list` shows every device enrolled over ACME.
// The issuer of an identity is its CSC, loaded from identities and unsealed
// on each call.
//
// Backend is also an acme.NonceBackend and an acme.Pruner. The nonce key
// is a sealed row of acme_secrets and each used nonce a row of
// acme_used_nonces until it expires, so every ACME server on one database
// accepts each nonce once. Prune deletes expired rows in batches.
//
// Identity IDs of package acme are the store's int64 identity IDs in
// decimal (IdentityKey).
package acmestore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/store"
)

// Backend is an acme.Backend on a store.Store. It is safe for concurrent
// use: each method is one store transaction or one read.
type Backend struct {
	st     store.Store
	sealer *store.Sealer
}

var _ acme.Backend = (*Backend)(nil)

// New returns a Backend on st that seals EAB keys and opens CSC keys with
// sealer. Both are required.
func New(st store.Store, sealer *store.Sealer) (*Backend, error) {
	if st == nil || sealer == nil {
		return nil, errors.New("acmestore: the store and the sealer are required")
	}
	return &Backend{st: st, sealer: sealer}, nil
}

// IdentityKey returns the identity ID that package acme uses for the store
// identity id.
func IdentityKey(id int64) string {
	return strconv.FormatInt(id, 10)
}

// IdentityIDError reports an acme identity ID that is not a store identity
// ID.
type IdentityIDError struct {
	// Value is the rejected identity ID.
	Value string
}

// Error returns a message naming the value.
func (e *IdentityIDError) Error() string {
	return fmt.Sprintf("acmestore: identity ID %q is not a positive decimal store ID", e.Value)
}

// Unwrap returns acme.ErrNotFound: no identity has such an ID.
func (e *IdentityIDError) Unwrap() error { return acme.ErrNotFound }

func parseIdentityKey(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, &IdentityIDError{Value: s}
	}
	return id, nil
}

// Issuer implements acme.Backend: the identity's CSC, with its key unsealed
// (purpose "csc:<handle>") and its DID.
func (b *Backend) Issuer(ctx context.Context, identityID string) (*acme.Issuer, error) {
	id, err := parseIdentityKey(identityID)
	if err != nil {
		return nil, err
	}
	ident, err := b.st.IdentityByID(ctx, id)
	if err != nil {
		return nil, mapErr(err, nil)
	}
	if len(ident.CSCCert) == 0 || len(ident.CSCKey) == 0 {
		return nil, fmt.Errorf("identity %s has no CSC: %w", ident.Handle, acme.ErrNotFound)
	}
	cert, err := x509.ParseCertificate(ident.CSCCert)
	if err != nil {
		return nil, fmt.Errorf("stored CSC of %s: %w", ident.Handle, err)
	}
	keyPEM, err := b.sealer.Open(ident.CSCKey, "csc:"+ident.Handle)
	if err != nil {
		return nil, fmt.Errorf("unseal the CSC key of %s: %w", ident.Handle, err)
	}
	key, err := pki.DecodePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CSC key of %s: %w", ident.Handle, err)
	}
	csc, err := pki.LoadCSC(cert, key)
	if err != nil {
		return nil, fmt.Errorf("CSC of %s: %w", ident.Handle, err)
	}
	iss := &acme.Issuer{IdentityID: identityID, CSC: csc}
	if ident.DID != "" {
		if iss.DID, err = handle.ParseDID(ident.DID); err != nil {
			return nil, fmt.Errorf("DID of %s: %w", ident.Handle, err)
		}
	}
	return iss, nil
}

// mapErr adds the acme sentinel that matches a store error: acme.ErrNotFound
// for store.ErrNotFound, and conflict (when not nil) for store.ErrConflict.
// Other errors are returned as they are.
func mapErr(err, conflict error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", acme.ErrNotFound, err)
	case conflict != nil && errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %w", conflict, err)
	}
	return err
}
