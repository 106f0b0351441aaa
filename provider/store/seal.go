package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KEKSize is the size in bytes of a key-encryption key: an AES-256 key.
const KEKSize = 32

// sealVersion is the first byte of a sealed value: AES-256-GCM with a random
// 96-bit nonce. A later format gets another number.
const sealVersion = 1

// Sealer encrypts secrets for storage (the CSC and zone private keys) with
// AES-256-GCM under a key-encryption key (KEK) that never reaches the
// database.
//
// A sealed value is one version byte (1), a random 96-bit nonce and the GCM
// ciphertext with its 16-byte tag. The additional authenticated data is the
// version byte followed by the purpose, such as "csc:alice.dhp.test" or
// "zsk:dhp.test.", so a sealed value copied to another row fails to open.
// With random 96-bit nonces, NIST SP 800-38D, section 8.3, allows at most
// 2^32 seals under one KEK; rotate the KEK well before that.
//
// A Sealer is safe for concurrent use. It keeps no copy of the KEK, only the
// AES key schedule inside the cipher, and neither String nor GoString shows
// it.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte KEK, such as one from LoadKEK.
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("new sealer: the key-encryption key has %d bytes, want %d", len(kek), KEKSize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// String returns a fixed text, so that formatting a Sealer never prints key
// material.
func (s *Sealer) String() string { return "store.Sealer(AES-256-GCM)" }

// GoString returns the same fixed text as String, for the %#v verb.
func (s *Sealer) GoString() string { return s.String() }

// Seal encrypts plaintext for purpose and returns the sealed value. purpose
// must not be empty.
func (s *Sealer) Seal(plaintext []byte, purpose string) ([]byte, error) {
	if purpose == "" {
		return nil, errors.New("seal: the purpose is empty: name what the secret is for, such as \"csc:<handle>\"")
	}
	nonceSize := s.aead.NonceSize()
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: read random nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+nonceSize], plaintext, additionalData(purpose)), nil
}

// Open decrypts a value made by Seal for the same purpose. It returns a
// *SealedValueError when the value is malformed, has an unknown version, or
// fails authentication: made with another KEK or for another purpose, or
// changed.
func (s *Sealer) Open(sealed []byte, purpose string) ([]byte, error) {
	nonceSize := s.aead.NonceSize()
	switch {
	case len(sealed) == 0:
		return nil, &SealedValueError{Purpose: purpose, Reason: "the value is empty"}
	case sealed[0] != sealVersion:
		return nil, &SealedValueError{Purpose: purpose, Reason: fmt.Sprintf("format version %d is unknown (this program supports %d)", sealed[0], sealVersion)}
	case len(sealed) < 1+nonceSize+s.aead.Overhead():
		return nil, &SealedValueError{Purpose: purpose, Reason: fmt.Sprintf("the value has %d bytes, fewer than a nonce and a tag", len(sealed))}
	}
	plaintext, err := s.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], additionalData(purpose))
	if err != nil {
		return nil, &SealedValueError{Purpose: purpose, Reason: "authentication failed: the key-encryption key or the purpose differs from the ones it was sealed with, or the value was changed"}
	}
	return plaintext, nil
}

func additionalData(purpose string) []byte {
	return append([]byte{sealVersion}, purpose...)
}

// SealedValueError reports a sealed value that Sealer.Open cannot open.
type SealedValueError struct {
	// Purpose is the purpose given to Open.
	Purpose string

	// Reason describes what is wrong.
	Reason string
}

// Error returns a message with the purpose and the reason.
func (e *SealedValueError) Error() string {
	return fmt.Sprintf("open sealed value for %q: %s", e.Purpose, e.Reason)
}
