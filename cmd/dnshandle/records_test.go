package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// runCommand runs the root command with args and returns what it printed.
func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCommandInput(t, "", args...)
}

// runCommandInput is runCommand with stdin as standard input.
func runCommandInput(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// mustRun is runCommandInput that fails t when the command fails.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := runCommandInput(t, stdin, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return out
}

// adminCommand returns the arguments of "dnshandle admin SUB... FLAGS...".
func adminCommand(flags []string, sub ...string) []string {
	return append(append([]string{"admin"}, sub...), flags...)
}

func writeCSC(t *testing.T, name string) (string, *pki.CSC) {
	t.Helper()
	h, err := handle.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	csc, err := pki.NewCSC(rand.Reader, h, pki.CSCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "csc.pem")
	if err := os.WriteFile(path, pki.EncodeCertificates(csc.Certificate), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, csc
}

func TestRecordsCommandZone(t *testing.T) {
	path, csc := writeCSC(t, "alice.example.com")

	out, err := runCommand(t, "records", "@Alice.Example.COM", "--csc", path, "--oauth", "dhp.example.com", "--ttl", "600")
	if err != nil {
		t.Fatalf("records: %v\n%s", err, out)
	}

	var got []string
	zp := dns.NewZoneParser(strings.NewReader(out), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if rr.Header().Ttl != 600 {
			t.Errorf("TTL of %q = %d, want 600", rr, rr.Header().Ttl)
		}
		got = append(got, rr.String())
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("output is not valid zone-file text: %v\n%s", err, out)
	}
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3:\n%s", len(got), out)
	}
	if !strings.Contains(got[0], "alice.example.com.\t600\tIN\tTLSA\t2 1 1 ") {
		t.Errorf("first record = %q, want the 2 1 1 TLSA at alice.example.com.", got[0])
	}
	if want := `"did=` + csc.DID.String() + `"`; !strings.Contains(out, want) {
		t.Errorf("output lacks %s:\n%s", want, out)
	}
	if !strings.Contains(out, `"oauth=https://dhp.example.com"`) {
		t.Errorf("output lacks the oauth= record:\n%s", out)
	}
}

func TestRecordsCommandErrors(t *testing.T) {
	path, _ := writeCSC(t, "alice.example.com")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"reserved TLD", []string{"records", "alice.local", "--csc", path}, "reserved TLD .local"},
		{"missing csc", []string{"records", "alice.example.com"}, "missing --csc"},
		{"csc of other handle", []string{"records", "bob.example.com", "--csc", path}, `CSC of "alice.example.com"`},
		{"bad DID", []string{"records", "alice.example.com", "--csc", path, "--did", "did:key:x"}, "invalid DID"},
		{"http issuer", []string{"records", "alice.example.com", "--csc", path, "--oauth", "http://idp.test"}, "is not https"},
		{"no such file", []string{"records", "alice.example.com", "--csc", path + ".missing"}, "no such file"},
		{"two handles", []string{"records", "a.test", "b.test", "--csc", path}, "accepts 1 arg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCommand(t, tc.args...)
			if err == nil {
				t.Fatalf("records %v succeeded, want an error; output:\n%s", tc.args, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}
