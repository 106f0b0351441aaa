package interop

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dnshandle/dnshandle/internal/dnstest"
)

// Unbound is a running validating resolver.
type Unbound struct {
	// Addr is "127.0.0.1:port", for UDP and TCP.
	Addr string
	// Dir holds the configuration and the trust anchor file.
	Dir string
}

// StartUnbound runs unbound on a loopback port until the test ends, as a
// validating resolver whose only trust anchors are the DS records of
// anchors. It sends every query to the authoritative server at upstream
// ("127.0.0.1:port"), configured as a stub for the root. Extended DNS
// errors (RFC 8914) are on, so a bogus answer carries the reason with its
// SERVFAIL.
func StartUnbound(tb testing.TB, upstream string, anchors ...*dnstest.Zone) *Unbound {
	tb.Helper()
	unbound := requireProgram(tb, "unbound", "unbound")
	dir := tb.TempDir()
	port := freePort(tb)
	host, upstreamPort, err := net.SplitHostPort(upstream)
	if err != nil {
		tb.Fatalf("upstream %q: %v", upstream, err)
	}

	anchorFile := filepath.Join(dir, "anchors.ds")
	if err := dnstest.WriteAnchorFile(anchorFile, anchors...); err != nil {
		tb.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
    interface: 127.0.0.1
    port: %d
    do-daemonize: no
    username: ""
    chroot: ""
    directory: %q
    pidfile: %q
    use-syslog: no
    logfile: ""
    verbosity: 1
    val-log-level: 2
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    module-config: "validator iterator"
    trust-anchor-file: %q
    ede: yes
    qname-minimisation: no
    harden-referral-path: no
    root-hints: ""
    # unbound answers NXDOMAIN for names under test. (RFC 6761) unless told
    # not to; the test zones live there.
    local-zone: "test." nodefault
stub-zone:
    name: "."
    stub-addr: %s@%s
`, port, dir, filepath.Join(dir, "unbound.pid"), anchorFile, host, upstreamPort)
	confPath := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}

	u := &Unbound{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}
	startServer(tb, exec.Command(unbound, "-d", "-c", confPath), u.Addr, ".")
	return u
}
