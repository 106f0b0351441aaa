package interop

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// requireProgram returns the path of name or skips tb with a message naming
// the Debian package that provides it.
func requireProgram(tb testing.TB, name, debianPackage string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Skipf("%s not found: install the Debian package %s (make interop does) to run this test", name, debianPackage)
	}
	return path
}

// freePort returns a loopback port that was free for both UDP and TCP a
// moment ago. Another process may take it before the server binds it; the
// server start then fails and the test reports it.
func freePort(tb testing.TB) int {
	tb.Helper()
	for range 20 {
		tcp, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("find a free port: %v", err)
		}
		port := tcp.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		tcp.Close()
		if err != nil {
			continue
		}
		udp.Close()
		return port
	}
	tb.Fatalf("no loopback port free for both UDP and TCP after 20 tries")
	return 0
}

// LockedBuffer collects a process's output for a failure message; the
// process's output goroutine and the test may use it at once.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs cmd until the test ends and waits until the server at
// addr responds to a DNS query for probe (any rcode counts). It fails tb with the server's
// output when the server exits or does not answer within 15 seconds.
func startServer(tb testing.TB, cmd *exec.Cmd, addr, probe string) {
	tb.Helper()
	out := &LockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		exitErr := <-exited
		if tb.Failed() {
			tb.Logf("output of %s (%v):\n%s", cmd.Path, exitErr, out.String())
		}
	})

	deadline := time.Now().Add(15 * time.Second)
	client := &dns.Client{Net: "tcp", Timeout: 500 * time.Millisecond}
	query := new(dns.Msg)
	query.SetQuestion(dns.Fqdn(probe), dns.TypeSOA)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			tb.Fatalf("%s exited before serving: %v\n%s", cmd.Path, err, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _, err := client.ExchangeContext(ctx, query, addr)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("%s did not respond on %s within 15s\n%s", cmd.Path, addr, out.String())
}
