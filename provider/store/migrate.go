package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema migrations of each database, one file per
// version named NNNN_description.sql, numbered from 1 without gaps.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations of one database ("sqlite" or
// "postgres") in version order.
func loadMigrations(database string) ([]migration, error) {
	dir := path.Join("migrations", database)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", database, err)
	}

	var list []migration
	for _, e := range entries {
		number, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(number)
		if !ok || err != nil || version <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %s: name is not NNNN_description.sql", e.Name())
		}
		text, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		list = append(list, migration{version: version, name: e.Name(), sql: string(text)})
	}

	sort.Slice(list, func(i, j int) bool { return list[i].version < list[j].version })
	for i, m := range list {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d where %d was expected", m.name, m.version, i+1)
		}
	}
	return list, nil
}

// migrator applies migrations through a database's write transactions.
type migrator struct {
	// inTx runs fn in a write transaction that no other migrator of the
	// same database runs at the same time: a SQLite write transaction, or
	// a PostgreSQL one that takes an advisory lock first.
	inTx func(ctx context.Context, fn func(q querier) error) error

	// createTable creates schema_migrations when it does not exist.
	createTable string
}

// migrate brings the schema to the newest version of list, applying each
// missing migration in its own transaction and recording it in
// schema_migrations. It returns a *SchemaVersionError when the database has
// a version newer than the last of list.
func (m migrator) migrate(ctx context.Context, list []migration) error {
	err := m.inTx(ctx, func(q querier) error {
		_, err := q.exec(ctx, m.createTable)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	for _, step := range list {
		err := m.inTx(ctx, func(q querier) error {
			current, err := schemaVersion(ctx, q)
			if err != nil {
				return err
			}
			switch {
			case current > len(list):
				return &SchemaVersionError{Database: current, Program: len(list)}
			case current >= step.version:
				return nil
			case current != step.version-1:
				return fmt.Errorf("database schema is at version %d, so migration %s cannot be applied", current, step.name)
			}

			if _, err := q.exec(ctx, step.sql); err != nil {
				return fmt.Errorf("apply migration %s: %w", step.name, err)
			}
			_, err = q.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				step.version, step.name, dbTime(time.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}

	// A database newer than every migration of list is rejected even when
	// no migration was pending.
	return m.inTx(ctx, func(q querier) error {
		current, err := schemaVersion(ctx, q)
		if err == nil && current > len(list) {
			return &SchemaVersionError{Database: current, Program: len(list)}
		}
		return err
	})
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var version int64
	if err := q.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(version), nil
}
