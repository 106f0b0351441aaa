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
)

// SecondaryConfig describes one zone that a Knot secondary transfers from
// a primary.
type SecondaryConfig struct {
	// Zone is the apex, such as "dhp.test.".
	Zone string

	// Primary is the primary's "127.0.0.1:port"; transfers go there over
	// TCP and NOTIFY from its address is accepted.
	Primary string

	// TSIGName and TSIGSecret (base64) form the HMAC-SHA256 key that signs
	// transfer requests and that NOTIFY messages must carry.
	TSIGName, TSIGSecret string

	// Port is the loopback port knotd listens on, for a primary that must
	// know where to send NOTIFY before knotd starts; 0 picks a free one.
	Port int
}

// StartKnotSecondary runs knotd on a loopback port until the test ends, as
// a secondary for cfg.Zone: it transfers the zone from cfg.Primary over
// AXFR, then over IXFR after each NOTIFY, with every request signed by the
// TSIG key. knotd validates each version of the zone it receives (every
// RRset signed, the DNSKEY RRset signed by a KSK, the NSEC3 chain complete
// with correct bitmaps and links) and keeps serving the previous version
// when the new one fails. The returned Knot.Addr answers as soon as knotd
// runs, possibly before the first transfer has finished.
func StartKnotSecondary(tb testing.TB, cfg SecondaryConfig) *Knot {
	tb.Helper()
	knotd := requireProgram(tb, "knotd", "knot")
	dir := tb.TempDir()
	port := cfg.Port
	if port == 0 {
		port = freePort(tb)
	}
	host, primaryPort, err := net.SplitHostPort(cfg.Primary)
	if err != nil {
		tb.Fatalf("primary %q: %v", cfg.Primary, err)
	}
	key := dns.CanonicalName(cfg.TSIGName)

	var conf strings.Builder
	fmt.Fprintf(&conf, "server:\n    rundir: %q\n    listen: 127.0.0.1@%d\n", dir, port)
	fmt.Fprintf(&conf, "log:\n  - target: stderr\n    any: info\n")
	fmt.Fprintf(&conf, "database:\n    storage: %q\n", dir)
	fmt.Fprintf(&conf, "key:\n  - id: %s\n    algorithm: hmac-sha256\n    secret: %s\n", key, cfg.TSIGSecret)
	fmt.Fprintf(&conf, "remote:\n  - id: primary\n    address: %s@%s\n    key: %s\n", host, primaryPort, key)
	fmt.Fprintf(&conf, "acl:\n  - id: notify-from-primary\n    address: %s\n    key: %s\n    action: notify\n", host, key)
	fmt.Fprintf(&conf, "template:\n  - id: default\n    storage: %q\n    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: changes\n    semantic-checks: on\n", dir)
	fmt.Fprintf(&conf, "zone:\n  - domain: %q\n    master: primary\n    acl: notify-from-primary\n    dnssec-validation: on\n", cfg.Zone)

	confPath := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	k := &Knot{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}
	startServer(tb, exec.Command(knotd, "-c", confPath), k.Addr, cfg.Zone)
	return k
}
