package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite connection settings.
const (
	// sqliteBusyTimeout is how long, in milliseconds, a connection waits for
	// a lock held by another process before it fails with SQLITE_BUSY.
	sqliteBusyTimeout = 5000

	// sqliteMinReaders is the least number of read connections.
	sqliteMinReaders = 4
)

// SQLite is the Store on one SQLite database file, through the pure-Go
// driver modernc.org/sqlite. It is safe for concurrent use.
//
// The database runs in WAL mode with foreign keys on, a busy timeout of 5 s
// and synchronous=FULL. In WAL mode FULL syncs the log at every commit, so a
// committed transaction survives a power loss. NORMAL would keep the file
// consistent but could lose the last commits. A zone serial lost that way,
// after secondaries got it by NOTIFY and IXFR, would be issued again with
// other contents, and the secondaries would keep the old ones.
//
// Writes go through one connection, so write transactions of this process
// queue in Go instead of failing with SQLITE_BUSY, and each begins with
// BEGIN IMMEDIATE, so it holds the write lock from its first statement.
// Reads outside InTx use a pool of read-only connections (at least 4, or
// GOMAXPROCS) that run in parallel with the writer.
type SQLite struct {
	reader

	path    string
	writer  *sqliteDB
	readers *sqliteDB

	journalLimit atomic.Int64
	closeOnce    sync.Once
	closeErr     error
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens or creates the SQLite database at path and applies the
// schema migrations this program has and the database lacks. A new database
// file is created with mode 0600, because it holds password hashes and
// sealed keys. The directory must exist. It returns a *SchemaVersionError
// when the database was migrated by a newer program.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	if err := createPrivateFile(abs); err != nil {
		return nil, err
	}

	s := &SQLite{path: abs}
	s.writer = &sqliteDB{}
	s.writer.db, err = sql.Open("sqlite", sqliteDSN(abs, false))
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", abs, err)
	}
	s.writer.db.SetMaxOpenConns(1)
	s.writer.db.SetMaxIdleConns(1)
	s.writer.db.SetConnMaxLifetime(0)

	list, err := loadMigrations("sqlite")
	if err == nil {
		m := migrator{inTx: s.writer.inTx, createTable: sqliteMigrationsTable}
		err = m.migrate(ctx, list)
	}
	if err != nil {
		s.writer.close()
		return nil, fmt.Errorf("open SQLite database %s: %w", abs, err)
	}

	s.readers = &sqliteDB{}
	s.readers.db, err = sql.Open("sqlite", sqliteDSN(abs, true))
	if err != nil {
		s.writer.close()
		return nil, fmt.Errorf("open SQLite database %s: %w", abs, err)
	}
	n := max(sqliteMinReaders, runtime.GOMAXPROCS(0))
	s.readers.db.SetMaxOpenConns(n)
	s.readers.db.SetMaxIdleConns(n)
	s.reader = reader{q: sqliteQuerier{db: s.readers}}
	return s, nil
}

const sqliteMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`

// sqliteDSN returns the data source name of the writer or of a reader.
// Every setting but journal_mode is per connection, so each connection
// applies them when it opens.
func sqliteDSN(path string, readOnly bool) string {
	params := url.Values{}
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout))
	params.Add("_pragma", "foreign_keys(1)")
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(FULL)")
	// Temporary data, such as the statement journal of a multi-row INSERT
	// inside a transaction, stays in memory instead of a temporary file.
	params.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		params.Add("_pragma", "query_only(1)")
	} else {
		params.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: params.Encode()}
	return u.String()
}

// createPrivateFile creates an empty database file readable by its owner
// only, unless the file exists. SQLite gives the -wal and -shm files the
// mode of the database file.
func createPrivateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create SQLite database %s: %w", path, err)
	}
	return f.Close()
}

// Path returns the absolute path of the database file.
func (s *SQLite) Path() string { return s.path }

// Ping runs SELECT 1 on a read connection, through the same prepared
// statement path as the Reader methods, and returns its error. It suits a
// readiness check.
func (s *SQLite) Ping(ctx context.Context) error {
	var one int64
	if err := s.reader.q.queryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping SQLite database %s: %w", s.path, err)
	}
	return nil
}

// SetJournalLimit implements JournalLimiter.
func (s *SQLite) SetJournalLimit(weight int) { s.journalLimit.Store(int64(weight)) }

// InTx implements Store. Write transactions of one process run one at a
// time, in the order they reach the single writer connection; InTx waits for
// it until ctx ends. InTx must not be called from inside fn, which would
// wait for its own connection until ctx ends.
func (s *SQLite) InTx(ctx context.Context, fn func(tx Tx) error) error {
	return s.writer.inTx(ctx, func(q querier) error {
		return fn(&txn{reader: reader{q: q}, journalLimit: int(s.journalLimit.Load())})
	})
}

// Close implements Store. It runs PRAGMA optimize, which SQLite recommends
// before closing a connection that changed the database, and closes every
// connection.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		_, optimizeErr := s.writer.db.Exec(`PRAGMA optimize`)
		s.closeErr = errors.Join(optimizeErr, s.readers.close(), s.writer.close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close SQLite database %s: %w", s.path, s.closeErr)
		}
	})
	return s.closeErr
}

// sqliteDB is a database/sql pool with a cache of prepared statements, one
// per query text. The statements this package runs come from a bounded set
// of texts, so the cache stays small.
type sqliteDB struct {
	db    *sql.DB
	stmts sync.Map // query text -> *sql.Stmt
}

// stmt returns the prepared statement of query, preparing it on first use.
// Preparing waits for a free connection, so it runs outside any lock.
func (d *sqliteDB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := d.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if other, loaded := d.stmts.LoadOrStore(query, s); loaded {
		s.Close() // another goroutine prepared it first
		return other.(*sql.Stmt), nil
	}
	return s, nil
}

func (d *sqliteDB) close() error {
	var errs []error
	d.stmts.Range(func(query, s any) bool {
		errs = append(errs, s.(*sql.Stmt).Close())
		d.stmts.Delete(query)
		return true
	})
	return errors.Join(append(errs, d.db.Close())...)
}

// inTx runs fn in a transaction and commits it when fn returns nil. On the
// writer the DSN makes it BEGIN IMMEDIATE.
func (d *sqliteDB) inTx(ctx context.Context, fn func(q querier) error) (err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", translateSQLite(err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()

	if err := fn(sqliteQuerier{db: d, tx: tx, txStmts: map[string]*sql.Stmt{}}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", translateSQLite(err))
	}
	return nil
}

// sqliteQuerier implements querier on a pool, or on a transaction when tx is
// not nil.
//
// Outside a transaction it runs statements prepared once per pool. Inside
// one it prepares statements on the transaction and keeps them in txStmts
// until the transaction ends: preparing on the pool would wait for a free
// connection, and the writer pool's only connection is the transaction's.
type sqliteQuerier struct {
	db      *sqliteDB
	tx      *sql.Tx
	txStmts map[string]*sql.Stmt
}

func (q sqliteQuerier) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if q.tx == nil {
		s, err := q.db.stmt(ctx, query)
		return s, translateSQLite(err)
	}
	if s, ok := q.txStmts[query]; ok {
		return s, nil
	}
	s, err := q.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, translateSQLite(err)
	}
	q.txStmts[query] = s
	return s, nil
}

func (q sqliteQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	s, err := q.prepared(ctx, query)
	if err != nil {
		return 0, err
	}
	res, err := s.ExecContext(ctx, sqliteArgs(args)...)
	if err != nil {
		return 0, translateSQLite(err)
	}
	n, err := res.RowsAffected()
	return n, translateSQLite(err)
}

func (q sqliteQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	s, err := q.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	rs, err := s.QueryContext(ctx, sqliteArgs(args)...)
	if err != nil {
		return nil, translateSQLite(err)
	}
	return sqliteRows{rs}, nil
}

func (q sqliteQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	rs, err := q.query(ctx, query, args...)
	return &firstRow{rs: rs, err: err}
}

func (q sqliteQuerier) readTx(ctx context.Context, fn func(q querier) error) error {
	if q.tx != nil {
		return fn(q)
	}
	return q.db.inTx(ctx, fn)
}

func (q sqliteQuerier) placeholder(int) string { return "?" }

// sqliteArgs converts time arguments to Unix microseconds, the form of the
// SQLite schema, and the zero time to NULL.
func sqliteArgs(args []any) []any {
	for i, a := range args {
		if t, ok := a.(time.Time); ok {
			args[i] = nil
			if !t.IsZero() {
				args[i] = t.UnixMicro()
			}
		}
	}
	return args
}

type sqliteRows struct{ rs *sql.Rows }

func (r sqliteRows) Next() bool             { return r.rs.Next() }
func (r sqliteRows) Scan(dest ...any) error { return translateSQLite(r.rs.Scan(dest...)) }
func (r sqliteRows) Err() error             { return translateSQLite(r.rs.Err()) }
func (r sqliteRows) Close()                 { _ = r.rs.Close() }

// firstRow is the first row of a query, with errNoRows when there is none.
type firstRow struct {
	rs  rows
	err error
}

func (r *firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rs.Close()
	if !r.rs.Next() {
		if err := r.rs.Err(); err != nil {
			return err
		}
		return errNoRows
	}
	if err := r.rs.Scan(dest...); err != nil {
		return err
	}
	return r.rs.Err()
}

// translateSQLite wraps constraint violations with errUnique and
// errForeignKey.
func translateSQLite(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &driverError{kind: errUnique, err: err}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return &driverError{kind: errForeignKey, err: err}
	}
	return err
}
