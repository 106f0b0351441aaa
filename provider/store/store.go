package store

import (
	"context"
	"time"
)

// Account is a person or organization that signs in to the provider and owns
// identities.
type Account struct {
	// ID is assigned by CreateAccount.
	ID int64

	// Name is the sign-in name. The store compares it byte for byte, so
	// callers normalize it (for example to lowercase) before they store it
	// or look it up.
	Name string

	// PasswordHash is an argon2id PHC string made by HashPassword, or "" for
	// an account without a password.
	PasswordHash string

	// CreatedAt is stored with microsecond precision and returned in UTC.
	// CreateAccount sets it to the current time when it is zero.
	CreatedAt time.Time
}

// Identity is one handle bound to one permanent identifier (DID), with the
// CSC (certificate signing certificate) that issues its device certificates.
type Identity struct {
	// ID is assigned by CreateIdentity.
	ID int64

	// AccountID is the owning account.
	AccountID int64

	// Handle is the canonical handle (lowercase, no "@", no trailing dot).
	// It is unique in the store.
	Handle string

	// DID is the permanent identifier, such as "did:key:z...".
	DID string

	// Hosted is true for a handle under a provider zone and false for a
	// handle under the user's own domain.
	Hosted bool

	// Verified is true once the records of an own-domain handle were
	// checked with the resolver. Hosted handles do not use it.
	Verified bool

	// CSCCert is the CSC in DER.
	CSCCert []byte

	// CSCKey is the CSC private key as PKCS#8 sealed by a Sealer with the
	// purpose "csc:<handle>". The store never gets the plaintext key.
	CSCKey []byte

	// CreatedAt is stored with microsecond precision and returned in UTC.
	// CreateIdentity sets it to the current time when it is zero.
	CreatedAt time.Time
}

// Device status values.
const (
	DeviceActive  = "active"
	DeviceRevoked = "revoked"
)

// Device is one device certificate issued for one identity.
type Device struct {
	// ID is assigned by CreateDevice.
	ID int64

	// IdentityID is the identity the certificate names.
	IdentityID int64

	// Label is the device name the user chose, such as "laptop".
	Label string

	// Serial is the certificate serial number in lowercase hex. It is
	// unique in the store.
	Serial string

	// Fingerprint identifies the device key, for example the hex SHA-256
	// of the certificate's SubjectPublicKeyInfo.
	Fingerprint string

	// Status is DeviceActive or DeviceRevoked. CreateDevice stores
	// DeviceActive when it is empty.
	Status string

	// CertDER is the device certificate in DER.
	CertDER []byte

	// CreatedAt, LastSeen and RevokedAt are stored with microsecond
	// precision and returned in UTC. CreateDevice sets CreatedAt to the
	// current time when it is zero. LastSeen and RevokedAt are zero until
	// TouchDevice and RevokeDevice set them.
	CreatedAt, LastSeen, RevokedAt time.Time

	// RevocationReason is the CRLReason code (RFC 5280, section 5.3.1)
	// given to RevokeDevice, and 0 for an active device.
	RevocationReason int
}

// Enrollment is a one-time ACME External Account Binding credential for one
// identity and one device label.
type Enrollment struct {
	// KeyID is the EAB key identifier. It is unique in the store.
	KeyID string

	// IdentityID is the identity the enrolled device will belong to.
	IdentityID int64

	// Label is the device label of the enrolled device.
	Label string

	// MACKeyHash is the EAB MAC key in the form the caller chooses to keep,
	// a hash or a sealed key. The store keeps the bytes as they are, until
	// DeleteExpiredACME erases them (nil) from a used, expired enrollment.
	MACKeyHash []byte

	// ExpiresAt is when the credential stops being valid. CreateEnrollment
	// rejects a zero time. The store does not compare it with the clock: the
	// caller does, with its own clock.
	ExpiresAt time.Time

	// UsedAt is zero until UseEnrollment sets it.
	UsedAt time.Time
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	// ID is assigned by AppendAudit. IDs grow with every entry, so the
	// newest entry has the greatest ID.
	ID int64

	// At is when the action happened. AppendAudit stores the current time
	// when it is zero.
	At time.Time

	// Actor is who acted, such as an account name or "system".
	Actor string

	// Action is the name of the action, such as "identity.create".
	Action string

	// Subject is the object of the action, such as a handle.
	Subject string

	// Detail is free text. It must not contain secrets.
	Detail string
}

// RR is one DNS record of a provider zone, as the authoritative server
// stores it.
type RR struct {
	// Zone is the zone apex as a lowercase FQDN, such as "dhp.test.".
	// UpdateZone fills it in when it is empty.
	Zone string

	// Name is the owner as a lowercase FQDN inside Zone. The store lowercases
	// ASCII letters of names it is given.
	Name string

	// Type is the RR type, such as dns.TypeTLSA, dns.TypeRRSIG or
	// dns.TypeNSEC3.
	Type uint16

	// Covered is the type covered by an RRSIG, and 0 for every other type, so
	// that the signatures of one RRset can be found.
	Covered uint16

	// TTL is in seconds.
	TTL uint32

	// Data is the RDATA in presentation format: what follows the type in
	// dns.RR.String(). Two RRs with the same Zone, Name, Type, Covered and
	// Data are the same record, whatever their TTL.
	Data string

	// Hash is, for an NSEC3 record, the owner's first label: the base32hex
	// hash in lowercase. LookupNSEC3 searches by it. It is "" for every
	// other type, and UpdateZone fills it in for an NSEC3 when it is empty.
	Hash string
}

// Diff is one serial step of a zone: the records deleted and added when the
// serial went from FromSerial to ToSerial. It is the unit of an incremental
// zone transfer (RFC 1995, section 4).
type Diff struct {
	FromSerial, ToSerial uint32
	Deleted, Added       []RR
}

// Zone is a provider zone and its current SOA serial.
type Zone struct {
	// Name is the apex as a lowercase FQDN.
	Name string

	// Serial is the current SOA serial.
	Serial uint32
}

// ZoneKey is one DNSSEC key of a zone.
type ZoneKey struct {
	// Zone is the apex as a lowercase FQDN.
	Zone string

	// Flags is 257 for a key signing key and 256 for a zone signing key.
	Flags uint16

	// Algorithm is the DNSSEC algorithm number, such as 13 (ECDSA P-256).
	Algorithm uint8

	// DNSKEY is the DNSKEY RDATA in presentation format. It is unique per
	// zone.
	DNSKEY string

	// PrivateKey is the PKCS#8 private key sealed by a Sealer with the
	// purpose "zsk:<zone>". The store never gets the plaintext key.
	PrivateKey []byte

	// CreatedAt is stored with microsecond precision and returned in UTC.
	// PutZoneKey sets it to the current time when it is zero.
	CreatedAt time.Time
}

// Store is the provider's persistent state: accounts, identities, devices,
// enrollments, the audit log and the provider zones.
//
// A Store is safe for concurrent use by many goroutines. Its Reader methods
// run outside any transaction and read committed data only. Each call reads
// one consistent snapshot, because it runs one query, or, for WalkZone and
// Diffs, a read transaction of its own.
type Store interface {
	// InTx runs fn in one database transaction and commits it when fn
	// returns nil. An error from fn, a panic in fn or a failed commit rolls
	// back every write of fn, and InTx returns that error.
	//
	// Writes that belong together (an identity, its records, their
	// signatures, the serial bump, the journal and the audit entry) go into
	// one InTx. Transactions that write run one at a time (SQLite) or
	// serializable in effect (PostgreSQL, see Postgres.InTx). On PostgreSQL,
	// InTx runs fn again when the database aborts the transaction because of
	// a concurrent writer, so fn must have no effects outside tx, or only
	// effects that may be repeated.
	//
	// tx is valid only until fn returns, and must not be used from several
	// goroutines at once.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	Reader

	// Close releases the database connections. The Store must not be used
	// after Close.
	Close() error
}

// Reader is the read side of the store. Methods that look up one object
// return an error wrapping ErrNotFound when it does not exist. Methods that
// list objects return an empty slice and no error when there are none.
type Reader interface {
	ACMEReader
	ACMESharedReader
	OIDCReader
	WebSessionReader

	// AccountByName returns the account with the given name.
	AccountByName(ctx context.Context, name string) (*Account, error)

	// AccountByID returns the account with the given ID.
	AccountByID(ctx context.Context, id int64) (*Account, error)

	// Accounts returns every account, ordered by name.
	Accounts(ctx context.Context) ([]*Account, error)

	// IdentityByHandle returns the identity with the given canonical handle.
	IdentityByHandle(ctx context.Context, handle string) (*Identity, error)

	// IdentityByID returns the identity with the given ID.
	IdentityByID(ctx context.Context, id int64) (*Identity, error)

	// Identities returns the identities of one account ordered by ID, or of
	// every account when accountID is 0.
	Identities(ctx context.Context, accountID int64) ([]*Identity, error)

	// Devices returns the devices of one identity ordered by ID, or of every
	// identity when identityID is 0.
	Devices(ctx context.Context, identityID int64) ([]*Device, error)

	// DeviceBySerial returns the device whose certificate has the given
	// serial number (lowercase hex).
	DeviceBySerial(ctx context.Context, serial string) (*Device, error)

	// Enrollment returns the enrollment with the given EAB key identifier,
	// used or not.
	Enrollment(ctx context.Context, keyID string) (*Enrollment, error)

	// Audit returns up to limit entries of the audit log, newest first
	// (greatest ID first). limit must be positive.
	Audit(ctx context.Context, limit int) ([]AuditEntry, error)

	// Zones returns every provider zone ordered by name.
	Zones(ctx context.Context) ([]Zone, error)

	// ZoneSerial returns the current SOA serial of a zone.
	ZoneSerial(ctx context.Context, zone string) (uint32, error)

	// LookupName returns every RR owned by name in zone, of any type,
	// RRSIGs included, ordered by type, covered type and data. It returns
	// an empty slice for a name without records and does not check that
	// the zone exists. The name is matched without regard to ASCII case.
	// It returns an *InvalidNameError when name is not a fully qualified
	// domain name.
	LookupName(ctx context.Context, zone, name string) ([]RR, error)

	// LookupNSEC3 returns the NSEC3 record of zone whose Hash is the
	// greatest that is less than or equal to hash, or the one with the
	// greatest Hash overall when every Hash is greater (the chain wraps
	// around). That record matches hash when the hashes are equal and
	// covers it otherwise (RFC 5155, section 7.2.1). It returns an error
	// wrapping ErrNotFound when the zone has no NSEC3 records.
	LookupNSEC3(ctx context.Context, zone, hash string) (RR, error)

	// NameExistsBelow reports whether zone has an RR whose owner is strictly
	// below name, which makes name an empty non-terminal when it owns no RR
	// itself (RFC 5155, section 7.2.8 uses this).
	NameExistsBelow(ctx context.Context, zone, name string) (bool, error)

	// NamesBelow returns up to limit owner names of zone strictly below
	// name, in canonical DNS order, each once. NSEC3 records and their
	// signatures are left out. It returns an *InvalidNameError when name
	// is not a fully qualified domain name.
	NamesBelow(ctx context.Context, zone, name string, limit int) ([]string, error)

	// WalkZone calls fn for every RR of zone, ordered by owner name in
	// canonical DNS order (RFC 4034, section 6.1: the apex first, then each
	// name before the names below it), then by type, covered type and data.
	// It stops at the first error from fn and returns that error unwrapped.
	// It returns an error wrapping ErrNotFound when the zone does not exist.
	WalkZone(ctx context.Context, zone string, fn func(RR) error) error

	// Diffs returns the journal steps of zone from fromSerial to the current
	// serial, oldest first: none when fromSerial is the current serial. It
	// returns a *JournalGapError, which wraps ErrJournalGap, when no
	// retained step starts at fromSerial (a serial the zone never had, one
	// older than the journal keeps, or a newer one), and the caller falls
	// back to a full transfer.
	Diffs(ctx context.Context, zone string, fromSerial uint32) ([]Diff, error)

	// ZoneKeys returns the DNSSEC keys of zone, key signing keys first, then
	// in the order they were stored.
	ZoneKeys(ctx context.Context, zone string) ([]ZoneKey, error)
}

// Tx is one database transaction handed to the function given to InTx. Its
// Reader methods see the transaction's own writes.
//
// After an error from a Tx method, fn should return an error, which rolls
// the transaction back: UpdateZone may have applied part of its change, and
// on PostgreSQL a failed statement aborts the transaction. The transaction
// stays usable after these errors only: ErrConflict from the Create
// methods, PutZoneKey, RevokeDevice and UseEnrollment, and ErrNotFound from
// the Reader methods, SetIdentityVerified, RevokeDevice, TouchDevice and
// UseEnrollment. A Create method that names a missing account, identity or
// zone fails a foreign key and is not among them.
type Tx interface {
	Reader
	ACMEWriter
	ACMESharedWriter
	OIDCWriter
	WebSessionWriter

	// CreateAccount stores a and sets a.ID. It returns an error wrapping
	// ErrConflict when an account with the same name exists.
	CreateAccount(ctx context.Context, a *Account) error

	// CreateIdentity stores id and sets id.ID. It returns an error wrapping
	// ErrConflict when the handle is taken and one wrapping ErrNotFound when
	// id.AccountID does not exist.
	CreateIdentity(ctx context.Context, id *Identity) error

	// SetIdentityVerified sets the Verified flag of an identity.
	SetIdentityVerified(ctx context.Context, id int64, verified bool) error

	// DeleteAccount deletes an account that has no identities left, with
	// its OpenID consents. It returns an error wrapping ErrConflict when
	// the account still has identities (delete them first) and one
	// wrapping ErrNotFound when the account does not exist.
	DeleteAccount(ctx context.Context, id int64) error

	// DeleteIdentity deletes an identity and every row that belongs to
	// it: devices, enrollments, ACME accounts, orders and certificates,
	// and the OpenID grants, tokens and consents that name it. Its handle
	// is free afterwards. Its zone records are the caller's to delete, and
	// the audit log keeps its entries. It returns an error wrapping
	// ErrNotFound when the identity does not exist.
	DeleteIdentity(ctx context.Context, id int64) error

	// CreateDevice stores d and sets d.ID. It returns an error wrapping
	// ErrConflict when the serial is taken and one wrapping ErrNotFound when
	// d.IdentityID does not exist.
	CreateDevice(ctx context.Context, d *Device) error

	// RevokeDevice marks a device revoked at the given time with a CRLReason
	// code (RFC 5280, section 5.3.1). It returns an error wrapping
	// ErrConflict when the device is already revoked, so that the first
	// revocation time stays.
	RevokeDevice(ctx context.Context, id int64, at time.Time, reason int) error

	// TouchDevice sets the LastSeen time of a device.
	TouchDevice(ctx context.Context, id int64, at time.Time) error

	// CreateEnrollment stores e. It returns an error wrapping ErrConflict
	// when the key identifier is taken and one wrapping ErrNotFound when
	// e.IdentityID does not exist.
	CreateEnrollment(ctx context.Context, e *Enrollment) error

	// UseEnrollment marks an enrollment used at the given time. It returns
	// an error wrapping ErrConflict when the enrollment was used already, so
	// each enrollment is used at most once even with concurrent callers.
	// It does not check ExpiresAt.
	UseEnrollment(ctx context.Context, keyID string, at time.Time) error

	// AppendAudit appends an entry to the audit log. e.ID is ignored.
	AppendAudit(ctx context.Context, e AuditEntry) error

	// CreateZone stores an empty zone with the given SOA serial. Its journal
	// starts at that serial. It returns an error wrapping ErrConflict when
	// the zone exists.
	CreateZone(ctx context.Context, zone string, serial uint32) error

	// PutZoneKey stores a DNSSEC key of an existing zone. It returns an
	// error wrapping ErrConflict when the zone has a key with the same
	// DNSKEY.
	PutZoneKey(ctx context.Context, k ZoneKey) error

	// UpdateZone applies deleted, then added, to zone, adds 1 to its serial
	// (RFC 1982 serial arithmetic, so 4294967295 is followed by 0), writes
	// one journal step and returns the new serial. An update with no
	// records still takes a new serial.
	//
	// A deleted RR must exist (matched on Name, Type, Covered and Data,
	// whatever its TTL), or UpdateZone returns an error wrapping
	// ErrNotFound. An added RR must not exist, or it returns an error
	// wrapping ErrConflict. Changing a TTL is a deletion and an addition of
	// the same RR. The journal keeps the stored TTL of deleted records.
	UpdateZone(ctx context.Context, zone string, deleted, added []RR) (uint32, error)
}
