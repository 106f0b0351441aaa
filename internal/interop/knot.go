package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/internal/dnstest"
)

// Knot is a running knotd that serves zones as an authoritative server.
type Knot struct {
	// Addr is "127.0.0.1:port", for UDP and TCP.
	Addr string
	// Dir holds the configuration, the zone files and knotd's state.
	Dir string
}

// StartKnot writes zones to files and serves them with knotd on a loopback
// port until the test ends. The zones are served as they are, signatures
// included: knotd does no signing of its own.
func StartKnot(tb testing.TB, zones ...*dnstest.Zone) *Knot {
	tb.Helper()
	knotd := requireProgram(tb, "knotd", "knot")
	dir := tb.TempDir()
	port := freePort(tb)

	var conf strings.Builder
	fmt.Fprintf(&conf, "server:\n    rundir: %q\n    listen: 127.0.0.1@%d\n", dir, port)
	fmt.Fprintf(&conf, "log:\n  - target: stderr\n    any: info\n")
	fmt.Fprintf(&conf, "database:\n    storage: %q\n", dir)
	fmt.Fprintf(&conf, "template:\n  - id: default\n    storage: %q\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n    semantic-checks: off\n", dir)
	fmt.Fprintf(&conf, "zone:\n")
	for i, z := range zones {
		file := filepath.Join(dir, fmt.Sprintf("zone%d.db", i))
		if err := z.WriteFile(file); err != nil {
			tb.Fatalf("write zone %s: %v", z.Origin, err)
		}
		fmt.Fprintf(&conf, "  - domain: %q\n    file: %q\n", z.Origin, file)
	}
	confPath := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		tb.Fatal(err)
	}

	k := &Knot{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}
	startServer(tb, exec.Command(knotd, "-c", confPath), k.Addr, zones[0].Origin)
	return k
}
