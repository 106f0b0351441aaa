package client

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestEnrollOptionsResolve(t *testing.T) {
	t.Parallel()
	code := validCode().String()
	cases := []struct {
		name   string
		opts   EnrollOptions
		option string
	}{
		{"no dir", EnrollOptions{Code: code}, "Dir"},
		{"handle differs from code", EnrollOptions{Code: code, Dir: "d", Handle: "bob.dhp.test"}, "Handle"},
		{"no directory URL", EnrollOptions{Dir: "d", Handle: "alice.dhp.test", EABKeyID: "k", EABKey: []byte{1}}, "DirectoryURL"},
		{"no handle", EnrollOptions{Dir: "d", DirectoryURL: "https://dhp.test/d", EABKeyID: "k", EABKey: []byte{1}}, "Handle"},
		{"no EAB", EnrollOptions{Dir: "d", DirectoryURL: "https://dhp.test/d", Handle: "alice.dhp.test"}, "EABKeyID"},
		{"bad handle", EnrollOptions{Dir: "d", DirectoryURL: "https://dhp.test/d", Handle: "alice.local", EABKeyID: "k", EABKey: []byte{1}}, "Handle"},
		{"plain http", EnrollOptions{Dir: "d", DirectoryURL: "http://dhp.test/d", Handle: "alice.dhp.test", EABKeyID: "k", EABKey: []byte{1}}, "DirectoryURL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.opts.resolve()
			var oerr *OptionError
			if !errors.As(err, &oerr) || oerr.Option != tc.option {
				t.Fatalf("error %v, want *OptionError for %s", err, tc.option)
			}
		})
	}

	_, err := (&EnrollOptions{Code: "dnshandle-enroll:v9:x", Dir: "d"}).resolve()
	var cerr *CodeError
	if !errors.As(err, &cerr) {
		t.Errorf("bad code: %v, want *CodeError", err)
	}
}

func TestListReportsBrokenDevice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := filepath.Join(dir, "alice.dhp.test")
	if err := os.MkdirAll(broken, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, MetaFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "not-a-device"), 0o700); err != nil {
		t.Fatal(err)
	}

	devices, err := List(dir)
	var serr *StoreError
	if len(devices) != 0 || !errors.As(err, &serr) || serr.Dir != broken {
		t.Fatalf("List = %v, %v; want no devices and a *StoreError for %s", devices, err, broken)
	}

	devices, err = List(filepath.Join(dir, "missing"))
	if devices != nil || err != nil {
		t.Errorf("List of a missing directory = %v, %v", devices, err)
	}
}
