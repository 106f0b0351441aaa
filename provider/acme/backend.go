package acme

import (
	"context"
	"errors"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// Errors that a Backend returns. Each has one meaning, so they are
// sentinels: match them with errors.Is. A Backend may wrap them with more
// context.
var (
	// ErrNotFound means that no record has the requested key.
	ErrNotFound = errors.New("acme backend: record not found")
	// ErrEABUsed means that the external account binding credential named by
	// Account.EABKeyID is already bound to another account.
	ErrEABUsed = errors.New("acme backend: external account binding key already bound to an account")
	// ErrKeyInUse means that another account already has the account key
	// with the same JWK thumbprint.
	ErrKeyInUse = errors.New("acme backend: account key already in use by another account")
	// ErrStatusChanged means that UpdateOrder found the stored order in
	// another status than the caller expected: a concurrent request changed
	// it first.
	ErrStatusChanged = errors.New("acme backend: order status changed concurrently")
	// ErrAlreadyReplaced means that CreateOrder found another live order
	// that replaces the same certificate (RFC 9773, section 5).
	ErrAlreadyReplaced = errors.New("acme backend: certificate already replaced by another order")
	// ErrAlreadyRevoked means that the certificate is already revoked.
	ErrAlreadyRevoked = errors.New("acme backend: certificate already revoked")
	// ErrDuplicate means that a record with the same primary key exists.
	ErrDuplicate = errors.New("acme backend: duplicate record")
)

// Backend persists the state of the ACME server: enrollment credentials,
// the issuing CSC of each identity, accounts, orders with their
// authorization, and issued device certificates with their revocation.
//
// Every method takes the request context first and must return when it ends.
// Records passed in and returned are copies: the Server may change a
// returned record and the Backend must not keep pointers to records it was
// given. Implementations must be safe for concurrent use. The methods that
// enforce a uniqueness or state rule (CreateAccount, UpdateAccount,
// CreateOrder, UpdateOrder, RevokeCertificate) must check and write in one
// transaction, because concurrent requests race for the same record.
//
// NewMemoryBackend returns the in-memory implementation used by tests and
// benchmarks. A SQL implementation maps each record type to one table with
// the unique keys named on each method.
type Backend interface {
	// CreateEABCredential stores a new enrollment credential. ErrDuplicate
	// when c.KeyID exists.
	CreateEABCredential(ctx context.Context, c *EABCredential) error
	// EABCredential returns the credential with keyID, bound or not.
	// ErrNotFound when there is none.
	EABCredential(ctx context.Context, keyID string) (*EABCredential, error)

	// Issuer returns the signing CSC of an identity. ErrNotFound when the
	// identity does not exist or has no CSC.
	Issuer(ctx context.Context, identityID string) (*Issuer, error)

	// CreateAccount stores a new account and, in the same transaction, binds
	// the credential a.EABKeyID to it (sets EABCredential.AccountID and
	// Bound). ErrEABUsed when the credential is already bound, ErrNotFound
	// when it does not exist, ErrKeyInUse when a.Thumbprint belongs to
	// another account. Unique keys: ID, Thumbprint, EABKeyID.
	CreateAccount(ctx context.Context, a *Account) error
	// Account returns the account with id. ErrNotFound when there is none.
	Account(ctx context.Context, id string) (*Account, error)
	// AccountByThumbprint returns the account whose key has the RFC 7638
	// thumbprint. ErrNotFound when there is none.
	AccountByThumbprint(ctx context.Context, thumbprint string) (*Account, error)
	// UpdateAccount replaces the stored account a.ID. ErrNotFound when it
	// does not exist, ErrKeyInUse when a.Thumbprint belongs to another
	// account (key rollover to a key in use).
	UpdateAccount(ctx context.Context, a *Account) error

	// CreateOrder stores a new order. When o.Replaces is set, it fails
	// with ErrAlreadyReplaced if another order with the same Replaces is
	// stored with a status other than invalid and an Expires after o.Created.
	CreateOrder(ctx context.Context, o *Order) error
	// Order returns the order with id. ErrNotFound when there is none.
	Order(ctx context.Context, id string) (*Order, error)
	// UpdateOrder replaces the stored order o.ID if its stored status is
	// prev, and fails with ErrStatusChanged otherwise (compare and swap).
	// ErrNotFound when it does not exist.
	UpdateOrder(ctx context.Context, o *Order, prev OrderStatus) error
	// AccountOrders returns up to limit order IDs of the account, oldest
	// first, starting after the order ID after ("" for the first page).
	AccountOrders(ctx context.Context, accountID, after string, limit int) ([]string, error)

	// CreateCertificate stores an issued device certificate. ErrDuplicate
	// when c.Serial exists.
	CreateCertificate(ctx context.Context, c *Certificate) error
	// Certificate returns the certificate with the serial (lowercase hex,
	// see SerialText). ErrNotFound when there is none.
	Certificate(ctx context.Context, serial string) (*Certificate, error)
	// IdentityCertificates returns every certificate issued for the
	// identity, revoked or not, in any order.
	IdentityCertificates(ctx context.Context, identityID string) ([]*Certificate, error)
	// RevokeCertificate marks the certificate revoked at the time with the
	// reason. ErrNotFound when it does not exist, ErrAlreadyRevoked when it
	// is revoked already.
	RevokeCertificate(ctx context.Context, serial string, reason pki.RevocationReason, at time.Time) error
}

// Issuer is the signing side of one identity: its CSC and where its CRL is
// published.
type Issuer struct {
	// IdentityID is the identity's key in the Backend.
	IdentityID string
	// CSC signs the identity's device certificates. It must be valid at the
	// time of issue (pki.IssueDevice checks).
	CSC *pki.CSC
	// DID is the permanent identifier written into device certificates. The
	// zero value means the CSC's did:key.
	DID handle.DID
	// CRLURL is written as the CRL distribution point of device
	// certificates. Empty means the Server's own CRL URL for the identity,
	// <BaseURL>/crl/<IdentityID>, which it serves itself.
	CRLURL string
}

// EABCredential is an External Account Binding credential (RFC 8555,
// section 7.3.4): a key ID and an HMAC key that let one device create one
// ACME account for one identity, under a device label.
type EABCredential struct {
	// KeyID is the "kid" of the EAB JWS, random and URL safe.
	KeyID string
	// Key is the HMAC key, DefaultEABKeySize random bytes. A SQL backend
	// may encrypt it at rest, but must return it as given.
	Key []byte
	// IdentityID and Label name the identity the account will be bound to
	// and the device label written into its certificates.
	IdentityID string
	Label      string
	Created    time.Time
	// Expires is the end of the credential's use: newAccount after it fails.
	Expires time.Time
	// AccountID is the account the credential was bound to, "" while unused.
	AccountID string
}

// AccountStatus is the status of an account, RFC 8555, section 7.1.6.
type AccountStatus string

// Account statuses.
const (
	AccountValid       AccountStatus = "valid"
	AccountDeactivated AccountStatus = "deactivated"
	AccountRevoked     AccountStatus = "revoked"
)

// Account is an ACME account bound to one identity by its EAB credential.
type Account struct {
	ID string
	// Key is the account's public key as a JWK (RFC 7517) in JSON.
	Key []byte
	// Thumbprint is the base64url RFC 7638 thumbprint of Key (SHA-256),
	// unique among accounts.
	Thumbprint  string
	Status      AccountStatus
	Contact     []string
	TermsAgreed bool
	// EABKeyID is the credential that created the account, unique.
	EABKeyID   string
	IdentityID string
	Label      string
	Created    time.Time
}

// OrderStatus is the status of an order, RFC 8555, section 7.1.6.
type OrderStatus string

// Order statuses.
const (
	OrderPending    OrderStatus = "pending"
	OrderReady      OrderStatus = "ready"
	OrderProcessing OrderStatus = "processing"
	OrderValid      OrderStatus = "valid"
	OrderInvalid    OrderStatus = "invalid"
)

// AuthzStatus is the status of an authorization, RFC 8555, section 7.1.6.
type AuthzStatus string

// Authorization statuses.
const (
	AuthzPending     AuthzStatus = "pending"
	AuthzValid       AuthzStatus = "valid"
	AuthzInvalid     AuthzStatus = "invalid"
	AuthzDeactivated AuthzStatus = "deactivated"
	AuthzExpired     AuthzStatus = "expired"
	AuthzRevoked     AuthzStatus = "revoked"
)

// Identifier is an ACME identifier, RFC 8555, section 9.7.7. This server
// accepts only type "dns" with the bound identity's handle.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Order is an ACME order together with its single authorization. The
// authorization is valid from the start, because the EAB credential already
// proved that the account may use the handle, so it shares the order's ID
// and is stored inside it.
type Order struct {
	ID         string
	AccountID  string
	IdentityID string
	Identifier Identifier
	Status     OrderStatus
	Created    time.Time
	Expires    time.Time

	AuthzStatus  AuthzStatus
	AuthzExpires time.Time

	// Replaces is the RFC 9773 certificate identifier of the certificate
	// this order replaces, "" for none.
	Replaces string
	// ProcessingSince is when finalize set the order to processing, and
	// zero before. An order still processing FinalizeTimeout after it is
	// taken as interrupted (see Config.FinalizeTimeout).
	ProcessingSince time.Time
	// CertificateSerial is the serial of the issued certificate once the
	// order is valid.
	CertificateSerial string
	// ErrorType and ErrorDetail describe why an invalid order failed.
	ErrorType   string
	ErrorDetail string
}

// Certificate is an issued device certificate: the device record of the
// provider.
type Certificate struct {
	// Serial is the certificate serial number in lowercase hex without
	// leading zeros (SerialText), unique.
	Serial     string
	AccountID  string
	IdentityID string
	OrderID    string
	Label      string
	// Chain is the DER of [device certificate, CSC].
	Chain [][]byte
	// KeyFingerprint is the device id: pki.KeyFingerprint of the device key.
	KeyFingerprint string
	NotBefore      time.Time
	NotAfter       time.Time

	Revoked   bool
	RevokedAt time.Time
	Reason    pki.RevocationReason
}
