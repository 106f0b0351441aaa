package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// querier runs SQL on a connection pool or in a transaction. The SQLite and
// PostgreSQL adapters implement it, so that the queries of this package are
// written once. Both databases take the same SQL text: positional parameters
// $1, $2, ..., RETURNING, partial indexes and LIMIT.
//
// Adapters translate driver errors: a query without rows returns errNoRows,
// a unique violation errUnique and a foreign key violation errForeignKey,
// each wrapping the driver's error. Adapters also convert time.Time
// arguments: the zero time becomes NULL.
type querier interface {
	exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) row

	// readTx runs fn in a read transaction, so that several queries see one
	// snapshot. Inside a write transaction it runs fn on that transaction.
	readTx(ctx context.Context, fn func(q querier) error) error

	// placeholder returns the text of parameter n (from 1) of a statement
	// whose parameters appear in the text in the order of the arguments. It
	// is "$n" in PostgreSQL and "?" in SQLite, whose driver binds each "$n"
	// with a search that grows with the number of parameters.
	placeholder(n int) string
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface {
	Scan(dest ...any) error
}

// Errors of the adapters, translated into ErrNotFound and ErrConflict with
// the object concerned by the code that ran the query.
var (
	errNoRows     = errors.New("no rows")
	errUnique     = errors.New("unique constraint violated")
	errForeignKey = errors.New("foreign key constraint violated")
)

// driverError wraps a driver error with one of the adapter errors above.
type driverError struct {
	kind error
	err  error
}

func (e *driverError) Error() string   { return e.err.Error() }
func (e *driverError) Unwrap() []error { return []error{e.kind, e.err} }

// dbTime returns t as the database keeps it: in UTC with microsecond
// precision, the precision of a PostgreSQL timestamptz.
func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// nowOr returns t, or the current time when t is zero, as dbTime does.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return dbTime(time.Now())
	}
	return dbTime(t)
}

// nullTime scans a time column that may be NULL: an INTEGER of Unix
// microseconds in SQLite or a timestamptz in PostgreSQL. NULL leaves the
// zero time.
type nullTime struct{ t *time.Time }

// Scan implements sql.Scanner for SQLite.
func (n nullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.t = time.Time{}
	case int64:
		*n.t = time.UnixMicro(v).UTC()
	case time.Time:
		*n.t = v.UTC()
	default:
		return fmt.Errorf("time column contains a %T, expected an integer or a timestamp", src)
	}
	return nil
}

// ScanTimestamptz implements pgtype.TimestamptzScanner for PostgreSQL.
func (n nullTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		*n.t = time.Time{}
		return nil
	}
	*n.t = v.Time.UTC()
	return nil
}
