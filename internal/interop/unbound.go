package interop

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

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
	var ds []dns.RR
	for _, z := range anchors {
		ds = append(ds, z.DS()...)
	}
	return StartUnboundForZone(tb, ".", upstream, ds)
}

// StartUnboundForZone runs unbound on a loopback port until the test ends,
// as a validating resolver for zone alone: it sends queries for names in
// zone to the authoritative server at upstream ("127.0.0.1:port") and
// validates the answers from the trust anchors, DS or DNSKEY records of
// zone. Use it when the anchors come from a running signer rather than
// from a dnstest.Zone.
func StartUnboundForZone(tb testing.TB, zone, upstream string, anchors []dns.RR) *Unbound {
	tb.Helper()
	unbound := requireProgram(tb, "unbound", "unbound")
	dir := tb.TempDir()
	port := freePort(tb)
	host, upstreamPort, err := net.SplitHostPort(upstream)
	if err != nil {
		tb.Fatalf("upstream %q: %v", upstream, err)
	}

	var anchorText strings.Builder
	for _, a := range anchors {
		anchorText.WriteString(a.String())
		anchorText.WriteByte('\n')
	}
	anchorFile := filepath.Join(dir, "anchors.ds")
	if err := os.WriteFile(anchorFile, []byte(anchorText.String()), 0o644); err != nil {
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
    name: %q
    stub-addr: %s@%s
`, port, dir, filepath.Join(dir, "unbound.pid"), anchorFile, zone, host, upstreamPort)
	confPath := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}

	u := &Unbound{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}
	startServer(tb, exec.Command(unbound, "-d", "-c", confPath), u.Addr, zone)
	return u
}
