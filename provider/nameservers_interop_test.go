//go:build interop

package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// requireTool returns the path of program, or skips the test with the
// Debian package that provides it.
func requireTool(t *testing.T, program, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		t.Skipf("%s is not installed: install the Debian package %s (scripts/install-interop-deps does)", program, debianPackage)
	}
	return path
}

// buildDnshandle builds the dnshandle command into a temporary directory.
func buildDnshandle(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not in PATH: it builds the dnshandle binary that this test runs")
	}
	bin := filepath.Join(t.TempDir(), "dnshandle")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/dnshandle")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dnshandle: %v\n%s", err, out)
	}
	return bin
}

// freeLoopbackPort returns a port of 127.0.0.1 that was free for TCP and
// UDP a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free loopback port for TCP and UDP")
	return 0
}

// dnshandleRunner runs the dnshandle binary with one configuration file
// and no DNSHANDLE_* variables of the caller's environment.
type dnshandleRunner struct {
	t      *testing.T
	bin    string
	config string
	env    []string
}

func newDnshandleRunner(t *testing.T, bin, config string) *dnshandleRunner {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DNSHANDLE_") {
			env = append(env, kv)
		}
	}
	return &dnshandleRunner{t: t, bin: bin, config: config, env: env}
}

func (r *dnshandleRunner) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.bin, append(args, "--config", r.config)...)
	cmd.Env = r.env
	return cmd
}

// run runs a dnshandle command with stdin and returns its standard output.
func (r *dnshandleRunner) run(stdin string, args ...string) string {
	r.t.Helper()
	cmd := r.command(r.t.Context(), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("dnshandle %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// serve starts "dnshandle serve" and waits until its DNS server answers
// the SOA query of zone at addr. The server is stopped when the test ends.
func (r *dnshandleRunner) serve(addr, zone string) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := r.command(ctx, "serve")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		r.t.Fatalf("start dnshandle serve: %v", err)
	}
	r.t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if r.t.Failed() {
			r.t.Logf("dnshandle serve output:\n%s", logs.String())
		}
	})

	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, _, err := c.Exchange(m, addr); err == nil && resp.Rcode == dns.RcodeSuccess {
			return
		}
	}
	r.t.Fatalf("dnshandle serve did not answer the SOA of %s at %s within 30s:\n%s", zone, addr, logs.String())
}

// digRRs runs dig or kdig with +dnssec against the server and returns the
// records of its answer section.
func digRRs(t *testing.T, dig string, port int, name string, qtype uint16) []dns.RR {
	t.Helper()
	out, err := exec.Command(dig, "@127.0.0.1", "-p", fmt.Sprint(port), "+dnssec", "+norecurse", name, dns.TypeToString[qtype]).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s %s: %v\n%s", filepath.Base(dig), name, dns.TypeToString[qtype], err, out)
	}
	var rrs []dns.RR
	inAnswer := false
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, ";;") {
			inAnswer = strings.Contains(line, "ANSWER SECTION")
			continue
		}
		if !inAnswer || line == "" {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("%s printed an answer line that does not parse: %q: %v", filepath.Base(dig), line, err)
		}
		rrs = append(rrs, rr)
	}
	if len(rrs) == 0 {
		t.Fatalf("%s %s %s printed no answer:\n%s", filepath.Base(dig), name, dns.TypeToString[qtype], out)
	}
	return rrs
}

// checkSigned checks that rrs hold an RRset of qtype with an RRSIG that
// one of the keys verifies, and returns the RRset.
func checkSigned(t *testing.T, rrs []dns.RR, qtype uint16, keys []*dns.DNSKEY) []dns.RR {
	t.Helper()
	var set []dns.RR
	var sig *dns.RRSIG
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.RRSIG:
			if v.TypeCovered == qtype {
				sig = v
			}
		default:
			if rr.Header().Rrtype == qtype {
				set = append(set, rr)
			}
		}
	}
	if len(set) == 0 || sig == nil {
		t.Fatalf("answer lacks the %s RRset or its RRSIG: %v", dns.TypeToString[qtype], rrs)
	}
	for _, k := range keys {
		if k.KeyTag() == sig.KeyTag && sig.Verify(k, set) == nil {
			if !sig.ValidityPeriod(time.Now()) {
				t.Errorf("RRSIG over %s is outside its validity period: %s", dns.TypeToString[qtype], sig)
			}
			return set
		}
	}
	t.Fatalf("no DNSKEY of the zone verifies %s", sig)
	return nil
}

func TestInteropNamedCheckzoneAcceptsExport(t *testing.T) {
	checkzone := requireTool(t, "named-checkzone", "bind9-utils")
	dig, err := exec.LookPath("kdig")
	if err != nil {
		dig = requireTool(t, "dig", "dnsutils")
	}
	bin := buildDnshandle(t)

	dir := t.TempDir()
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	kekFile := filepath.Join(dir, "kek.hex")
	if err := os.WriteFile(kekFile, []byte(hex.EncodeToString(kek)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freeLoopbackPort(t)
	config := filepath.Join(dir, "provider.toml")
	text := fmt.Sprintf(`data = %q
kek_file = %q

[dns]
listen = "127.0.0.1:%d"

[[dns.zones]]
name = "dhp.test"
nameservers = ["ns1.dhp.test", "ns2.dhp.test", "ns.example.net"]
nameserver_addresses = {"ns1.dhp.test" = ["192.0.2.1", "2001:db8::1"], "ns2.dhp.test" = ["198.51.100.2"]}

# ns1.bare.test gets no addresses: allowed while dns.listen is loopback.
[[dns.zones]]
name = "bare.test"

[http]
listen = "127.0.0.1:0"

[acme]
listen = "127.0.0.1:0"
`, filepath.Join(dir, "data"), kekFile, port)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	dh := newDnshandleRunner(t, bin, config)

	dh.run("", "admin", "zone", "create")
	dh.run("a long password here\n", "admin", "account", "create", "alice")
	dh.run("", "admin", "identity", "create", "@alice.dhp.test", "--account", "alice")

	t.Run("ZoneWithAddressesPasses", func(t *testing.T) {
		zoneFile := filepath.Join(dir, "dhp.test.zone")
		if err := os.WriteFile(zoneFile, []byte(dh.run("", "admin", "zone", "export", "dhp.test")), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(checkzone, "-i", "full", "-k", "fail", "-n", "fail", "dhp.test", zoneFile).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK") {
			t.Fatalf("named-checkzone rejected the exported zone dhp.test: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "DNSSEC signed") {
			t.Errorf("named-checkzone did not load dhp.test as a signed zone:\n%s", out)
		}
	})

	// The zone whose name server has no addresses shows that the check
	// above can fail.
	t.Run("ZoneWithoutAddressesFails", func(t *testing.T) {
		zoneFile := filepath.Join(dir, "bare.test.zone")
		if err := os.WriteFile(zoneFile, []byte(dh.run("", "admin", "zone", "export", "bare.test")), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(checkzone, "-i", "full", "bare.test", zoneFile).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "has no address records") {
			t.Errorf("named-checkzone on bare.test = %v, want a failure for ns1.bare.test without addresses:\n%s", err, out)
		}
	})

	t.Run("AddressesAnswerSigned", func(t *testing.T) {
		dh.serve(fmt.Sprintf("127.0.0.1:%d", port), "dhp.test.")
		var keys []*dns.DNSKEY
		for _, rr := range digRRs(t, dig, port, "dhp.test.", dns.TypeDNSKEY) {
			if k, ok := rr.(*dns.DNSKEY); ok {
				keys = append(keys, k)
			}
		}
		tests := []struct {
			name  string
			qtype uint16
			want  []string
		}{
			{"ns1.dhp.test.", dns.TypeA, []string{"192.0.2.1"}},
			{"ns1.dhp.test.", dns.TypeAAAA, []string{"2001:db8::1"}},
			{"ns2.dhp.test.", dns.TypeA, []string{"198.51.100.2"}},
		}
		for _, tc := range tests {
			set := checkSigned(t, digRRs(t, dig, port, tc.name, tc.qtype), tc.qtype, keys)
			var got []string
			for _, rr := range set {
				got = append(got, strings.TrimPrefix(rr.String(), rr.Header().String()))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s %s = %v, want %v", tc.name, dns.TypeToString[tc.qtype], got, tc.want)
			}
		}
	})

	t.Run("DelvValidates", func(t *testing.T) {
		delv := requireTool(t, "delv", "bind9-dnsutils")
		ds := strings.Fields(dh.run("", "admin", "zone", "ds", "dhp.test"))
		if len(ds) != 8 || ds[3] != "DS" {
			t.Fatalf("dnshandle admin zone ds printed %v, want one DS record", ds)
		}
		anchors := filepath.Join(dir, "anchors.conf")
		anchorText := fmt.Sprintf("trust-anchors {\n\t%s static-ds %s %s %s %q;\n};\n", ds[0], ds[4], ds[5], ds[6], ds[7])
		if err := os.WriteFile(anchors, []byte(anchorText), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, q := range [][2]string{{"ns1.dhp.test", "A"}, {"ns1.dhp.test", "AAAA"}, {"nobody.dhp.test", "A"}} {
			out, _ := exec.Command(delv, "@127.0.0.1", "-p", fmt.Sprint(port), "-a", anchors, "+root=dhp.test", q[0], q[1]).CombinedOutput()
			if !strings.Contains(string(out), "fully validated") {
				t.Errorf("delv %s %s did not validate:\n%s", q[0], q[1], out)
			}
		}
	})
}
