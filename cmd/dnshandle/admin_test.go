package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider"
)

// adminArgs returns the flags that point admin commands at a fresh store
// with the zone dhp.test, keyed by a KEK file.
func adminArgs(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	kekFile := filepath.Join(dir, "kek.hex")
	if err := os.WriteFile(kekFile, []byte(hex.EncodeToString(kek)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--data", filepath.Join(dir, "data"), "--kek-file", kekFile, "--zone", "dhp.test"}
}

func TestAdminCommands(t *testing.T) {
	args := adminArgs(t)
	run := func(t *testing.T, stdin string, sub ...string) string {
		t.Helper()
		return mustRun(t, stdin, adminCommand(args, sub...)...)
	}

	if out := run(t, "", "zone", "create"); !strings.Contains(out, "zone dhp.test. created") {
		t.Errorf("zone create:\n%s", out)
	}
	if out := run(t, "correct horse battery staple\n", "account", "create", "alice"); !strings.Contains(out, `account "alice" created`) {
		t.Errorf("account create:\n%s", out)
	}
	out := run(t, "", "identity", "create", "@alice.dhp.test", "--account", "alice")
	if !strings.Contains(out, "records published in the provider zone") || !strings.Contains(out, "alice.dhp.test.\t300\tIN\tTLSA\t2 1 1 ") {
		t.Errorf("identity create:\n%s", out)
	}
	out = run(t, "", "identity", "create", "bob.example.com", "--account", "alice")
	if !strings.Contains(out, "publish these records in the zone of bob.example.com") {
		t.Errorf("identity create for an own domain:\n%s", out)
	}
	out = run(t, "", "account", "list")
	if !regexp.MustCompile(`alice +2 +20`).MatchString(out) {
		t.Errorf("account list:\n%s", out)
	}
	out = run(t, "", "identity", "list")
	if !strings.Contains(out, "ACCOUNT") || !regexp.MustCompile(`alice\.dhp\.test +alice +true`).MatchString(out) || !strings.Contains(out, "bob.example.com") {
		t.Errorf("identity list:\n%s", out)
	}

	out = run(t, "", "zone", "ds", "dhp.test")
	if !strings.Contains(out, "dhp.test.\t") || !strings.Contains(out, "IN\tDS\t") {
		t.Errorf("zone ds:\n%s", out)
	}
	out = run(t, "", "zone", "export", "dhp.test")
	zp := dns.NewZoneParser(strings.NewReader(out), "", "")
	types := map[uint16]int{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		types[rr.Header().Rrtype]++
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone export is not zone-file text: %v\n%s", err, out)
	}
	for _, typ := range []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeNSEC3PARAM, dns.TypeNSEC3, dns.TypeRRSIG, dns.TypeTLSA, dns.TypeTXT} {
		if types[typ] == 0 {
			t.Errorf("zone export has no %s record", dns.TypeToString[typ])
		}
	}
	if types[dns.TypeTLSA] != 1 {
		t.Errorf("zone export has %d TLSA records, want 1 (the own-domain handle is not in the zone)", types[dns.TypeTLSA])
	}

	out = run(t, "", "identity", "delete", "@bob.example.com", "--yes")
	if !strings.Contains(out, "identity @bob.example.com deleted") || !strings.Contains(out, "remove the TLSA record at bob.example.com.") {
		t.Errorf("identity delete of an own domain:\n%s", out)
	}
	out = run(t, "", "identity", "delete", "alice.dhp.test", "--account", "alice", "--yes")
	if !strings.Contains(out, "identity @alice.dhp.test deleted") || !strings.Contains(out, "its records left zone dhp.test.") {
		t.Errorf("identity delete of a hosted handle:\n%s", out)
	}
	if out := run(t, "", "zone", "export", "dhp.test"); strings.Contains(out, "TLSA") {
		t.Errorf("zone export after the deletion still has a TLSA record:\n%s", out)
	}

	run(t, "", "identity", "create", "@carol.dhp.test", "--account", "alice")
	out = run(t, "", "account", "delete", "alice", "--yes")
	if !strings.Contains(out, `account "alice" deleted with 1 identity`) || !strings.Contains(out, "@carol.dhp.test: records left zone dhp.test.") {
		t.Errorf("account delete:\n%s", out)
	}

	out = run(t, "", "audit")
	for _, action := range []string{"zone.create", "account.create", "identity.create", "identity.delete", "account.delete"} {
		if !strings.Contains(out, action) {
			t.Errorf("audit lacks %s:\n%s", action, out)
		}
	}
	if strings.Contains(out, "correct horse") {
		t.Errorf("audit shows the password:\n%s", out)
	}
}

func TestAdminErrors(t *testing.T) {
	args := adminArgs(t)
	mustRun(t, "", adminCommand(args, "zone", "create")...)
	tests := []struct {
		name  string
		stdin string
		sub   []string
		want  string
	}{
		{"no password", "", []string{"account", "create", "x"}, "no password given"},
		{"short password", "short\n", []string{"account", "create", "x"}, "shorter than 12"},
		{"no account flag", "", []string{"identity", "create", "a.dhp.test"}, "missing --account"},
		{"unknown account", "", []string{"identity", "create", "a.dhp.test", "--account", "nobody"},
			`account "nobody": not found: create it with dnshandle admin account create nobody`},
		{"identities of unknown account", "", []string{"identity", "list", "--account", "Nobody"},
			`account "nobody": not found: create it with dnshandle admin account create nobody`},
		{"code for unknown identity", "", []string{"device", "code", "@alcie.dhp.test", "--label", "x"},
			"identity alcie.dhp.test: not found: see the identities with dnshandle admin identity list"},
		{"devices of unknown identity", "", []string{"device", "list", "@alcie.dhp.test"},
			"identity alcie.dhp.test: not found: see the identities with dnshandle admin identity list"},
		{"reserved TLD", "", []string{"identity", "create", "a.local", "--account", "x"}, "reserved TLD"},
		{"delete without --yes", "", []string{"identity", "delete", "a.dhp.test"}, "run the command again with --yes"},
		{"delete account without --yes", "", []string{"account", "delete", "x"}, "run the command again with --yes"},
		{"delete unknown account", "", []string{"account", "delete", "Nobody", "--yes"}, `account "nobody": not found`},
		{"delete unknown identity", "", []string{"identity", "delete", "@alcie.dhp.test", "--yes"},
			"identity alcie.dhp.test: not found: see the identities with dnshandle admin identity list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCommandInput(t, tc.stdin, adminCommand(args, tc.sub...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("admin %v = %v, want an error containing %q", tc.sub, err, tc.want)
			}
			if err != nil && strings.Count(err.Error(), "not found") > 1 {
				t.Errorf("admin %v = %v, which says not found twice", tc.sub, err)
			}
		})
	}
}

func TestAdminWithoutKEK(t *testing.T) {
	t.Setenv("DNSHANDLE_KEK", "")
	_, err := runCommand(t, "admin", "zone", "create", "--data", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "DNSHANDLE_KEK") {
		t.Errorf("admin without a key-encryption key = %v, want an error saying how to give one", err)
	}
}

func TestAdminUsesStoredZonesAndChecksKEK(t *testing.T) {
	args := adminArgs(t) // --data DIR --kek-file FILE --zone dhp.test
	base := args[:4]
	run := func(stdin string, extra []string, sub ...string) (string, error) {
		return runCommandInput(t, stdin, adminCommand(extra, sub...)...)
	}
	if out, err := run("", args, "zone", "create"); err != nil {
		t.Fatalf("zone create: %v\n%s", err, out)
	}
	if out, err := run("correct horse battery staple\n", base, "account", "create", "alice"); err != nil {
		t.Fatalf("account create: %v\n%s", err, out)
	}

	// Without --zone, the zone in the store still hosts the handle.
	out, err := run("", base, "identity", "create", "@carol.dhp.test", "--account", "alice")
	if err != nil || !strings.Contains(out, "records published in the provider zone") {
		t.Errorf("identity create without --zone: %v\n%s", err, out)
	}

	// A different key-encryption key is rejected before anything is written.
	wrong := filepath.Join(t.TempDir(), "wrong.hex")
	if err := os.WriteFile(wrong, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run("", []string{"--data", args[1], "--kek-file", wrong}, "identity", "create", "@bob.dhp.test", "--account", "alice")
	if err == nil || !strings.Contains(err.Error(), "does not open the keys of zone dhp.test.") {
		t.Fatalf("identity create with the wrong KEK = %v, want it rejected\n%s", err, out)
	}
	out, err = run("", base, "identity", "list")
	if err != nil || strings.Contains(out, "bob.dhp.test") {
		t.Errorf("identity list after the rejected creation: %v\n%s", err, out)
	}
}

func TestAdminRefusesMissingStore(t *testing.T) {
	t.Setenv("DNSHANDLE_DATA", "")
	t.Setenv("DNSHANDLE_DATABASE", "")
	args := adminArgs(t) // --data DIR/data --kek-file FILE --zone dhp.test
	mustRun(t, "", adminCommand(args, "zone", "create")...)
	kekArgs := args[2:4]
	mistyped := args[1] + "x"
	work := t.TempDir()
	t.Chdir(work)

	tests := []struct {
		name    string
		args    []string
		db      string // the database file the error names
		missing string // the directory that must stay absent
	}{
		{"mistyped --data", adminCommand(append([]string{"--data", mistyped}, kekArgs...), "device", "code", "@alice.dhp.test", "--label", "x"),
			filepath.Join(mistyped, "dnshandle.db"), mistyped},
		{"no --data", adminCommand(kekArgs, "identity", "list"),
			filepath.Join("dnshandle-data", "dnshandle.db"), filepath.Join(work, "dnshandle-data")},
		{"audit with mistyped --data", adminCommand(append([]string{"--data", mistyped}, kekArgs...), "audit"),
			filepath.Join(mistyped, "dnshandle.db"), mistyped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCommand(t, tc.args...)
			if err == nil {
				t.Fatalf("admin on a missing store succeeded:\n%s", out)
			}
			for _, want := range []string{"no provider store at " + tc.db + ":", "--data", "dnshandle serve"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if _, err := os.Stat(tc.missing); !os.IsNotExist(err) {
				t.Errorf("the command created %s (stat: %v)", tc.missing, err)
			}
		})
	}
}

func TestAdminCreatesStoreOnFirstAccount(t *testing.T) {
	args := adminArgs(t)
	out := mustRun(t, "a long password here\n", adminCommand(args, "account", "create", "alice")...)
	if !strings.Contains(out, `account "alice" created`) {
		t.Errorf("account create on a new data directory:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(args[1], "dnshandle.db")); err != nil {
		t.Errorf("account create made no store: %v", err)
	}
}

func TestRequireSQLiteStoreIgnoresPostgres(t *testing.T) {
	cfg := &provider.Config{DataDir: filepath.Join(t.TempDir(), "absent"), Database: "postgres://dnshandle@127.0.0.1/dnshandle"}
	if err := requireSQLiteStore(cfg); err != nil {
		t.Errorf("requireSQLiteStore with a PostgreSQL URL = %v, want nil", err)
	}
	cfg.Database = ""
	if err := requireSQLiteStore(cfg); err == nil {
		t.Error("requireSQLiteStore without the SQLite file = nil, want an error")
	}
}

// A hosted identity before its zone exists gets advice, not a bare store
// error.
func TestAdminIdentityBeforeZone(t *testing.T) {
	args := adminArgs(t)
	mustRun(t, "correct horse battery staple\n", adminCommand(args, "account", "create", "alice")...)
	_, err := runCommandInput(t, "", adminCommand(args, "identity", "create", "a.dhp.test", "--account", "alice")...)
	want := "zone dhp.test. is configured but not created yet: start dnshandle serve, or run dnshandle admin zone create"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("identity create before zone create = %v, want %q", err, want)
	}
}

// Without a key for an existing store, the advice is to give its key, not
// to make a new one.
func TestAdminExistingStoreWithoutKEK(t *testing.T) {
	args := adminArgs(t)
	mustRun(t, "", adminCommand(args, "zone", "create")...)
	t.Setenv("DNSHANDLE_KEK", "")
	os.Unsetenv("DNSHANDLE_KEK")
	_, err := runCommand(t, "admin", "zone", "list", "--data", args[1])
	if err == nil || !strings.Contains(err.Error(), "exists, so give the key it was created with") {
		t.Errorf("admin on an existing store without a key = %v, want advice to give its key", err)
	}
}
