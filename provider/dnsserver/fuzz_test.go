package dnsserver

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// fakeWriter is a dns.ResponseWriter that keeps what the handler writes.
type fakeWriter struct {
	tcp      bool
	status   error
	messages [][]byte
}

func (w *fakeWriter) LocalAddr() net.Addr {
	if w.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}

func (w *fakeWriter) RemoteAddr() net.Addr {
	if w.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5300}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5300}
}

func (w *fakeWriter) WriteMsg(m *dns.Msg) error {
	if t := m.IsTsig(); t != nil {
		// Sign as the real writer would, with the server's keys unknown
		// here: packing without a MAC is enough to check the message.
		m.Extra = m.Extra[:len(m.Extra)-1]
	}
	b, err := m.Pack()
	if err != nil {
		return err
	}
	w.messages = append(w.messages, b)
	return nil
}

func (w *fakeWriter) Write(b []byte) (int, error) {
	w.messages = append(w.messages, append([]byte(nil), b...))
	return len(b), nil
}

func (w *fakeWriter) Close() error        { return nil }
func (w *fakeWriter) TsigStatus() error   { return w.status }
func (w *fakeWriter) TsigTimersOnly(bool) {}
func (w *fakeWriter) Hijack()             {}

// FuzzServeDNS feeds raw messages to the handler as the listeners do:
// unpack, verify any TSIG, ServeDNS. The handler must never panic, must
// answer every request with a well-formed response carrying the request's
// ID, and must not answer responses.
func FuzzServeDNS(f *testing.F) {
	st, signer := newStoreAndSigner(f)
	replace(f, st, signer, handleRRsets(f, "alice.dhp.test."))
	replace(f, st, signer, handleRRsets(f, "a.b.dhp.test."))
	srv, err := NewServer(st, Config{Zones: []string{testZone}, TSIG: map[string]string{testKeyName: testSecret}})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, data []byte, tcp bool) {
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			return
		}
		w := &fakeWriter{tcp: tcp}
		if req.IsTsig() != nil {
			w.status = dns.TsigVerifyWithProvider(data, srv.tsig, "", false)
		}
		srv.ServeDNS(w, req)

		if n := srv.panics.Load(); n > 0 {
			t.Fatalf("handler panicked %d times on %x", n, data)
		}
		if req.Response {
			if len(w.messages) > 0 {
				t.Fatalf("handler answered a response")
			}
			return
		}
		if len(w.messages) == 0 {
			t.Fatalf("no response to a request")
		}
		for _, b := range w.messages {
			resp := new(dns.Msg)
			if err := resp.Unpack(b); err != nil {
				t.Fatalf("response does not unpack: %v", err)
			}
			if resp.Id != req.Id || !resp.Response {
				t.Fatalf("response ID %d QR %v, want ID %d and QR", resp.Id, resp.Response, req.Id)
			}
			if resp.RecursionAvailable {
				t.Fatalf("response sets RA")
			}
			if limit := udpLimit(req); !tcp && len(b) > limit {
				t.Fatalf("UDP response of %d bytes, above the client's %d", len(b), limit)
			}
		}
	})
}

// udpLimit is the largest UDP response a client of req accepts from a
// server with the default MaxUDPSize.
func udpLimit(req *dns.Msg) int {
	opt := req.IsEdns0()
	if opt == nil {
		return dns.MinMsgSize
	}
	return int(min(max(opt.UDPSize(), dns.MinMsgSize), DefaultMaxUDPSize))
}
