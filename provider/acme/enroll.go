package acme

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// Enrollment is a freshly minted EAB credential, returned once: the HMAC
// key is stored in the Backend for verification, and the provider shows
// Code (or KeyID and the key) to the person enrolling a device and never
// again.
type Enrollment struct {
	Handle       handle.Handle
	Label        string
	DirectoryURL string
	KeyID        string
	Key          []byte
	Expires      time.Time
}

// Code returns the one-line enrollment code that `dnshandle device enroll`
// reads (format in package client).
func (e *Enrollment) Code() string {
	return client.EnrollmentCode{DirectoryURL: e.DirectoryURL, Handle: e.Handle, KeyID: e.KeyID, Key: e.Key}.String()
}

// EncodedKey returns the HMAC key as unpadded base64url, the form of lego's
// --hmac and certbot's --eab-hmac-key.
func (e *Enrollment) EncodedKey() string {
	return client.EnrollmentCode{Key: e.Key}.EncodedKey()
}

// LabelError reports a device label that cannot be used.
type LabelError struct {
	Label  string
	Reason string
}

func (e *LabelError) Error() string {
	return fmt.Sprintf("invalid device label %q: %s", e.Label, e.Reason)
}

// NewEnrollment mints an EAB credential that lets one device create one
// account for the identity and get certificates with the device label: a
// random 128-bit key ID and a DefaultEABKeySize-byte HMAC key, valid for
// Config.EnrollmentLifetime. The provider calls it after the person signed
// in. Errors: *LabelError, ErrNotFound (wrapped) for an unknown identity, or
// the Backend's error.
func (s *Server) NewEnrollment(ctx context.Context, identityID, label string) (*Enrollment, error) {
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	iss, err := s.backend.Issuer(ctx, identityID)
	if err != nil {
		return nil, fmt.Errorf("enrollment for identity %q: %w", identityID, err)
	}

	key := newEABKey()
	now := s.cfg.Now()
	cred := &EABCredential{
		KeyID:      newEABKeyID(),
		Key:        key,
		IdentityID: identityID,
		Label:      label,
		Created:    now,
		Expires:    now.Add(s.cfg.EnrollmentLifetime),
	}
	if err := s.backend.CreateEABCredential(ctx, cred); err != nil {
		return nil, fmt.Errorf("enrollment for identity %q: %w", identityID, err)
	}
	return &Enrollment{
		Handle:       iss.CSC.Handle,
		Label:        label,
		DirectoryURL: s.DirectoryURL(),
		KeyID:        cred.KeyID,
		Key:          key,
		Expires:      cred.Expires,
	}, nil
}

// People paste the key ID and the encoded HMAC key as command-line
// arguments (lego --kid, certbot --eab-kid). A value that starts with "-"
// is read there as another option and the command fails, so both are drawn
// again until their text form does not start with "-". That discards 1/64
// of the possible values: under 0.03 bits of the key's 256.

// newEABKeyID returns a random 128-bit key ID in base64url.
func newEABKeyID() string {
	for {
		if id := newID(); id[0] != '-' {
			return id
		}
	}
}

// newEABKey returns a random DefaultEABKeySize-byte HMAC key whose
// base64url form does not start with "-".
func newEABKey() []byte {
	key := make([]byte, DefaultEABKeySize)
	for {
		// crypto/rand.Read never returns an error since Go 1.24.
		_, _ = rand.Read(key)
		if key[0]>>2 != 62 { // 62 is "-" in the base64url alphabet
			return key
		}
	}
}

// checkLabel applies the rules that pki.DeviceOptions documents for Label
// before the credential is minted, so that a bad label fails here and not
// at finalize.
func checkLabel(label string) error {
	switch {
	case !utf8.ValidString(label):
		return &LabelError{Label: label, Reason: "not valid UTF-8"}
	case label == "" || utf8.RuneCountInString(label) > pki.MaxLabelLength:
		return &LabelError{Label: label, Reason: fmt.Sprintf("must have 1 to %d characters", pki.MaxLabelLength)}
	}
	for _, r := range label {
		if unicode.IsControl(r) {
			return &LabelError{Label: label, Reason: "contains a control character"}
		}
	}
	return nil
}
