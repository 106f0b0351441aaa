package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

// signingAlgorithm signs ID tokens and access tokens.
const signingAlgorithm = jose.ES256

// publishedKeys is the number of newest keys in the JWK set: the current
// key and the one before it, so tokens signed just before a rotation still
// verify.
const publishedKeys = 2

// keyCacheTTL is how long a keyring uses the keys it read before it reads
// them again, so that a rotation by another process sharing the store
// reaches this one.
const keyCacheTTL = time.Minute

// signingKey is the private key that signs tokens. It implements
// op.SigningKey.
type signingKey struct {
	id  string
	key *ecdsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return signingAlgorithm }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// String returns the key ID only, so that formatting a key never prints the
// private key.
func (k *signingKey) String() string { return "ES256 signing key " + k.id }

// publicKey is a key of the JWK set. It implements op.Key.
type publicKey struct {
	id  string
	key *ecdsa.PublicKey
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return signingAlgorithm }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }

// keyring reads the signing keys from the store and caches them for
// keyCacheTTL. It is safe for concurrent use.
type keyring struct {
	store  store.Store
	sealer *store.Sealer
	now    func() time.Time

	mu        sync.Mutex
	loadedAt  time.Time
	current   *signingKey
	published []*publicKey
}

// signing returns the newest key.
func (k *keyring) signing(ctx context.Context) (*signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	return k.current, nil
}

// keySet returns the published public keys, newest first.
func (k *keyring) keySet(ctx context.Context) ([]*publicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	return k.published, nil
}

// refresh reads the keys when the cache is empty or old, creating the first
// key when the store has none. k.mu must be held.
func (k *keyring) refresh(ctx context.Context) error {
	now := k.now()
	if k.current != nil && now.Sub(k.loadedAt) < keyCacheTTL && !now.Before(k.loadedAt) {
		return nil
	}
	rows, err := k.store.OIDCSigningKeys(ctx, publishedKeys)
	if err == nil && len(rows) == 0 {
		if err = k.create(ctx); err == nil {
			rows, err = k.store.OIDCSigningKeys(ctx, publishedKeys)
		}
	}
	if err != nil {
		return fmt.Errorf("read OIDC signing keys: %w", err)
	}

	published := make([]*publicKey, 0, len(rows))
	for _, row := range rows {
		pub, err := parsePublicKey(row)
		if err != nil {
			return err
		}
		published = append(published, pub)
	}
	current, err := k.open(rows[0])
	if err != nil {
		return err
	}
	k.current, k.published, k.loadedAt = current, published, now
	return nil
}

// open unseals and parses the private key of row.
func (k *keyring) open(row *store.OIDCSigningKey) (*signingKey, error) {
	der, err := k.sealer.Open(row.PrivateKey, signingKeyPurpose(row.ID))
	if err != nil {
		return nil, fmt.Errorf("open OIDC signing key %q: %w", row.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse OIDC signing key %q: %w", row.ID, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("OIDC signing key %q is a %T, want an ECDSA P-256 key", row.ID, parsed)
	}
	return &signingKey{id: row.ID, key: key}, nil
}

func parsePublicKey(row *store.OIDCSigningKey) (*publicKey, error) {
	parsed, err := x509.ParsePKIXPublicKey(row.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("parse public OIDC signing key %q: %w", row.ID, err)
	}
	key, ok := parsed.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public OIDC signing key %q is a %T, want an ECDSA key", row.ID, parsed)
	}
	return &publicKey{id: row.ID, key: key}, nil
}

// signingKeyPurpose is the sealing purpose of the private key id.
func signingKeyPurpose(id string) string { return "oidc-signing:" + id }

// create makes a new ES256 key and stores it, sealed, as the newest key. Its
// key ID is the RFC 7638 thumbprint of the public key.
func (k *keyring) create(ctx context.Context) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate OIDC signing key: %w", err)
	}
	thumbprint, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("thumbprint of OIDC signing key: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(thumbprint)
	private, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode OIDC signing key: %w", err)
	}
	public, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("encode public OIDC signing key: %w", err)
	}
	sealed, err := k.sealer.Seal(private, signingKeyPurpose(id))
	if err != nil {
		return fmt.Errorf("seal OIDC signing key: %w", err)
	}

	row := &store.OIDCSigningKey{ID: id, Algorithm: string(signingAlgorithm), PublicKey: public, PrivateKey: sealed, CreatedAt: k.now()}
	return k.store.InTx(ctx, func(tx store.Tx) error { return tx.CreateOIDCSigningKey(ctx, row) })
}

// rotate makes a new key the current one. The previous key stays in the JWK
// set until the next rotation.
func (k *keyring) rotate(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.create(ctx); err != nil {
		return err
	}
	k.current = nil
	return k.refresh(ctx)
}

// opKeys converts keys for the library.
func opKeys(keys []*publicKey) []op.Key {
	list := make([]op.Key, len(keys))
	for i, key := range keys {
		list[i] = key
	}
	return list
}
