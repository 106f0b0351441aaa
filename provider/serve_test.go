package provider

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

// notifyListener records the zones named in NOTIFY messages it receives
// on a loopback UDP port, and acknowledges them.
func notifyListener(t *testing.T) (string, <-chan string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	zones := make(chan string, 16)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Opcode == dns.OpcodeNotify && len(r.Question) == 1 {
			select {
			case zones <- r.Question[0].Name:
			default:
			}
		}
		m := new(dns.Msg)
		m.SetReply(r)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String(), zones
}

// startServe runs svc.Serve with a NOTIFY listener as its secondary and
// returns the DNS and HTTP addresses, the zones notified, and a function
// that stops Serve and checks its result.
func startServe(t *testing.T, svc *Service) (dnsAddr, httpAddr string, notified <-chan string, stop func()) {
	t.Helper()
	secondary, notified := notifyListener(t)
	svc.Config.DNS.Listen = "127.0.0.1:0"
	svc.Config.HTTP.Listen = "127.0.0.1:0"
	svc.Config.ACME.Listen = "127.0.0.1:0"
	svc.Config.DNS.TSIG = []TSIGConfig{{Name: "transfer", Secret: "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IDMyIGI="}}
	svc.Config.DNS.Secondaries = []SecondaryConfig{{Addr: secondary, TSIG: "transfer"}}

	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- svc.Serve(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(dnsAddr, httpAddr string) {
			addrs <- [2]string{dnsAddr, httpAddr}
		})
	}()
	select {
	case a := <-addrs:
		dnsAddr, httpAddr = a[0], a[1]
	case err := <-done:
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not start within 30s")
	}
	stop = func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not stop within 10s")
		}
	}
	return dnsAddr, httpAddr, notified, stop
}

// waitNotify waits for a NOTIFY of dhp.test.
func waitNotify(t *testing.T, notified <-chan string) {
	t.Helper()
	select {
	case zone := <-notified:
		if zone != "dhp.test." {
			t.Errorf("NOTIFY for %q, want dhp.test.", zone)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no NOTIFY within 10s of the change")
	}
}

func TestServeAnswersAndNotifies(t *testing.T) {
	svc := testService(t)
	dnsAddr, httpAddr, notified, stop := startServe(t, svc)
	defer stop()

	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "go_goroutines"} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, body lacks %q", path, resp.Status, want)
		}
	}

	// An identity created while the server runs, by another process such
	// as dnshandle admin (here a Service of its own on the same store),
	// is answered and announced with NOTIFY after the next poll.
	other := &Service{Store: svc.Store, Sealer: svc.Sealer, Signer: svc.Signer, Config: svc.Config}
	if _, err := other.CreateIdentity(context.Background(), "alice", handle.Handle("carol.dhp.test"), IdentityOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotify(t, notified)
	m := new(dns.Msg)
	m.SetQuestion("carol.dhp.test.", dns.TypeTLSA)
	m.SetEdns0(1232, true)
	r, err := dns.Exchange(m, dnsAddr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) < 2 || !r.Authoritative {
		t.Errorf("TLSA answer for the new handle:\n%s", r)
	}
}

// A change through the Service that runs Serve sends NOTIFY without
// waiting for the poll, which this test sets to an hour.
func TestServeNotifiesOwnChangesAtOnce(t *testing.T) {
	svc := testService(t)
	svc.notifyPoll = time.Hour
	_, _, notified, stop := startServe(t, svc)
	defer stop()

	if _, err := svc.CreateIdentity(context.Background(), "alice", handle.Handle("dave.dhp.test"), IdentityOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotify(t, notified)
	if _, err := svc.DeleteIdentity(context.Background(), "alice", handle.Handle("dave.dhp.test")); err != nil {
		t.Fatal(err)
	}
	waitNotify(t, notified)
}
