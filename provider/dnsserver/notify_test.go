package dnsserver

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// notifyListener is a secondary stand-in that records the NOTIFY
// messages it receives and acknowledges them after dropping the first
// drop ones.
type notifyListener struct {
	addr     string
	mu       sync.Mutex
	drop     int
	received []notifyRecord
	acked    chan struct{}
}

type notifyRecord struct {
	zone    string
	opcode  int
	tsigErr error
	signed  bool
}

func startNotifyListener(t *testing.T, drop int) *notifyListener {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &notifyListener{addr: pc.LocalAddr().String(), drop: drop, acked: make(chan struct{}, 16)}
	srv := &dns.Server{
		PacketConn: pc,
		TsigSecret: map[string]string{testKeyName: testSecret},
		MsgAcceptFunc: func(h dns.Header) dns.MsgAcceptAction {
			return dns.MsgAccept
		},
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			l.mu.Lock()
			rec := notifyRecord{opcode: r.Opcode, tsigErr: w.TsigStatus(), signed: r.IsTsig() != nil}
			if len(r.Question) == 1 {
				rec.zone = r.Question[0].Name
			}
			l.received = append(l.received, rec)
			dropIt := len(l.received) <= l.drop
			l.mu.Unlock()
			if dropIt {
				return
			}
			m := new(dns.Msg)
			m.SetReply(r)
			m.Authoritative = true
			if t := r.IsTsig(); t != nil {
				m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
			}
			_ = w.WriteMsg(m)
			l.acked <- struct{}{}
		}),
	}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return l
}

func (l *notifyListener) records() []notifyRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]notifyRecord(nil), l.received...)
}

func TestNotifyReachesSecondary(t *testing.T) {
	t.Parallel()
	l := startNotifyListener(t, 0)
	w := newWorld(t, Config{Secondaries: []Secondary{{Addr: l.addr, TSIGName: testKeyName}}})

	w.addHandle("bob.dhp.test.") // calls Notify
	got := l.records()
	// One NOTIFY from newWorld's first handle happened before the server
	// existed; the one for bob is the first the listener sees.
	if len(got) != 1 {
		t.Fatalf("listener received %d messages, want 1", len(got))
	}
	r := got[0]
	if r.opcode != dns.OpcodeNotify || r.zone != testZone {
		t.Errorf("received opcode %s for %s, want NOTIFY for %s", dns.OpcodeToString[r.opcode], r.zone, testZone)
	}
	if !r.signed || r.tsigErr != nil {
		t.Errorf("NOTIFY signed %v, TSIG check %v, want a valid TSIG", r.signed, r.tsigErr)
	}
	if c := counterValue(t, w.server.metrics.notifies, notifyAcknowledged); c != 1 {
		t.Errorf("acknowledged NOTIFY counted %v times, want 1", c)
	}
}

func TestNotifyRetriesUntilAcknowledged(t *testing.T) {
	t.Parallel()
	l := startNotifyListener(t, 2)
	w := newWorld(t, Config{
		Secondaries:   []Secondary{{Addr: l.addr, TSIGName: testKeyName}},
		NotifyTimeout: 200 * time.Millisecond,
		NotifyBackoff: 10 * time.Millisecond,
	})

	replace(t, w.st, w.signer, handleRRsets(t, "bob.dhp.test."))
	err := w.server.Notify(context.Background(), testZone)
	var ne *NotifyError
	if !errors.As(err, &ne) || ne.Secondary != l.addr {
		t.Fatalf("Notify error = %v, want a *NotifyError for %s", err, l.addr)
	}

	select {
	case <-l.acked:
	case <-time.After(10 * time.Second):
		t.Fatalf("no retry was acknowledged; listener saw %d messages", len(l.records()))
	}
	if n := len(l.records()); n != 3 {
		t.Errorf("listener saw %d NOTIFY messages, want 3 (two dropped, one acknowledged)", n)
	}
}

func TestNotifyUnknownZone(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{})
	var ce *ConfigError
	if err := w.server.Notify(context.Background(), "other.test."); !errors.As(err, &ce) {
		t.Errorf("Notify for another zone = %v, want a *ConfigError", err)
	}
}

func TestIncomingNotifyAcknowledged(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Config{SerialRefresh: time.Hour})
	replace(t, w.st, w.signer, handleRRsets(t, "bob.dhp.test."))

	m := new(dns.Msg)
	m.SetNotify(testZone)
	r := exchange(t, w.addr, "udp", m)
	if r.Rcode != dns.RcodeSuccess || r.Opcode != dns.OpcodeNotify || !r.Authoritative {
		t.Fatalf("NOTIFY response: %s", r)
	}
	// The NOTIFY made the server read the new serial.
	if a := query(t, w.addr, "udp", "bob.dhp.test.", dns.TypeTLSA); a.Rcode != dns.RcodeSuccess {
		t.Errorf("bob after an incoming NOTIFY: rcode %s, want NOERROR", dns.RcodeToString[a.Rcode])
	}
}

func TestNewServerRejectsConfig(t *testing.T) {
	t.Parallel()
	st, _ := newStoreAndSigner(t)
	cases := []struct {
		name string
		cfg  Config
	}{
		{name: "no zones", cfg: Config{}},
		{name: "bad zone", cfg: Config{Zones: []string{"a..b"}}},
		{name: "bad secret", cfg: Config{Zones: []string{testZone}, TSIG: map[string]string{testKeyName: "%%%"}}},
		{name: "short secret", cfg: Config{Zones: []string{testZone}, TSIG: map[string]string{testKeyName: "c2hvcnQ="}}},
		{name: "secondary without key", cfg: Config{Zones: []string{testZone}, Secondaries: []Secondary{{Addr: "127.0.0.1:53", TSIGName: "missing."}}}},
		{name: "secondary bad address", cfg: Config{Zones: []string{testZone}, TSIG: map[string]string{testKeyName: testSecret}, Secondaries: []Secondary{{Addr: "nowhere", TSIGName: testKeyName}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ce *ConfigError
			if _, err := NewServer(st, tc.cfg); !errors.As(err, &ce) {
				t.Errorf("NewServer error = %v, want a *ConfigError", err)
			}
		})
	}
}
