package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// SQLiteFileName is the name of the SQLite database file that Open uses in
// the data directory.
const SQLiteFileName = "dnshandle.db"

// Open opens the store that databaseURL names. A URL with the scheme
// "postgres" or "postgresql" opens PostgreSQL (see OpenPostgres). An empty
// URL opens SQLite in the file dnshandle.db of dataDir, and Open creates
// dataDir with mode 0700 when it does not exist. Any other URL is an error,
// so a mistyped URL does not silently fall back to SQLite.
func Open(ctx context.Context, dataDir, databaseURL string) (Store, error) {
	if databaseURL != "" {
		u, err := url.Parse(databaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			// The URL may hold a password, so the message does not quote it.
			return nil, fmt.Errorf("open store: the database URL is not a postgres:// or postgresql:// URL: leave it empty to use SQLite in the data directory")
		}
		return OpenPostgres(ctx, databaseURL)
	}

	if dataDir == "" {
		return nil, fmt.Errorf("open store: no data directory and no database URL given: set one of them")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: create data directory: %w", err)
	}
	return OpenSQLite(ctx, filepath.Join(dataDir, SQLiteFileName))
}
