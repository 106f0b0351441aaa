package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Retries of a PostgreSQL transaction that the database aborted because of a
// concurrent transaction.
const (
	// pgMaxAttempts is how many times InTx runs fn before it gives up.
	pgMaxAttempts = 10

	// pgMaxBackoff caps the random wait between attempts.
	pgMaxBackoff = 100 * time.Millisecond
)

// pgMigrationLock is the key of the advisory lock that serializes schema
// migrations of several programs starting on one database at once. It is
// the ASCII bytes of "dnshandl".
const pgMigrationLock int64 = 0x646e7368616e646c

// Postgres is the Store on a PostgreSQL database, through a pgx connection
// pool. It is safe for concurrent use, also by several processes on one
// database.
//
// InTx runs at the REPEATABLE READ isolation level. fn reads one snapshot,
// taken at its first statement, and a transaction that updates a row that
// another transaction changed after that snapshot fails with a
// serialization failure. Every UpdateZone updates its zone's row, so two
// zone writers never both commit a change computed from the same snapshot,
// and never take the same serial. Uniqueness rests on unique indexes and
// single use of enrollments on a conditional UPDATE.
type Postgres struct {
	reader

	pool         *pgxpool.Pool
	journalLimit atomic.Int64
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the PostgreSQL database that databaseURL names
// (postgres://user:password@host:port/database?sslmode=...; pgxpool reads
// pool settings such as pool_max_conns from it) and applies the schema
// migrations this program has and the database lacks. Migrations of several
// programs opening one database at once run one after the other. It returns
// a *SchemaVersionError when the database was migrated by a newer program.
// Error messages do not contain the URL, which may hold a password.
func OpenPostgres(ctx context.Context, databaseURL string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("open PostgreSQL store: the database URL is invalid: see the pgx documentation of connection strings")
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "dnshandle"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open PostgreSQL store on %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}

	p := &Postgres{pool: pool}
	p.reader = reader{q: pgQuerier{pool: pool}}
	list, err := loadMigrations("postgres")
	if err == nil {
		m := migrator{inTx: p.migrationTx, createTable: pgMigrationsTable}
		err = m.migrate(ctx, list)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	return p, nil
}

const pgMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER     PRIMARY KEY,
	name       TEXT        NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL
)`

// migrationTx runs fn in a transaction that holds the migration lock.
func (p *Postgres) migrationTx(ctx context.Context, fn func(q querier) error) error {
	return runPostgresTx(ctx, p.pool, pgx.TxOptions{}, func(q pgQuerier) error {
		if _, err := q.exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		return fn(q)
	})
}

// Ping runs SELECT 1 on a pooled connection and returns its error. It suits
// a readiness check.
func (p *Postgres) Ping(ctx context.Context) error {
	var one int64
	if err := p.reader.q.queryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping PostgreSQL store: %w", err)
	}
	return nil
}

// SetJournalLimit implements JournalLimiter.
func (p *Postgres) SetJournalLimit(weight int) { p.journalLimit.Store(int64(weight)) }

// InTx implements Store. When PostgreSQL aborts the transaction with a
// serialization failure (SQLSTATE 40001) or a deadlock (40P01), InTx rolls
// back and runs fn again in a new transaction. It waits a random time of up
// to 100 ms before each new attempt and makes at most 10 attempts in all.
// It notices such a failure even when fn wraps or replaces the error.
// Because of these retries, fn must not have effects outside tx that cannot
// be repeated.
func (p *Postgres) InTx(ctx context.Context, fn func(tx Tx) error) error {
	for attempt := 1; ; attempt++ {
		var retry bool
		err := runPostgresTx(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(q pgQuerier) error {
			q.retry = &retry
			return fn(&txn{reader: reader{q: q}, journalLimit: int(p.journalLimit.Load())})
		})
		if err == nil {
			return nil
		}
		if !retry && !isRetryable(err) {
			return err
		}
		if attempt == pgMaxAttempts {
			return fmt.Errorf("transaction failed %d times because of concurrent transactions: %w", attempt, err)
		}

		wait := time.Duration(rand.Int64N(int64(min(time.Millisecond<<attempt, pgMaxBackoff))))
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait to retry transaction: %w (last attempt: %w)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// runPostgresTx runs fn in one transaction and commits it when fn returns
// nil.
func runPostgresTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(q pgQuerier) error) (err error) {
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", translatePostgres(err, nil))
	}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(r)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()

	if err := fn(pgQuerier{pool: pool, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", translatePostgres(err, nil))
	}
	return nil
}

// Close implements Store. It waits for connections in use to be released.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// pgQuerier implements querier on the pool, or on a transaction when tx is
// not nil.
type pgQuerier struct {
	pool *pgxpool.Pool
	tx   pgx.Tx

	// retry, when not nil, is set when a statement fails with an error
	// that a new attempt of the transaction may not have.
	retry *bool
}

type pgxRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (q pgQuerier) runner() pgxRunner {
	if q.tx != nil {
		return q.tx
	}
	return q.pool
}

func (q pgQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.runner().Exec(ctx, query, pgArgs(args)...)
	if err != nil {
		return 0, translatePostgres(err, q.retry)
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	rs, err := q.runner().Query(ctx, query, pgArgs(args)...)
	if err != nil {
		return nil, translatePostgres(err, q.retry)
	}
	return pgRows{rs: rs, retry: q.retry}, nil
}

func (q pgQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return pgRow{row: q.runner().QueryRow(ctx, query, pgArgs(args)...), retry: q.retry}
}

// readTx runs fn in a read-only REPEATABLE READ transaction. It reads one
// snapshot, and writers cannot abort it because it writes nothing.
func (q pgQuerier) readTx(ctx context.Context, fn func(q querier) error) error {
	if q.tx != nil {
		return fn(q)
	}
	return runPostgresTx(ctx, q.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(q pgQuerier) error {
		return fn(q)
	})
}

func (q pgQuerier) placeholder(n int) string { return "$" + strconv.Itoa(n) }

// pgArgs turns zero times into NULL.
func pgArgs(args []any) []any {
	for i, a := range args {
		if t, ok := a.(time.Time); ok && t.IsZero() {
			args[i] = nil
		}
	}
	return args
}

type pgRows struct {
	rs    pgx.Rows
	retry *bool
}

func (r pgRows) Next() bool             { return r.rs.Next() }
func (r pgRows) Scan(dest ...any) error { return translatePostgres(r.rs.Scan(dest...), r.retry) }
func (r pgRows) Err() error             { return translatePostgres(r.rs.Err(), r.retry) }
func (r pgRows) Close()                 { r.rs.Close() }

type pgRow struct {
	row   pgx.Row
	retry *bool
}

func (r pgRow) Scan(dest ...any) error { return translatePostgres(r.row.Scan(dest...), r.retry) }

// translatePostgres maps pgx errors to the adapter errors, and sets *retry
// for errors that a new attempt of the transaction may not have.
func translatePostgres(err error, retry *bool) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &driverError{kind: errNoRows, err: err}
	}
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case "23505": // unique_violation
		return &driverError{kind: errUnique, err: err}
	case "23503": // foreign_key_violation
		return &driverError{kind: errForeignKey, err: err}
	case "40001", "40P01": // serialization_failure, deadlock_detected
		if retry != nil {
			*retry = true
		}
	}
	return err
}

// isRetryable reports whether err is a serialization failure or a deadlock.
func isRetryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
}
