package web

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/dnshandle/dnshandle/provider/store"
)

// SessionKeyPurpose is the purpose for which the session key is sealed
// (see store.Sealer), in the store and in files of older versions.
const SessionKeyPurpose = "web-session-key"

// sessionKeyName is the name of the session key among the store's web
// secrets.
const sessionKeyName = "session-key"

// LoadSessionKey returns the session key for Config.SessionKey that st
// keeps, sealed by sealer with SessionKeyPurpose. When st has no key yet,
// LoadSessionKey stores legacy, or a new random key when legacy is nil.
// legacy is a key that sealer sealed for SessionKeyPurpose, such as the
// content of the key file that older versions kept in the data directory.
// Of several processes that start on one store at the same time, the
// first to store its key wins, and every process returns that key.
//
// Errors come from the store, or report a stored key or a legacy value
// that does not open with sealer (a *store.SealedValueError) or has
// another length than SessionKeySize.
func LoadSessionKey(ctx context.Context, st store.Store, sealer *store.Sealer, legacy []byte) ([]byte, error) {
	sealed, err := st.WebSecret(ctx, sessionKeyName)
	if errors.Is(err, store.ErrNotFound) {
		sealed, err = createSessionKey(ctx, st, sealer, legacy)
	}
	if err != nil {
		return nil, fmt.Errorf("load the web session key: %w", err)
	}
	key, err := openSessionKey(sealer, sealed)
	if err != nil {
		return nil, fmt.Errorf("the web session key in the store: %w", err)
	}
	return key, nil
}

// createSessionKey stores legacy, or a new sealed key when legacy is nil,
// and returns the sealed key that the store keeps afterwards: its own, or
// the one another process stored first.
func createSessionKey(ctx context.Context, st store.Store, sealer *store.Sealer, legacy []byte) ([]byte, error) {
	sealed := legacy
	if sealed != nil {
		if _, err := openSessionKey(sealer, sealed); err != nil {
			return nil, fmt.Errorf("the session key to import: %w", err)
		}
	} else {
		key := make([]byte, SessionKeySize)
		// crypto/rand.Read never returns an error since Go 1.24.
		_, _ = rand.Read(key)
		var err error
		if sealed, err = sealer.Seal(key, SessionKeyPurpose); err != nil {
			return nil, err
		}
	}

	err := st.InTx(ctx, func(tx store.Tx) error { return tx.CreateWebSecret(ctx, sessionKeyName, sealed) })
	if errors.Is(err, store.ErrConflict) {
		return st.WebSecret(ctx, sessionKeyName)
	}
	if err != nil {
		return nil, err
	}
	return sealed, nil
}

// openSessionKey opens a sealed session key and checks its length.
func openSessionKey(sealer *store.Sealer, sealed []byte) ([]byte, error) {
	key, err := sealer.Open(sealed, SessionKeyPurpose)
	if err != nil {
		return nil, err
	}
	if len(key) != SessionKeySize {
		return nil, fmt.Errorf("the key has %d bytes, want %d", len(key), SessionKeySize)
	}
	return key, nil
}
