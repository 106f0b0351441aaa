package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminImport(t *testing.T) {
	args := adminArgs(t)
	run := func(t *testing.T, stdin string, sub ...string) string {
		t.Helper()
		return mustRun(t, stdin, adminCommand(args, sub...)...)
	}
	run(t, "", "zone", "create")
	run(t, "correct horse battery staple\n", "account", "create", "alice")

	list := filepath.Join(t.TempDir(), "handles.txt")
	if err := os.WriteFile(list, []byte("# handles to import\nh1.dhp.test\n\n@h2.dhp.test\nh3.dhp.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, "", "import", list, "--account", "alice")
	if !strings.Contains(out, "imported 3 identities") || !strings.Contains(out, "zone dhp.test. at serial ") {
		t.Errorf("import:\n%s", out)
	}
	out = run(t, "", "identity", "list")
	for _, h := range []string{"h1.dhp.test", "h2.dhp.test", "h3.dhp.test"} {
		if !strings.Contains(out, h) {
			t.Errorf("identity list lacks %s:\n%s", h, out)
		}
	}

	// Standard input, and a list that fails as a whole.
	out = run(t, "h4.dhp.test\n", "import", "-", "--account", "alice")
	if !strings.Contains(out, "imported 1 identities") {
		t.Errorf("import from standard input:\n%s", out)
	}
	if out, err := runCommandInput(t, "h5.dhp.test\nh1.dhp.test\n", adminCommand(args, "import", "-", "--account", "alice")...); err == nil || !strings.Contains(err.Error(), "already taken") {
		t.Errorf("import of a taken handle: %v\n%s", err, out)
	}
	if out := run(t, "", "identity", "list"); strings.Contains(out, "h5.dhp.test") {
		t.Errorf("h5 exists after a failed import:\n%s", out)
	}
}
