package store

import (
	"context"
	"time"
)

// Kinds of OIDCToken.
const (
	OIDCAccessToken  = "access"
	OIDCRefreshToken = "refresh"
)

// OIDCClient is an OAuth client registered at run time (RFC 7591). Clients
// from the configuration are not stored.
type OIDCClient struct {
	// ID is the client_id, unique.
	ID string

	// SecretHash is the SHA-256 of the client secret, or nil for a public
	// client.
	SecretHash []byte

	// Data is the client metadata as the caller encodes it.
	Data []byte

	// CreatedAt is stored with microsecond precision and returned in UTC.
	// CreateOIDCClient sets it to the current time when it is zero.
	CreatedAt time.Time
}

// OIDCAuthRequest is one authorization request. After approval and the
// code exchange it is the grant that the issued tokens belong to, so
// revoking it revokes them all.
type OIDCAuthRequest struct {
	// ID is random and unique.
	ID string

	// ClientID is the client that made the request.
	ClientID string

	// IdentityID is the identity the person chose to share, 0 until
	// ApproveOIDCAuthRequest.
	IdentityID int64

	// Data is the rest of the request as the caller encodes it.
	Data []byte

	// CodeHash is the SHA-256 (hex) of the authorization code, "" until
	// SetOIDCCode. It is unique.
	CodeHash string

	// CreatedAt and ExpiresAt bound the time to approve the request.
	// CreateOIDCAuthRequest sets CreatedAt to the current time when it is
	// zero and rejects a zero ExpiresAt. The store does not compare times
	// with the clock: the caller does.
	CreatedAt, ExpiresAt time.Time

	// ApprovedAt, CodeExpiresAt, CodeUsedAt and RevokedAt are zero until
	// ApproveOIDCAuthRequest, SetOIDCCode, UseOIDCCode and RevokeOIDCGrant
	// set them.
	ApprovedAt, CodeExpiresAt, CodeUsedAt, RevokedAt time.Time

	// AuthTime is when the person who approved the request signed in, set
	// by ApproveOIDCAuthRequest. It is zero before the approval, and for
	// requests approved before the store had the column (schema version 4).
	AuthTime time.Time
}

// OIDCPushedRequest is a pushed authorization request (RFC 9126) waiting for
// its one use at the authorization endpoint.
type OIDCPushedRequest struct {
	// ID is the SHA-256 (hex) of the request_uri, unique.
	ID string

	// ClientID is the client that pushed the request.
	ClientID string

	// Data is the request's parameters as the caller encodes them.
	Data []byte

	// DPoPJKT is the JWK thumbprint (RFC 7638) of the DPoP key the request
	// is bound to, or "".
	DPoPJKT string

	// CreatedAt, ExpiresAt and UsedAt work as in OIDCAuthRequest.
	// CreateOIDCPushedRequest rejects a zero ExpiresAt; UsedAt is zero
	// until UseOIDCPushedRequest.
	CreatedAt, ExpiresAt, UsedAt time.Time
}

// OIDCToken is an issued access or refresh token.
type OIDCToken struct {
	// ID is the jti of an access token or the SHA-256 (hex) of a refresh
	// token, unique.
	ID string

	// Kind is OIDCAccessToken or OIDCRefreshToken.
	Kind string

	// GrantID is the OIDCAuthRequest the token was issued from.
	GrantID string

	// ClientID is the client the token was issued to.
	ClientID string

	// IdentityID is the identity the token speaks for.
	IdentityID int64

	// JKT is the JWK thumbprint of the DPoP key the token is bound to, or
	// "" for a bearer token.
	JKT string

	// Data is the rest of the token as the caller encodes it.
	Data []byte

	// CreatedAt is set to the current time by CreateOIDCToken when it is
	// zero; ExpiresAt must not be zero. UsedAt is zero until UseOIDCToken
	// (a refresh token used once for rotation).
	CreatedAt, ExpiresAt, UsedAt time.Time

	// RevokedAt is when the token or its grant was revoked, whichever came
	// first, and zero while neither is. Readers fill it in from both rows;
	// CreateOIDCToken ignores it.
	RevokedAt time.Time
}

// OIDCSigningKey is a key that signs ID tokens and access tokens.
type OIDCSigningKey struct {
	// ID is the key ID (kid), unique.
	ID string

	// Algorithm is the JWS algorithm, such as "ES256".
	Algorithm string

	// PublicKey is the public key as PKIX DER.
	PublicKey []byte

	// PrivateKey is the PKCS#8 private key sealed by a Sealer. The store
	// never gets the plaintext key.
	PrivateKey []byte

	// CreatedAt is set to the current time by CreateOIDCSigningKey when it
	// is zero.
	CreatedAt time.Time
}

// OIDCConsent is the identity an account chose to share with one client the
// last time it approved a request of that client.
type OIDCConsent struct {
	AccountID  int64
	ClientID   string
	IdentityID int64

	// UpdatedAt is set to the current time by PutOIDCConsent when it is
	// zero.
	UpdatedAt time.Time
}

// OIDCReader is the read side of the OpenID provider's rows, part of
// Reader. Lookups of one row return an error wrapping ErrNotFound when
// there is none.
type OIDCReader interface {
	// OIDCClient returns the registered client with the ID.
	OIDCClient(ctx context.Context, id string) (*OIDCClient, error)

	// OIDCAuthRequest returns the authorization request with the ID.
	OIDCAuthRequest(ctx context.Context, id string) (*OIDCAuthRequest, error)

	// OIDCAuthRequestByCode returns the authorization request whose code
	// has the hash codeHash, used or not.
	OIDCAuthRequestByCode(ctx context.Context, codeHash string) (*OIDCAuthRequest, error)

	// OIDCToken returns the token with the ID, with RevokedAt set when the
	// token or its grant was revoked.
	OIDCToken(ctx context.Context, id string) (*OIDCToken, error)

	// OIDCSigningKeys returns up to limit signing keys, newest first.
	// limit must be positive.
	OIDCSigningKeys(ctx context.Context, limit int) ([]*OIDCSigningKey, error)

	// OIDCSecret returns the sealed server secret with the name.
	OIDCSecret(ctx context.Context, name string) ([]byte, error)

	// OIDCConsent returns the consent of an account for a client.
	OIDCConsent(ctx context.Context, accountID int64, clientID string) (*OIDCConsent, error)
}

// OIDCWriter is the write side of the OpenID provider's rows, part of Tx.
//
// Single use rests on conditional updates. UseOIDCCode, UseOIDCToken,
// UseOIDCPushedRequest, ApproveOIDCAuthRequest and SetOIDCCode change a row
// in one statement, and only when it is in the expected state. Otherwise
// they return an error wrapping ErrConflict, so of two concurrent callers
// exactly one succeeds. These conflicts, and the ErrConflict of the Create
// and Record methods, leave the transaction usable. The exception is
// SetOIDCCode with a code hash that another request has, which fails a
// unique index.
type OIDCWriter interface {
	// CreateOIDCClient stores c. It returns an error wrapping ErrConflict
	// when the ID is taken.
	CreateOIDCClient(ctx context.Context, c *OIDCClient) error

	// CreateOIDCAuthRequest stores r. It returns an error wrapping
	// ErrConflict when the ID is taken.
	CreateOIDCAuthRequest(ctx context.Context, r *OIDCAuthRequest) error

	// ApproveOIDCAuthRequest records that the person, signed in at
	// authTime, approved the request id for identityID at the given time.
	// It returns an error wrapping ErrConflict when the request was
	// approved or revoked before, and one wrapping ErrNotFound when it does
	// not exist. It does not check ExpiresAt.
	ApproveOIDCAuthRequest(ctx context.Context, id string, identityID int64, at, authTime time.Time) error

	// SetOIDCCode records the hash of the authorization code issued for the
	// approved request id and the code's expiry. It returns an error
	// wrapping ErrConflict when the request is not approved, has a code
	// already or was revoked, or when another request has the hash, and
	// one wrapping ErrNotFound when the request does not exist.
	SetOIDCCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error

	// UseOIDCCode marks the code with the hash used at the given time. It
	// returns an error wrapping ErrConflict when it was used before and one
	// wrapping ErrNotFound when no request has the code. It does not check
	// CodeExpiresAt or RevokedAt.
	UseOIDCCode(ctx context.Context, codeHash string, at time.Time) error

	// RevokeOIDCGrant marks the request grantID and every token issued from
	// it revoked at the given time, keeping earlier revocation times. It
	// returns an error wrapping ErrNotFound when the request does not
	// exist.
	RevokeOIDCGrant(ctx context.Context, grantID string, at time.Time) error

	// CreateOIDCPushedRequest stores r. It returns an error wrapping
	// ErrConflict when the ID is taken.
	CreateOIDCPushedRequest(ctx context.Context, r *OIDCPushedRequest) error

	// UseOIDCPushedRequest marks the pushed request id used at the given
	// time and returns it. It returns an error wrapping ErrConflict when it
	// was used before and one wrapping ErrNotFound when it does not exist.
	// It does not check ExpiresAt.
	UseOIDCPushedRequest(ctx context.Context, id string, at time.Time) (*OIDCPushedRequest, error)

	// CreateOIDCToken stores t. It returns an error wrapping ErrConflict
	// when the ID is taken and one wrapping ErrNotFound when its grant or
	// identity does not exist.
	CreateOIDCToken(ctx context.Context, t *OIDCToken) error

	// UseOIDCToken marks the token id used at the given time. It returns an
	// error wrapping ErrConflict when it was used before and one wrapping
	// ErrNotFound when it does not exist.
	UseOIDCToken(ctx context.Context, id string, at time.Time) error

	// RevokeOIDCToken marks the token id revoked at the given time. A
	// token revoked before keeps its first revocation time and the call
	// returns nil. It returns an error wrapping ErrNotFound when the token
	// does not exist.
	RevokeOIDCToken(ctx context.Context, id string, at time.Time) error

	// RecordDPoPProof stores the identifier of an accepted DPoP proof until
	// expiresAt. It returns an error wrapping ErrConflict when the
	// identifier is stored already: the proof is a replay.
	RecordDPoPProof(ctx context.Context, id string, expiresAt time.Time) error

	// CreateOIDCSigningKey stores k. It returns an error wrapping
	// ErrConflict when the ID is taken.
	CreateOIDCSigningKey(ctx context.Context, k *OIDCSigningKey) error

	// CreateOIDCSecret stores a sealed server secret under name. It returns
	// an error wrapping ErrConflict when the name is taken, so that of
	// several processes creating the same secret one wins and the others
	// read it.
	CreateOIDCSecret(ctx context.Context, name string, sealed []byte) error

	// PutOIDCConsent stores c, replacing the consent of the same account
	// and client. It returns an error wrapping ErrNotFound when the account
	// or identity does not exist.
	PutOIDCConsent(ctx context.Context, c OIDCConsent) error

	// DeleteExpiredOIDC deletes the pushed requests, DPoP proof identifiers
	// and tokens that expired before the given time, then the
	// authorization requests that expired before it and have no token left,
	// and returns the number of rows deleted.
	DeleteExpiredOIDC(ctx context.Context, before time.Time) (int64, error)
}
