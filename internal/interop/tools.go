package interop

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireProgram returns the path of the program name, or skips tb with a
// message naming the Debian package that provides it.
func RequireProgram(tb testing.TB, name, debianPackage string) string {
	tb.Helper()
	return requireProgram(tb, name, debianPackage)
}

// RunProgram runs name with args, its environment extended by env, and
// fails tb with the program's output when it exits with an error.
func RunProgram(tb testing.TB, env []string, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// ArtifactDir returns the directory for files a test keeps for people to
// look at, such as screenshots. It is $DNSHANDLE_ARTIFACTS, created if
// needed, or else a temporary directory of tb.
func ArtifactDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("DNSHANDLE_ARTIFACTS")
	if dir == "" {
		return tb.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}
