package acme

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// NonceKeySize is the least size in bytes of the key that
// NonceBackend.NonceKey returns.
const NonceKeySize = 32

// ErrNonceUsed means that NonceBackend.UseNonce found the nonce recorded
// already: the request is a replay.
var ErrNonceUsed = errors.New("acme backend: nonce used before")

// NonceBackend is a Backend that lets every Server on the same records
// share replay nonces, so that a nonce issued by one server process is
// accepted once by any of them (RFC 8555, section 6.5). NewServer uses it
// when Config.Backend implements it, and keeps its nonces in its own
// memory otherwise.
//
// A Server issues a nonce without asking the backend: the nonce carries its
// issue time and an HMAC under the shared key, so any Server can check it.
// Using a nonce costs one UseNonce call, a write in a SQL backend.
// Implementations must be safe for concurrent use.
type NonceBackend interface {
	// NonceKey returns the secret key that authenticates the nonces: at
	// least NonceKeySize random bytes, the same for every caller. The
	// backend creates it at the first call and keeps it secret. A Server
	// calls it until it succeeds once, and then keeps the key.
	NonceKey(ctx context.Context) ([]byte, error)

	// UseNonce records that the nonce was used, until expires. After that
	// time the Server rejects the nonce as expired, so the record may be
	// deleted. UseNonce returns ErrNonceUsed when the nonce is recorded
	// already, also by a concurrent call.
	UseNonce(ctx context.Context, nonce string, expires time.Time) error
}

// Layout of a shared nonce before base64url: the issue time in Unix seconds
// (big endian), random bytes, and the first bytes of an HMAC-SHA256 of both.
const (
	nonceTimeSize   = 8
	nonceRandomSize = 16
	nonceMACSize    = 16
	nonceSize       = nonceTimeSize + nonceRandomSize + nonceMACSize
)

// nonceClockSkew is the clock difference between server processes that
// shared nonces tolerate. A nonce issued up to this much in the future of
// the checking process is accepted. Its use is recorded this much longer
// than its lifetime, so a process whose clock is behind still finds it.
const nonceClockSkew = time.Minute

// nonceMACLabel separates the HMAC of nonces from any other use of the key.
const nonceMACLabel = "dnshandle ACME Replay-Nonce v1\x00"

// nonceEncoding rejects base64 text whose unused low bits are not zero, so
// each nonce has exactly one spelling and its use record cannot be
// bypassed by another spelling of the same bytes.
var nonceEncoding = base64.RawURLEncoding.Strict()

// sharedNonces is the nonceSource on a NonceBackend. It is safe for
// concurrent use.
type sharedNonces struct {
	backend  NonceBackend
	lifetime time.Duration
	now      func() time.Time

	mu  sync.Mutex
	key []byte // nil until loaded
}

// loadKey returns the nonce key, loading it from the backend at the first
// successful call.
func (n *sharedNonces) loadKey(ctx context.Context) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.key != nil {
		return n.key, nil
	}
	key, err := n.backend.NonceKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the nonce key: %w", err)
	}
	if len(key) < NonceKeySize {
		return nil, fmt.Errorf("load the nonce key: the backend returned %d bytes, want at least %d", len(key), NonceKeySize)
	}
	n.key = key
	return key, nil
}

// issue implements nonceSource.
func (n *sharedNonces) issue(ctx context.Context) (string, error) {
	key, err := n.loadKey(ctx)
	if err != nil {
		return "", err
	}
	var random [nonceRandomSize]byte
	// crypto/rand.Read never returns an error since Go 1.24.
	_, _ = rand.Read(random[:])
	return mintSharedNonce(key, n.now(), random), nil
}

// use implements nonceSource. It checks the MAC and the age before it calls
// the backend, so a forged or expired nonce costs no write.
func (n *sharedNonces) use(ctx context.Context, nonce string) (bool, error) {
	key, err := n.loadKey(ctx)
	if err != nil {
		return false, err
	}
	issued, ok := verifySharedNonce(key, nonce)
	if !ok {
		return false, nil
	}
	now := n.now()
	if now.Before(issued.Add(-nonceClockSkew)) || !now.Before(issued.Add(n.lifetime)) {
		return false, nil
	}

	err = n.backend.UseNonce(ctx, nonce, issued.Add(n.lifetime+nonceClockSkew))
	if errors.Is(err, ErrNonceUsed) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record the use of the nonce: %w", err)
	}
	return true, nil
}

// mintSharedNonce returns the nonce issued at the time with the random
// bytes, authenticated with key.
func mintSharedNonce(key []byte, issued time.Time, random [nonceRandomSize]byte) string {
	buf := make([]byte, 0, nonceSize)
	buf = binary.BigEndian.AppendUint64(buf, uint64(issued.Unix()))
	buf = append(buf, random[:]...)
	buf = append(buf, nonceMAC(key, buf)...)
	return nonceEncoding.EncodeToString(buf)
}

// verifySharedNonce returns the issue time of a nonce that mintSharedNonce
// made with key, and false for any other text. The MAC is compared in
// constant time.
func verifySharedNonce(key []byte, nonce string) (time.Time, bool) {
	if nonceEncoding.DecodedLen(len(nonce)) != nonceSize {
		return time.Time{}, false
	}
	raw, err := nonceEncoding.DecodeString(nonce)
	if err != nil || len(raw) != nonceSize {
		return time.Time{}, false
	}
	body, mac := raw[:nonceTimeSize+nonceRandomSize], raw[nonceTimeSize+nonceRandomSize:]
	if !hmac.Equal(mac, nonceMAC(key, body)) {
		return time.Time{}, false
	}
	seconds := binary.BigEndian.Uint64(body[:nonceTimeSize])
	return time.Unix(int64(seconds), 0), true
}

func nonceMAC(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(nonceMACLabel))
	h.Write(body)
	return h.Sum(nil)[:nonceMACSize]
}
