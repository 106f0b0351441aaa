package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func openTestSQLite(t *testing.T) *SQLite {
	t.Helper()
	st, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestSQLiteConnectionSettings(t *testing.T) {
	t.Parallel()
	st := openTestSQLite(t)
	ctx := t.Context()
	cases := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	}
	for _, db := range []struct {
		name string
		q    querier
	}{{"writer", sqliteQuerier{db: st.writer}}, {"reader", st.reader.q}} {
		for _, tc := range cases {
			var got string
			if err := db.q.queryRow(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", db.name, tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("%s connection: PRAGMA %s = %s, want %s", db.name, tc.pragma, got, tc.want)
			}
		}
	}

	var queryOnly string
	if err := st.reader.q.queryRow(ctx, "PRAGMA query_only").Scan(&queryOnly); err != nil || queryOnly != "1" {
		t.Errorf("reader connection: PRAGMA query_only = %s, %v; want 1", queryOnly, err)
	}
}

// TestSQLiteQueryPlans checks that the queries that must stay fast on a
// large zone search an index and neither scan a table nor sort the walk.
func TestSQLiteQueryPlans(t *testing.T) {
	t.Parallel()
	st := openTestSQLite(t)
	key := []byte("test\x00dhp\x00")
	cases := []struct {
		name   string
		query  string
		args   []any
		noSort bool
	}{
		{"LookupName", `SELECT ` + rrColumns + ` FROM records WHERE zone = $1 AND owner_key = $2 ORDER BY type, covered, data`,
			[]any{"dhp.test.", key}, true},
		{"NSEC3AtOrBefore", nsec3AtOrBeforeQuery, []any{"dhp.test.", "abc"}, true},
		{"NSEC3Last", nsec3LastQuery, []any{"dhp.test."}, true},
		{"NameExistsBelow", `SELECT 1 FROM records WHERE zone = $1 AND owner_key > $2 AND owner_key < $3 LIMIT 1`,
			[]any{"dhp.test.", key, subtreeEnd(key)}, true},
		{"WalkFirstBatch", `SELECT ` + keyedColumns + ` FROM records WHERE zone = $1 ORDER BY owner_key, type, covered, data LIMIT $2`,
			[]any{"dhp.test.", walkBatch}, true},
		{"WalkNextBatch", `SELECT ` + keyedColumns + ` FROM records WHERE zone = $1 AND owner_key > $2 ORDER BY owner_key, type, covered, data LIMIT $3`,
			[]any{"dhp.test.", key, walkBatch}, true},
		{"DeleteRecord", `DELETE FROM records WHERE zone = $1 AND owner_key = $2 AND type = $3 AND covered = $4 AND data = $5 RETURNING ttl`,
			[]any{"dhp.test.", key, 52, 0, "x"}, true},
		{"JournalStart", `SELECT seq FROM zone_journal WHERE zone = $1 AND from_serial = $2 ORDER BY seq DESC LIMIT 1`,
			[]any{"dhp.test.", 5}, false},
		{"JournalSteps", `SELECT from_serial, to_serial, deleted, added FROM zone_journal WHERE zone = $1 AND seq >= $2 ORDER BY seq`,
			[]any{"dhp.test.", 5}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan := queryPlan(t, st, tc.query, tc.args...)
			for _, step := range plan {
				// A SCAN of a subquery (a co-routine) reads its one row.
				table, _, _ := strings.Cut(strings.TrimPrefix(step, "SCAN "), " ")
				if strings.HasPrefix(step, "SCAN ") && (table == "records" || table == "zone_journal" || table == "zones") {
					t.Errorf("plan scans a table: %q in %q", step, plan)
				}
				if tc.noSort && strings.Contains(step, "TEMP B-TREE") {
					t.Errorf("plan sorts: %q in %q", step, plan)
				}
			}
		})
	}
}

func queryPlan(t *testing.T, st *SQLite, query string, args ...any) []string {
	t.Helper()
	rs, err := st.reader.q.query(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
	}
	defer rs.Close()
	var plan []string
	for rs.Next() {
		var id, parent, unused int64
		var detail string
		if err := rs.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
