package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. The store wraps them with %w and the object concerned, so
// callers test them with errors.Is and show the message as it is.
var (
	// ErrNotFound reports that the object looked up or referenced does not
	// exist.
	ErrNotFound = errors.New("not found")

	// ErrConflict reports a write that would break a uniqueness rule: a
	// name, handle, serial or key that exists already, a record added twice,
	// an enrollment used twice or a device revoked twice.
	ErrConflict = errors.New("conflict")

	// ErrJournalGap reports that the zone journal cannot produce the
	// requested incremental transfer. *JournalGapError wraps it.
	ErrJournalGap = errors.New("journal gap")
)

// JournalGapError reports a Diffs request that the zone journal cannot
// serve, because no retained step starts at From.
type JournalGapError struct {
	// Zone is the zone apex.
	Zone string

	// From is the serial the request started at.
	From uint32

	// Current is the zone's current serial.
	Current uint32

	// Oldest is the serial the oldest retained step starts at, or Current
	// when the journal is empty.
	Oldest uint32
}

// Error returns a message that names the serials and the way out.
func (e *JournalGapError) Error() string {
	return fmt.Sprintf("journal of zone %s has no step from serial %d (it covers %d to %d): transfer the whole zone instead",
		e.Zone, e.From, e.Oldest, e.Current)
}

// Unwrap returns ErrJournalGap.
func (e *JournalGapError) Unwrap() error { return ErrJournalGap }

// SchemaVersionError reports a database whose schema was migrated by a newer
// program than this one.
type SchemaVersionError struct {
	// Database is the highest migration version the database has applied.
	Database int

	// Program is the highest migration version of this program.
	Program int
}

// Error returns a message with both versions and what to do.
func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("database schema is at version %d but this program knows versions up to %d: run a dnshandle release at least as new as the one that last opened this database",
		e.Database, e.Program)
}

// InvalidRecordError reports an RR that UpdateZone cannot store.
type InvalidRecordError struct {
	// RR is the rejected record.
	RR RR

	// Reason describes the rule that the record breaks.
	Reason string
}

// Error returns a message that names the record and the broken rule.
func (e *InvalidRecordError) Error() string {
	return fmt.Sprintf("invalid record %s type %d in zone %q: %s", quoteName(e.RR.Name), e.RR.Type, e.RR.Zone, e.Reason)
}

// InvalidNameError reports a zone or owner name that the store cannot use.
type InvalidNameError struct {
	// Name is the rejected name.
	Name string

	// Reason describes the rule that the name breaks.
	Reason string
}

// Error returns a message that names the value and the broken rule.
func (e *InvalidNameError) Error() string {
	return fmt.Sprintf("invalid DNS name %s: %s", quoteName(e.Name), e.Reason)
}

// maxQuotedName is the number of bytes of a name that error messages quote,
// so that a long garbage input does not fill a log line.
const maxQuotedName = 300

func quoteName(s string) string {
	if len(s) > maxQuotedName {
		return fmt.Sprintf("%q...", s[:maxQuotedName])
	}
	return fmt.Sprintf("%q", s)
}
