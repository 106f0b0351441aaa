//go:build interop && unix

package store_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/store/storetest"
)

// openPostgres opens a store on a new database of srv.
func openPostgres(t *testing.T, srv *storetest.PostgresServer) store.Store {
	t.Helper()
	st, err := store.OpenPostgres(t.Context(), srv.CreateDatabase(t))
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestInteropPostgresConformance(t *testing.T) {
	srv := storetest.StartPostgres(t)
	storetest.RunConformance(t, func(t *testing.T) store.Store { return openPostgres(t, srv) })
}

func TestInteropPostgres(t *testing.T) {
	srv := storetest.StartPostgres(t)

	t.Run("RetriesSerializationFailure", func(t *testing.T) {
		st := openPostgres(t, srv)
		ctx := t.Context()
		must(t, st.InTx(ctx, func(tx store.Tx) error { return tx.CreateZone(ctx, "dhp.test.", 10) }))

		attempts := 0
		err := st.InTx(ctx, func(tx store.Tx) error {
			attempts++
			if _, err := tx.ZoneSerial(ctx, "dhp.test."); err != nil { // takes the snapshot
				return err
			}
			if attempts == 1 {
				// Another transaction changes the zone after the snapshot.
				err := st.InTx(ctx, func(other store.Tx) error {
					_, err := other.UpdateZone(ctx, "dhp.test.", nil, []store.RR{tlsaRR("other.dhp.test.")})
					return err
				})
				if err != nil {
					return fmt.Errorf("concurrent update: %w", err)
				}
			}
			_, err := tx.UpdateZone(ctx, "dhp.test.", nil, []store.RR{tlsaRR("mine.dhp.test.")})
			return err
		})
		must(t, err)
		if attempts != 2 {
			t.Errorf("fn ran %d times, want 2: one aborted by the concurrent update, one committed", attempts)
		}
		serial, err := st.ZoneSerial(ctx, "dhp.test.")
		must(t, err)
		diffs, err := st.Diffs(ctx, "dhp.test.", 10)
		must(t, err)
		if serial != 12 || len(diffs) != 2 || diffs[0].Added[0].Name != "other.dhp.test." || diffs[1].Added[0].Name != "mine.dhp.test." {
			t.Errorf("serial %d and journal %v, want serial 12 with the other update first", serial, diffs)
		}
	})

	t.Run("ConcurrentOpenMigratesOnce", func(t *testing.T) {
		url := srv.CreateDatabase(t)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				st, err := store.Open(t.Context(), "", url)
				if err == nil {
					st.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
			}
		}
	})

	t.Run("NewerSchemaRejected", func(t *testing.T) {
		url := srv.CreateDatabase(t)
		st, err := store.OpenPostgres(t.Context(), url)
		must(t, err)
		st.Close()
		conn, err := pgx.Connect(t.Context(), url)
		must(t, err)
		_, err = conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', now())`)
		conn.Close(t.Context())
		must(t, err)

		_, err = store.OpenPostgres(t.Context(), url)
		var version *store.SchemaVersionError
		if !errors.As(err, &version) || version.Database != 99 {
			t.Fatalf("OpenPostgres of a newer schema: error %v, want *store.SchemaVersionError at version 99", err)
		}
	})

	t.Run("ErrorHidesPassword", func(t *testing.T) {
		_, err := store.Open(t.Context(), "", "postgres://dnshandle:hunter2@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open of an unreachable server: error %v, want one without the password", err)
		}
	})
}

func tlsaRR(name string) store.RR {
	return store.RR{Name: name, Type: dns.TypeTLSA, TTL: 300, Data: "3 1 1 00"}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
