package store_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/store/storetest"
)

// openSQLite opens a new SQLite store in a temporary directory.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

func TestSQLiteConformance(t *testing.T) {
	t.Parallel()
	storetest.RunConformance(t, openSQLite)
}

func TestSQLiteReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "test.db")
	st, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	err = st.InTx(t.Context(), func(tx store.Tx) error { return tx.CreateAccount(t.Context(), &store.Account{Name: "alice"}) })
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	again, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("second OpenSQLite: %v", err)
	}
	defer again.Close()
	if _, err := again.AccountByName(t.Context(), "alice"); err != nil {
		t.Errorf("AccountByName after reopening: %v", err)
	}
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "test.db")
	st, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{path, path + "-wal"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(name), perm)
		}
	}
}

func TestSQLiteNewerSchemaRejected(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "test.db")
	st, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	_, err = store.OpenSQLite(t.Context(), path)
	var version *store.SchemaVersionError
	if !errors.As(err, &version) || version.Database != 99 || version.Program < 1 {
		t.Fatalf("OpenSQLite of a newer schema: error %v, want *store.SchemaVersionError at version 99", err)
	}
	if !strings.Contains(err.Error(), "version 99") {
		t.Errorf("error %q does not name the database version", err)
	}
}

func TestOpenChoosesDatabase(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	st, err := store.Open(t.Context(), dir, "")
	if err != nil {
		t.Fatalf("Open with a data directory: %v", err)
	}
	defer st.Close()
	if _, ok := st.(*store.SQLite); !ok {
		t.Errorf("Open without a URL returned %T, want *store.SQLite", st)
	}
	if _, err := os.Stat(filepath.Join(dir, store.SQLiteFileName)); err != nil {
		t.Errorf("database file: %v", err)
	}

	cases := map[string]struct{ dir, url string }{
		"NoDirectoryNoURL": {"", ""},
		"OtherScheme":      {dir, "mysql://user:hunter2@localhost/db"},
		"NoScheme":         {dir, "hunter2@localhost/db"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := store.Open(t.Context(), tc.dir, tc.url)
			if err == nil {
				t.Fatal("Open succeeded, want an error")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the URL's password: %v", err)
			}
		})
	}
}
