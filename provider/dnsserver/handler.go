package dnsserver

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// request is one request being answered.
type request struct {
	w       dns.ResponseWriter
	req     *dns.Msg
	resp    *dns.Msg
	udp     bool
	size    int       // largest response over UDP, in bytes
	do      bool      // the DNSSEC OK bit (RFC 3225)
	tsig    *dns.TSIG // the request's verified TSIG, or nil
	zone    string
	remote  string
	qtype   uint16
	written bool   // a transfer wrote its own messages
	packed  []byte // resp packed for the fast path, or nil
}

// ServeDNS implements dns.Handler. It answers every request with one
// response, or several for a zone transfer, and never panics on what the
// client sent: a failure inside the answer path becomes SERVFAIL.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if r == nil || r.Response {
		return
	}
	q := &request{w: w, req: r, remote: addrString(w.RemoteAddr())}
	defer func() {
		if p := recover(); p != nil {
			s.panics.Add(1)
			s.logError("request handler panicked", q.zone, q.remote, fmt.Errorf("%v", p))
			q.resp = s.reply(r)
			q.resp.Rcode = dns.RcodeServerFailure
			q.written = false
			q.packed = nil
			s.write(q)
		}
	}()

	s.handle(s.lifetime, q)
	if !q.written {
		s.write(q)
	}
}

// reply returns the response skeleton for r: same ID, opcode, RD and CD
// bits and question, AA and RA clear.
func (s *Server) reply(r *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(r)
	resp.Compress = true
	resp.RecursionAvailable = false
	return resp
}

// handle checks the request step by step and builds the response in
// q.resp, or writes a transfer itself.
func (s *Server) handle(ctx context.Context, q *request) {
	r := q.req
	q.resp = s.reply(r)
	q.udp = isUDP(q.w)
	if len(r.Question) == 1 {
		q.qtype = r.Question[0].Qtype
	}

	if !s.readEDNS(q) {
		return
	}
	if !s.checkTSIG(q) {
		return
	}
	if r.Len() > MaxQuerySize {
		q.resp.Rcode = dns.RcodeFormatError
		return
	}
	switch r.Opcode {
	case dns.OpcodeQuery, dns.OpcodeNotify:
	default:
		// RFC 1035, section 4.1.1: NOTIMP for a kind of query the server
		// does not support (IQUERY, STATUS, UPDATE).
		q.resp.Rcode = dns.RcodeNotImplemented
		return
	}
	if len(r.Question) != 1 {
		// RFC 9619: a QUERY or NOTIFY carries exactly one question.
		q.resp.Rcode = dns.RcodeFormatError
		return
	}
	question := r.Question[0]
	if question.Qclass != dns.ClassINET {
		// The server holds zones of class IN only.
		q.resp.Rcode = dns.RcodeRefused
		return
	}
	qname := dns.CanonicalName(question.Name)
	q.zone = zoneFor(s.zones, qname)
	if q.zone == "" {
		q.resp.Rcode = dns.RcodeRefused
		return
	}

	if r.Opcode == dns.OpcodeNotify {
		s.handleNotify(q, qname)
		return
	}
	switch question.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		ctx, cancel := context.WithTimeout(ctx, transferTimeout)
		defer cancel()
		s.handleTransfer(ctx, q, qname)
		return
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeNone:
		// Pseudo-types and type 0 cannot be asked for.
		q.resp.Rcode = dns.RcodeFormatError
		return
	case dns.TypeMAILA, dns.TypeMAILB:
		q.resp.Rcode = dns.RcodeNotImplemented
		return
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	s.answerQuery(ctx, q, qname)
}

// readEDNS applies RFC 6891 to the request's OPT record and adds the
// server's OPT to the response. It returns false when the response is
// final (FORMERR or BADVERS).
func (s *Server) readEDNS(q *request) bool {
	q.size = dns.MinMsgSize
	var opt *dns.OPT
	for _, rr := range q.req.Extra {
		o, ok := rr.(*dns.OPT)
		if !ok {
			continue
		}
		if opt != nil || o.Hdr.Name != "." {
			// RFC 6891, section 6.1.1: more than one OPT, or an OPT
			// whose owner is not the root, is a format error.
			q.resp.Rcode = dns.RcodeFormatError
			return false
		}
		opt = o
	}
	if opt == nil {
		return true
	}

	q.do = opt.Do()
	q.resp.SetEdns0(s.cfg.MaxUDPSize, q.do)
	if opt.Version() != 0 {
		// RFC 6891, section 6.1.3: BADVERS for a version not spoken.
		q.resp.Rcode = dns.RcodeBadVers
		return false
	}
	// RFC 6891, section 6.2.5: sizes below 512 are treated as 512.
	q.size = int(min(max(opt.UDPSize(), dns.MinMsgSize), s.cfg.MaxUDPSize))
	return true
}

// checkTSIG applies RFC 8945 to a signed request: a TSIG that did not
// verify gets NOTAUTH with the TSIG error code. It returns false when the
// response is final.
func (s *Server) checkTSIG(q *request) bool {
	for i, rr := range q.req.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG && i != len(q.req.Extra)-1 {
			// RFC 8945 requires the TSIG record to come last.
			q.resp.Rcode = dns.RcodeFormatError
			return false
		}
	}
	t := q.req.IsTsig()
	if t == nil {
		return true
	}
	if err := q.w.TsigStatus(); err != nil {
		if s.limiter.allow() {
			s.log.Warn("TSIG check failed for "+t.Hdr.Name, "remote_addr", q.remote, "err", err)
		}
		addTSIGError(q.resp, t, tsigErrorCode(err), time.Now())
		return false
	}
	q.tsig = t
	return true
}

// answerQuery answers a standard query from the cache and the store, and
// stores the packed response for the fast path.
func (s *Server) answerQuery(ctx context.Context, q *request, qname string) {
	q.resp.Authoritative = true
	z := s.zoneSet.byName[q.zone]
	st, err := s.zoneSet.current(ctx, z)
	if err != nil {
		s.fail(q, "reading the zone serial failed", err)
		return
	}
	a := &answerer{src: s.st, ctx: ctx, zone: q.zone, epoch: z.epoch.Load(), live: &z.epoch}
	a.cache = z.cache.Load()
	if s.cachedAnswer(q, a.cache, qname, st.serial) {
		return
	}
	if err := a.answer(q.resp, qname, q.qtype, q.do); err != nil {
		s.fail(q, "answering from the store failed", err)
		return
	}
	s.storeAnswer(q, a, qname, st.serial)
}

// fail turns q into SERVFAIL and logs why.
func (s *Server) fail(q *request, msg string, err error) {
	q.packed = nil
	q.resp = s.reply(q.req)
	q.resp.Rcode = dns.RcodeServerFailure
	if q.req.IsEdns0() != nil {
		q.resp.SetEdns0(s.cfg.MaxUDPSize, q.do)
	}
	s.logError(msg, q.zone, q.remote, err)
}

func (s *Server) logError(msg, zone, remote string, err error) {
	if s.limiter.allow() {
		s.log.Error(msg, "zone", zone, "remote_addr", remote, "err", err)
	}
}

// write sends q.resp: truncated over UDP when it exceeds the client's size
// (RFC 1035, section 4.2.1 and RFC 6891, section 7), signed when the
// request was signed, and counted.
func (s *Server) write(q *request) {
	if q.packed != nil && s.writePacked(q) {
		return
	}
	resp := q.resp
	if q.tsig != nil {
		resp.SetTsig(q.tsig.Hdr.Name, q.tsig.Algorithm, tsigFudge, time.Now().Unix())
	}
	if q.udp && resp.Len()+tsigMACSize(q) > q.size {
		truncate(resp)
	}
	if err := q.w.WriteMsg(resp); err != nil {
		s.logError("writing the response failed", q.zone, q.remote, err)
	}
	s.metrics.countQuery(q.qtype, resp.Rcode)
}

// tsigMACSize is the room the HMAC-SHA256 MAC takes once the TSIG record
// is signed.
func tsigMACSize(q *request) int {
	if q.tsig == nil {
		return 0
	}
	return sha256Size
}

const sha256Size = 32

// truncate empties the record sections of resp and sets TC, keeping the
// question, OPT and TSIG. An empty TC response makes the client retry
// over TCP without trusting a partial RRset (RFC 2181, section 9).
func truncate(resp *dns.Msg) {
	resp.Truncated = true
	resp.Answer, resp.Ns = nil, nil
	var keep []dns.RR
	for _, rr := range resp.Extra {
		switch rr.Header().Rrtype {
		case dns.TypeOPT, dns.TypeTSIG:
			keep = append(keep, rr)
		}
	}
	resp.Extra = keep
}

func isUDP(w dns.ResponseWriter) bool {
	addr := w.LocalAddr()
	if addr == nil {
		return true
	}
	_, tcp := addr.(*net.TCPAddr)
	return !tcp
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
