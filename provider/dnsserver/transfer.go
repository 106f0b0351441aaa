package dnsserver

import (
	"context"
	"errors"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// transferMessageSize is the uncompressed size, in bytes, at which a
// transfer message is sent and a new one started; compression keeps the
// packed message well below the 65535-byte limit of TCP framing.
const transferMessageSize = 16 * 1024

// Transfer results, the "result" label of the transfers metric.
const (
	transferFull        = "full"
	transferIncremental = "incremental"
	transferUpToDate    = "uptodate"
	transferRefused     = "refused"
	transferFailed      = "failed"
)

// handleTransfer answers AXFR (RFC 5936) and IXFR (RFC 1995) requests for
// a zone apex. Both need TCP and a request signed with a configured TSIG
// key; anything else is REFUSED.
func (s *Server) handleTransfer(ctx context.Context, q *request, qname string) {
	kind := typeLabel(q.qtype)
	switch {
	case q.udp, q.tsig == nil, qname != q.zone:
		// IXFR over UDP is allowed by RFC 1995, section 2, but this
		// server sends every transfer over TCP only.
		q.resp.Rcode = dns.RcodeRefused
		s.metrics.transfers.WithLabelValues(kind, transferRefused).Inc()
		if s.limiter.allow() {
			s.log.Warn(kind+" refused: transfers need TCP and a configured TSIG key", "zone", q.zone, "remote_addr", q.remote)
		}
		return
	}

	var result string
	var err error
	if q.qtype == dns.TypeIXFR {
		result, err = s.sendIXFR(ctx, q)
	} else {
		result, err = transferFull, s.sendAXFR(ctx, q)
	}
	if err != nil {
		s.metrics.transfers.WithLabelValues(kind, transferFailed).Inc()
		if !q.written {
			s.fail(q, kind+" failed", err)
			return
		}
		s.logError(kind+" failed after the first message", q.zone, q.remote, err)
		return
	}
	s.metrics.transfers.WithLabelValues(kind, result).Inc()
	s.log.Info(kind+" sent ("+result+")", "zone", q.zone, "remote_addr", q.remote)
}

// transferWriter packs records into consecutive response messages, each
// signed with TSIG (RFC 8945, section 5.3.1: later messages sign the
// previous MAC and the timers only).
type transferWriter struct {
	s    *Server
	q    *request
	msg  *dns.Msg
	size int
}

func (t *transferWriter) add(rr dns.RR) error {
	if t.msg == nil {
		t.msg = t.s.reply(t.q.req)
		t.msg.Authoritative = true
		if t.q.req.IsEdns0() != nil && !t.q.written {
			t.msg.SetEdns0(t.s.cfg.MaxUDPSize, t.q.do)
		}
		t.size = 0
	}
	t.msg.Answer = append(t.msg.Answer, rr)
	t.size += dns.Len(rr)
	if t.size >= transferMessageSize {
		return t.flush()
	}
	return nil
}

func (t *transferWriter) flush() error {
	if t.msg == nil {
		return nil
	}
	m := t.msg
	t.msg = nil
	m.SetTsig(t.q.tsig.Hdr.Name, t.q.tsig.Algorithm, tsigFudge, time.Now().Unix())
	if err := t.q.w.WriteMsg(m); err != nil {
		return err
	}
	t.q.written = true
	t.q.w.TsigTimersOnly(true)
	return nil
}

// sendAXFR streams the zone: its SOA, every other record in canonical
// order, and the SOA again (RFC 5936, section 2.2). The SOA is taken from
// the same read as the rest, so the transfer is one consistent version.
func (s *Server) sendAXFR(ctx context.Context, q *request) error {
	tw := &transferWriter{s: s, q: q}
	var soa dns.RR
	var early []dns.RR // apex records read before the SOA
	err := s.st.WalkZone(ctx, q.zone, func(row store.RR) error {
		rr, err := fromStoreRR(row)
		if err != nil {
			return err
		}
		if row.Type == dns.TypeSOA && row.Name == q.zone {
			if soa != nil {
				return &ZoneError{Zone: q.zone, Reason: "zone holds more than one SOA record"}
			}
			soa = rr
			for _, e := range append([]dns.RR{soa}, early...) {
				if err := tw.add(e); err != nil {
					return err
				}
			}
			return nil
		}
		if soa == nil {
			early = append(early, rr)
			return nil
		}
		return tw.add(rr)
	})
	if err != nil {
		return err
	}
	if soa == nil {
		return &ZoneError{Zone: q.zone, Reason: "zone has no SOA record"}
	}
	if err := tw.add(soa); err != nil {
		return err
	}
	return tw.flush()
}

// sendIXFR answers an IXFR request (RFC 1995, section 4): the differences
// from the client's serial to the current one, a lone SOA when the client
// is current, or the whole zone when the journal does not reach back to
// the client's serial.
func (s *Server) sendIXFR(ctx context.Context, q *request) (string, error) {
	var clientSOA *dns.SOA
	for _, rr := range q.req.Ns {
		if soa, ok := rr.(*dns.SOA); ok && dns.CanonicalName(soa.Hdr.Name) == q.zone {
			clientSOA = soa
		}
	}
	if clientSOA == nil {
		// RFC 1995, section 3: the request carries the client's SOA in
		// the authority section.
		q.resp.Rcode = dns.RcodeFormatError
		return transferRefused, nil
	}

	diffs, err := s.st.Diffs(ctx, q.zone, clientSOA.Serial)
	if errors.Is(err, store.ErrJournalGap) {
		return transferFull, s.sendAXFR(ctx, q)
	}
	if err != nil {
		return "", err
	}
	if len(diffs) == 0 {
		return transferUpToDate, s.sendCurrentSOA(ctx, q)
	}

	steps := make([]ixfrStep, 0, len(diffs))
	for _, d := range diffs {
		step, err := newIXFRStep(q.zone, d)
		if errors.Is(err, errNoSOAStep) {
			// The first step of a zone adds its apex to an empty zone,
			// a version no secondary can hold.
			return transferFull, s.sendAXFR(ctx, q)
		}
		if err != nil {
			return "", err
		}
		steps = append(steps, step)
	}
	current := steps[len(steps)-1].newSOA

	tw := &transferWriter{s: s, q: q}
	if err := tw.add(current); err != nil {
		return "", err
	}
	for _, step := range steps {
		for _, rr := range step.records() {
			if err := tw.add(rr); err != nil {
				return "", err
			}
		}
	}
	if err := tw.add(current); err != nil {
		return "", err
	}
	return transferIncremental, tw.flush()
}

// sendCurrentSOA answers an IXFR from a client that is up to date with
// the current SOA alone (RFC 1995, section 2).
func (s *Server) sendCurrentSOA(ctx context.Context, q *request) error {
	rows, err := s.st.LookupName(ctx, q.zone, q.zone)
	if err != nil {
		return err
	}
	soaRows, _ := rrsetRows(rows, dns.TypeSOA)
	if len(soaRows) != 1 {
		return &ZoneError{Zone: q.zone, Reason: "apex does not contain exactly one SOA record"}
	}
	soa, err := fromStoreRR(soaRows[0])
	if err != nil {
		return err
	}
	tw := &transferWriter{s: s, q: q}
	if err := tw.add(soa); err != nil {
		return err
	}
	return tw.flush()
}

// errNoSOAStep marks a journal step that does not replace the SOA, which
// IXFR cannot express.
var errNoSOAStep = errors.New("journal step does not replace the SOA")

// ixfrStep is one journal step in IXFR order: the old SOA, the deleted
// records, the new SOA, the added records.
type ixfrStep struct {
	oldSOA, newSOA dns.RR
	deleted, added []dns.RR
}

func newIXFRStep(zone string, d store.Diff) (ixfrStep, error) {
	var step ixfrStep
	split := func(rows []store.RR) (soa dns.RR, rest []dns.RR, err error) {
		for _, row := range rows {
			rr, err := fromStoreRR(row)
			if err != nil {
				return nil, nil, err
			}
			if row.Type == dns.TypeSOA && row.Name == zone {
				soa = rr
				continue
			}
			rest = append(rest, rr)
		}
		return soa, rest, nil
	}
	var err error
	if step.oldSOA, step.deleted, err = split(d.Deleted); err != nil {
		return step, err
	}
	if step.newSOA, step.added, err = split(d.Added); err != nil {
		return step, err
	}
	if step.oldSOA == nil || step.newSOA == nil {
		return step, errNoSOAStep
	}
	return step, nil
}

func (st ixfrStep) records() []dns.RR {
	out := make([]dns.RR, 0, len(st.deleted)+len(st.added)+2)
	out = append(out, st.oldSOA)
	out = append(out, st.deleted...)
	out = append(out, st.newSOA)
	return append(out, st.added...)
}
