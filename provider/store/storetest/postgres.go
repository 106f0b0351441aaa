//go:build unix

package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresStartTimeout bounds how long StartPostgres waits for the server
// to accept connections.
const postgresStartTimeout = 30 * time.Second

// PostgresServer is a PostgreSQL server that StartPostgres runs for tests on
// a loopback port, with its data in a temporary directory.
type PostgresServer struct {
	// Port is the TCP port on 127.0.0.1.
	Port int

	databases atomic.Int64
}

// StartPostgres runs initdb and postgres from the Debian package
// "postgresql" (the newest version under /usr/lib/postgresql) with their
// data and Unix socket in a new temporary directory. The server listens on
// a free port of 127.0.0.1. When the test ends, StartPostgres stops the
// server and removes the directory. The server trusts local connections of the user "postgres" and
// runs with fsync off, so it is fast and is not for data that must survive.
//
// It skips the test when PostgreSQL is not installed. As root, which initdb
// refuses to run as, it runs both programs as the system user "postgres"
// that the package creates.
func StartPostgres(tb testing.TB) *PostgresServer {
	tb.Helper()
	bin := postgresBinDir(tb)
	cred := postgresCredential(tb)

	dir, err := os.MkdirTemp("", "dnshandle-postgres-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}

	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}

	srv := &PostgresServer{Port: freeTCPPort(tb)}
	var log lockedBuffer
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port),
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off", "-c", "max_connections=200")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start postgres: %v", err)
	}
	tb.Cleanup(func() {
		// SIGINT is the "fast" shutdown: it ends the sessions and stops.
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})

	ctx, cancel := context.WithTimeout(context.Background(), postgresStartTimeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, srv.url("postgres"))
		if err == nil {
			conn.Close(ctx)
			return srv
		}
		if ctx.Err() != nil {
			tb.Fatalf("postgres did not accept connections within %v: %v\n%s", postgresStartTimeout, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CreateDatabase creates a new, empty database and returns its URL.
func (s *PostgresServer) CreateDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d", s.databases.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		tb.Fatalf("connect to postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	return s.url(name)
}

func (s *PostgresServer) url(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, database)
}

// postgresBinDir returns the bin directory of the newest PostgreSQL under
// /usr/lib/postgresql, or skips the test.
func postgresBinDir(tb testing.TB) string {
	tb.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var usable []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			usable = append(usable, d)
		}
	}
	if len(usable) == 0 {
		tb.Skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): install the Debian package postgresql")
	}
	sort.Slice(usable, func(i, j int) bool { return versionOf(usable[i]) < versionOf(usable[j]) })
	return usable[len(usable)-1]
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// postgresCredential returns the credential of the user "postgres" when the
// test runs as root, and nil otherwise.
func postgresCredential(tb testing.TB) *syscall.Credential {
	tb.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		tb.Skip("running as root, and there is no user postgres to run initdb as: install the Debian package postgresql")
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		tb.Fatalf("user postgres has uid %q and gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// freeTCPPort returns a port of 127.0.0.1 that was free a moment ago.
func freeTCPPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects the output of a server for error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
