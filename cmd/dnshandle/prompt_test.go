package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCommandFrom is runCommand with in as standard input.
func runCommandFrom(t *testing.T, in io.Reader, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(in)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// openDevNull opens /dev/null for reading, as a shell does for "< /dev/null".
func openDevNull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestTerminal(t *testing.T) {
	t.Run("null device", func(t *testing.T) {
		if _, ok := terminal(openDevNull(t)); ok {
			t.Errorf("%s is taken for a terminal", os.DevNull)
		}
	})
	t.Run("regular file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "input")
		if err := os.WriteFile(path, []byte("1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, ok := terminal(f); ok {
			t.Error("a regular file is taken for a terminal")
		}
	})
	t.Run("reader", func(t *testing.T) {
		if _, ok := terminal(strings.NewReader("1\n")); ok {
			t.Error("a strings.Reader is taken for a terminal")
		}
	})
	t.Run("pseudo-terminal", func(t *testing.T) {
		// The master side of a pseudo-terminal has termios settings.
		f, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
		if err != nil {
			t.Skipf("no pseudo-terminal to test with: %v", err)
		}
		defer f.Close()
		if _, ok := terminal(f); !ok {
			t.Error("a pseudo-terminal is not taken for a terminal")
		}
	})
}

func TestNullStdinIsNoTerminal(t *testing.T) {
	devices := t.TempDir()
	chain, key := unpublishedDevice(t, "alice.dhp.test")
	installDevice(t, devices, "alice.dhp.test", chain, key)

	t.Run("device export", func(t *testing.T) {
		out, err := runCommandFrom(t, openDevNull(t), "device", "export", "@alice.dhp.test", "--dir", devices, "--out", filepath.Join(t.TempDir(), "a.p12"))
		if err == nil || !strings.Contains(err.Error(), "no password given") {
			t.Errorf("export with %s as standard input = %v, want the error for no password on standard input\n%s", os.DevNull, err, out)
		}
	})
	t.Run("get", func(t *testing.T) {
		out, err := runCommandFrom(t, openDevNull(t), "get", "https://127.0.0.1:1/", "--dir", devices)
		if err == nil || !strings.Contains(err.Error(), "no handle is chosen for https://127.0.0.1:1") || !strings.Contains(err.Error(), "--handle") {
			t.Errorf("get with %s as standard input = %v, want the error that asks for --handle\n%s", os.DevNull, err, out)
		}
		if strings.Contains(out, "Which handle should") {
			t.Errorf("get prompted on %s:\n%s", os.DevNull, out)
		}
	})
}
