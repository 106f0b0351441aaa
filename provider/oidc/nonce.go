package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// nonceSecretName is the name of the stored HMAC key of DPoP nonces.
const nonceSecretName = "dpop-nonce"

// nonceMACSize is the size in bytes of the truncated HMAC in a nonce.
const nonceMACSize = 16

// nonceSource issues and checks DPoP-Nonce values (RFC 9449, section 8).
// A nonce is the issue time in seconds and an HMAC-SHA256 of it. Every
// provider process that shares the store reads the HMAC key from it. So a
// nonce issued by one process is good at all of them, and none needs to
// remember the nonces it issued. It is safe for concurrent use.
type nonceSource struct {
	key      []byte
	lifetime time.Duration
}

// issue returns a nonce for the time now.
func (n *nonceSource) issue(now time.Time) string {
	buf := make([]byte, 8, 8+nonceMACSize)
	binary.BigEndian.PutUint64(buf, uint64(now.Unix()))
	buf = append(buf, n.mac(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// check returns nil when nonce was issued by a provider with the same key
// within the nonce lifetime before now, and an error with the reason
// otherwise.
func (n *nonceSource) check(nonce string, now time.Time) error {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceMACSize || !hmac.Equal(raw[8:], n.mac(raw[:8])) {
		return errors.New("the nonce was not issued by this provider")
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0)
	if now.Sub(issued) > n.lifetime || issued.Sub(now) > dpopFutureSkew {
		return errors.New("the nonce expired")
	}
	return nil
}

func (n *nonceSource) mac(timestamp []byte) []byte {
	h := hmac.New(sha256.New, n.key)
	h.Write([]byte("dnshandle DPoP nonce\x00"))
	h.Write(timestamp)
	return h.Sum(nil)[:nonceMACSize]
}

// loadSecret returns the server secret name, creating a random 32-byte one
// when the store has none. The store keeps it sealed with the purpose
// "oidc-secret:<name>". Of several processes that create it at once, the
// first wins and the others read its value.
func loadSecret(ctx context.Context, st store.Store, sealer *store.Sealer, name string) ([]byte, error) {
	purpose := "oidc-secret:" + name
	sealed, err := st.OIDCSecret(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		fresh := make([]byte, 32)
		_, _ = rand.Read(fresh) // crypto/rand.Read never returns an error
		sealed, err = sealer.Seal(fresh, purpose)
		if err != nil {
			return nil, fmt.Errorf("seal OIDC secret %q: %w", name, err)
		}
		err = st.InTx(ctx, func(tx store.Tx) error { return tx.CreateOIDCSecret(ctx, name, sealed) })
		if errors.Is(err, store.ErrConflict) {
			sealed, err = st.OIDCSecret(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load OIDC secret %q: %w", name, err)
	}
	secret, err := sealer.Open(sealed, purpose)
	if err != nil {
		return nil, fmt.Errorf("load OIDC secret %q: %w", name, err)
	}
	return secret, nil
}
