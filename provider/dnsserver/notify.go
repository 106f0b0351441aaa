package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// maxNotifyBackoff caps the wait between two NOTIFY retries.
const maxNotifyBackoff = time.Minute

// Notify results, the "result" label of the notifies metric.
const (
	notifyAcknowledged = "acknowledged"
	notifyFailed       = "failed"
	notifyAbandoned    = "abandoned"
)

// handleNotify answers a NOTIFY for a zone apex (RFC 1996, section 3.7).
// This server is the primary, so a NOTIFY, for example from another
// replica that changed the shared store, only makes it read the zone
// serial again.
func (s *Server) handleNotify(q *request, qname string) {
	if q.qtype != dns.TypeSOA {
		q.resp.Rcode = dns.RcodeFormatError
		return
	}
	if qname != q.zone {
		q.resp.Rcode = dns.RcodeRefused
		return
	}
	s.zoneSet.forget(s.zoneSet.byName[q.zone])
	q.resp.Authoritative = true
}

// Notify rereads the serial of zone from the store, so that queries see
// the change at once, and sends a NOTIFY (RFC 1996), signed with the
// secondary's TSIG key, to every configured secondary. It waits for the
// first attempt only. A secondary that does not acknowledge it gets
// retries in the background with doubling waits, up to
// Config.NotifyAttempts sends in all. A later Notify for the same zone
// replaces pending retries, and ListenAndServe stops them when it returns.
//
// The provider calls Notify after each serial change. It returns a
// *ConfigError for a zone the server does not serve, the store's error
// when the serial cannot be read, and the *NotifyError of each secondary
// that did not acknowledge the first attempt, joined with errors.Join.
func (s *Server) Notify(ctx context.Context, zone string) error {
	zone = dns.CanonicalName(zone)
	if zoneFor(s.zones, zone) != zone {
		return &ConfigError{Field: "zone", Value: zone, Reason: "not one of Config.Zones"}
	}
	if _, err := s.zoneSet.reload(ctx, s.zoneSet.byName[zone], s.zoneSet.now()); err != nil {
		return fmt.Errorf("notify zone %s: read the serial: %w", zone, err)
	}

	errs := make([]error, len(s.cfg.Secondaries))
	var wg sync.WaitGroup
	for i, sec := range s.cfg.Secondaries {
		wg.Go(func() {
			err := s.sendNotify(ctx, zone, sec)
			if err == nil {
				s.metrics.notifies.WithLabelValues(notifyAcknowledged).Inc()
				s.cancelRetry(zone, sec)
				return
			}
			s.metrics.notifies.WithLabelValues(notifyFailed).Inc()
			s.log.Warn("NOTIFY not acknowledged, will retry", "zone", zone, "remote_addr", sec.Addr, "err", err)
			s.scheduleRetry(zone, sec)
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sendNotify sends one signed NOTIFY for zone to sec and checks the
// signed acknowledgement.
func (s *Server) sendNotify(ctx context.Context, zone string, sec Secondary) error {
	m := new(dns.Msg)
	m.SetNotify(zone)
	keyName := dns.CanonicalName(sec.TSIGName)
	m.SetTsig(keyName, dns.HmacSHA256, tsigFudge, time.Now().Unix())

	c := &dns.Client{Net: "udp", Timeout: s.cfg.NotifyTimeout, TsigProvider: s.tsig}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.NotifyTimeout)
	defer cancel()
	resp, _, err := c.ExchangeContext(ctx, m, sec.Addr)
	if err != nil {
		return &NotifyError{Zone: zone, Secondary: sec.Addr, Rcode: -1, Err: err}
	}
	if resp.IsTsig() == nil {
		// RFC 8945: the answer to a signed request is signed.
		return &NotifyError{Zone: zone, Secondary: sec.Addr, Rcode: resp.Rcode, Err: errors.New("acknowledgement is not signed with TSIG")}
	}
	if resp.Rcode != dns.RcodeSuccess || resp.Opcode != dns.OpcodeNotify {
		return &NotifyError{Zone: zone, Secondary: sec.Addr, Rcode: resp.Rcode}
	}
	return nil
}

func notifyKey(zone string, sec Secondary) string {
	return zone + " " + sec.Addr
}

// scheduleRetry starts background retries for zone at sec, replacing
// any earlier ones.
func (s *Server) scheduleRetry(zone string, sec Secondary) {
	ctx, cancel := context.WithCancel(s.lifetime)
	key := notifyKey(zone, sec)
	s.mu.Lock()
	if old := s.notifies[key]; old != nil {
		old()
	}
	s.notifies[key] = cancel
	s.mu.Unlock()

	s.retries.Add(1)
	go func() {
		defer s.retries.Done()
		defer s.clearRetry(ctx, key)
		s.retry(ctx, zone, sec)
	}()
}

// retry resends the NOTIFY with doubling waits until it is acknowledged,
// the attempts are used up or ctx ends.
func (s *Server) retry(ctx context.Context, zone string, sec Secondary) {
	wait := s.cfg.NotifyBackoff
	for attempt := 2; attempt <= s.cfg.NotifyAttempts; attempt++ {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		err := s.sendNotify(ctx, zone, sec)
		if err == nil {
			s.metrics.notifies.WithLabelValues(notifyAcknowledged).Inc()
			s.log.Info("NOTIFY acknowledged after retry", "zone", zone, "remote_addr", sec.Addr)
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.metrics.notifies.WithLabelValues(notifyFailed).Inc()
		if attempt == s.cfg.NotifyAttempts {
			s.metrics.notifies.WithLabelValues(notifyAbandoned).Inc()
			s.log.Error("NOTIFY abandoned after the last attempt; the secondary refreshes at the SOA refresh interval", "zone", zone, "remote_addr", sec.Addr, "err", err)
			return
		}
		s.log.Warn("NOTIFY retry not acknowledged", "zone", zone, "remote_addr", sec.Addr, "err", err)
		wait = min(2*wait, maxNotifyBackoff)
	}
}

// cancelRetry stops pending retries for zone at sec.
func (s *Server) cancelRetry(zone string, sec Secondary) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := notifyKey(zone, sec)
	if cancel := s.notifies[key]; cancel != nil {
		cancel()
		delete(s.notifies, key)
	}
}

// clearRetry removes the pending retry of key when it is still the one
// that ran with ctx.
func (s *Server) clearRetry(ctx context.Context, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Only the goroutine whose context is still registered removes it;
	// a newer retry has replaced (and cancelled) older ones.
	if cancel := s.notifies[key]; cancel != nil && ctx.Err() == nil {
		cancel()
		delete(s.notifies, key)
	}
}
