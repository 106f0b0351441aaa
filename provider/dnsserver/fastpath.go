package dnsserver

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/miekg/dns"
)

// The fast path answers plain UDP queries whose response is in the cache
// straight from the request bytes: it neither unpacks the request into a
// dns.Msg nor packs a response. Everything else, and every cache miss,
// goes through ServeDNS, which also stores the packed response that later
// requests with the same question get from the fast path. For a request
// it accepts, the fast path sends what ServeDNS would send, except that
// the names in the records may take the letter case of the question.

// Offsets and bits of the DNS header (RFC 1035, section 4.1.1).
const (
	headerSize  = 12
	flagsQR     = 0x80 // in byte 2
	flagsOpcode = 0x78 // in byte 2
	flagsRD     = 0x01 // in byte 2
	flagsCD     = 0x10 // in byte 3
	ednsFlagDO  = 0x8000
	maxWireName = 255
)

// fastQuery is a standard query as the fast path reads it from the wire.
type fastQuery struct {
	id     uint16
	rd, cd bool
	qname  []byte // the question name in wire form, as sent
	qtype  uint16
	edns   bool
	do     bool
	size   int // largest UDP response the client accepts, in bytes
}

// parseFastQuery reads msg into q when msg is a query the fast path may
// answer. Such a query has opcode QUERY and one question of class IN, with
// a name made of letters, digits, hyphens and underscores and a type that
// ServeDNS answers from the zone. Its only other record is an optional
// OPT of EDNS version 0, with no options but COOKIE, PADDING and an empty
// NSID. parseFastQuery reports false for anything else, and ServeDNS then
// handles msg.
func parseFastQuery(msg []byte, maxUDPSize int, q *fastQuery) bool {
	if len(msg) < headerSize || len(msg) > MaxQuerySize {
		return false
	}
	if msg[2]&(flagsQR|flagsOpcode) != 0 {
		return false
	}
	qd, an, ns, ar := be16(msg[4:]), be16(msg[6:]), be16(msg[8:]), be16(msg[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return false
	}
	q.id = be16(msg)
	q.rd = msg[2]&flagsRD != 0
	q.cd = msg[3]&flagsCD != 0

	off, ok := scanName(msg, headerSize)
	if !ok || off+4 > len(msg) {
		return false
	}
	q.qname = msg[headerSize:off]
	q.qtype = be16(msg[off:])
	if be16(msg[off+2:]) != dns.ClassINET || !fastType(q.qtype) {
		return false
	}
	off += 4

	q.edns, q.do, q.size = false, false, dns.MinMsgSize
	if ar == 0 {
		return off == len(msg)
	}
	return parseFastOPT(msg, off, maxUDPSize, q)
}

// parseFastOPT reads the OPT record at off, which must end the message.
func parseFastOPT(msg []byte, off, maxUDPSize int, q *fastQuery) bool {
	// Root owner, type OPT, class = buffer size, TTL = extended RCODE,
	// version and flags, then RDLENGTH (RFC 6891, section 6.1.2).
	if off+11 > len(msg) || msg[off] != 0 || be16(msg[off+1:]) != dns.TypeOPT {
		return false
	}
	size := int(be16(msg[off+3:]))
	extRcode, version, flags := msg[off+5], msg[off+6], be16(msg[off+7:])
	rdlen := int(be16(msg[off+9:]))
	off += 11
	if extRcode != 0 || version != 0 || off+rdlen != len(msg) {
		return false
	}

	for off < len(msg) {
		if off+4 > len(msg) {
			return false
		}
		code, n := be16(msg[off:]), int(be16(msg[off+2:]))
		off += 4
		if off+n > len(msg) {
			return false
		}
		switch {
		case code == dns.EDNS0COOKIE, code == dns.EDNS0PADDING:
		case code == dns.EDNS0NSID && n == 0:
		default:
			// Options that miekg/dns checks when it unpacks them (such
			// as client subnet) go the full way, which rejects bad ones.
			return false
		}
		off += n
	}

	q.edns = true
	q.do = flags&ednsFlagDO != 0
	// RFC 6891, section 6.2.5: sizes below 512 are treated as 512.
	q.size = min(max(size, dns.MinMsgSize), maxUDPSize)
	return true
}

// scanName checks the uncompressed name at off and returns the offset
// after it. Names with compression pointers, or with bytes other than
// letters, digits, '-' and '_', are left to the full path.
func scanName(msg []byte, off int) (int, bool) {
	start := off
	for off < len(msg) {
		n := int(msg[off])
		if n == 0 {
			off++
			return off, off-start <= maxWireName
		}
		if n > 63 || off+1+n > len(msg) {
			return 0, false
		}
		for _, c := range msg[off+1 : off+1+n] {
			if !hostByte(c) {
				return 0, false
			}
		}
		off += 1 + n
	}
	return 0, false
}

func hostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// fastType reports whether ServeDNS answers qtype from the zone data,
// which makes the answer cacheable.
func fastType(qtype uint16) bool {
	switch qtype {
	case dns.TypeNone, dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeMAILA, dns.TypeMAILB:
		return false
	}
	return true
}

// appendPresentation appends the lowercase presentation form of the wire
// name qname, which scanName has checked, such as "alice.dhp.test.".
func appendPresentation(dst, qname []byte) []byte {
	if len(qname) == 1 {
		return append(dst, '.')
	}
	for off := 0; qname[off] != 0; {
		n := int(qname[off])
		for _, c := range qname[off+1 : off+1+n] {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		dst = append(dst, '.')
		off += 1 + n
	}
	return dst
}

// writeFastAnswer copies the packed response into dst and patches in the
// request's ID, RD and CD bits and question name, whose length equals
// that of the packed question. It returns the response length.
func writeFastAnswer(dst, packed []byte, q *fastQuery) int {
	n := copy(dst, packed)
	binary.BigEndian.PutUint16(dst, q.id)
	if q.rd {
		dst[2] |= flagsRD
	}
	if q.cd {
		dst[3] |= flagsCD
	}
	copy(dst[headerSize:], q.qname)
	return n
}

// answerFast writes the cached response to the UDP request req into dst
// and returns its length. It returns 0 when the request needs ServeDNS,
// because it is not a plain query, its response is not cached, the zone
// serial is due to be read again, or the response is too large for the
// client.
func (s *Server) answerFast(dst, req []byte, now time.Time) int {
	var q fastQuery
	if !parseFastQuery(req, int(s.cfg.MaxUDPSize), &q) {
		return 0
	}

	var buf [maxWireName + 1]byte
	name := appendPresentation(buf[:0], q.qname)
	z := s.zoneSet.match(name)
	if z == nil {
		return 0
	}
	st := s.zoneSet.fresh(z, now)
	if st == nil {
		return 0
	}

	e := z.cache.Load().getBytes(name)
	if e == nil {
		return 0
	}
	list := e.answers.Load()
	if list == nil {
		return 0
	}
	for i := range *list {
		a := &(*list)[i]
		if a.qtype != q.qtype || a.edns != q.edns || a.do != q.do {
			continue
		}
		if (a.negative && a.serial != st.serial) || len(a.msg) > q.size || len(a.msg) > len(dst) {
			return 0
		}
		n := writeFastAnswer(dst, a.msg, &q)
		s.metrics.countQuery(q.qtype, a.rcode)
		return n
	}
	return 0
}

// match returns the deepest served zone that contains the lowercase
// presentation name, or nil.
func (zs *zoneSet) match(name []byte) *trackedZone {
	var best *trackedZone
	for _, z := range zs.list {
		zn := z.nameBytes
		if !bytes.HasSuffix(name, zn) {
			continue
		}
		if len(name) != len(zn) && z.name != "." && name[len(name)-len(zn)-1] != '.' {
			continue
		}
		if best == nil || len(zn) > len(best.nameBytes) {
			best = z
		}
	}
	return best
}

// storeAnswer packs q.resp for the fast path when the request is one the
// fast path accepts and the response is a final answer from the zone data.
// It adds the packed response to the cache entry of the question name and
// keeps it in q.packed for write.
func (s *Server) storeAnswer(q *request, a *answerer, qname string, serial uint32) {
	resp := q.resp
	if q.tsig != nil || !fastRequest(q.req) {
		return
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return
	}
	e := a.cache.get(qname)
	if e == nil {
		return
	}

	canonical := *resp
	canonical.Id = 0
	canonical.RecursionDesired = false
	canonical.CheckingDisabled = false
	canonical.Question = []dns.Question{{Name: qname, Qtype: q.qtype, Qclass: dns.ClassINET}}
	packed, err := canonical.Pack()
	if err != nil {
		return
	}
	a.cache.addAnswer(e, packedAnswer{
		qtype:    q.qtype,
		edns:     q.req.IsEdns0() != nil,
		do:       q.do,
		rcode:    resp.Rcode,
		negative: resp.Rcode == dns.RcodeNameError || len(resp.Answer) == 0,
		serial:   serial,
		msg:      packed,
	}, a.epoch, a.live)
	q.packed = packed
}

// cachedAnswer sets q.packed, and the rcode of q.resp for the metrics,
// from the cache when it holds the response to q and the response fits
// the client's UDP limit, and reports whether it did.
func (s *Server) cachedAnswer(q *request, cache *zoneCache, qname string, serial uint32) bool {
	if q.tsig != nil || !fastRequest(q.req) {
		return false
	}
	e := cache.get(qname)
	if e == nil {
		return false
	}
	list := e.answers.Load()
	if list == nil {
		return false
	}
	edns := q.req.IsEdns0() != nil
	for _, a := range *list {
		if a.qtype != q.qtype || a.edns != edns || a.do != q.do {
			continue
		}
		if (a.negative && a.serial != serial) || (q.udp && len(a.msg) > q.size) {
			// Out of date, or to be truncated from the full response.
			return false
		}
		q.packed = a.msg
		q.resp.Rcode = a.rcode
		return true
	}
	return false
}

// writePacked sends q.packed, patched for the request, and reports
// whether it did: it does not when the response needs truncating.
func (s *Server) writePacked(q *request) bool {
	if q.udp && len(q.packed) > q.size {
		return false
	}
	question := q.req.Question[0]
	fq := fastQuery{id: q.req.Id, rd: q.req.RecursionDesired, cd: q.req.CheckingDisabled}
	var name [maxWireName]byte
	n, err := dns.PackDomainName(question.Name, name[:], 0, nil, false)
	if err != nil {
		return false
	}
	fq.qname = name[:n]
	out := make([]byte, len(q.packed))
	writeFastAnswer(out, q.packed, &fq)
	if _, err := q.w.Write(out); err != nil {
		s.logError("writing the response failed", q.zone, q.remote, err)
	}
	s.metrics.countQuery(q.qtype, q.resp.Rcode)
	return true
}

// fastRequest reports whether the unpacked request r is one whose
// response the fast path may send: it checks what parseFastQuery checks
// on the wire.
func fastRequest(r *dns.Msg) bool {
	if r.Response || r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 || len(r.Answer) != 0 || len(r.Ns) != 0 || len(r.Extra) > 1 {
		return false
	}
	question := r.Question[0]
	if question.Qclass != dns.ClassINET || !fastType(question.Qtype) || !hostName(question.Name) {
		return false
	}
	if len(r.Extra) == 0 {
		return true
	}
	opt, ok := r.Extra[0].(*dns.OPT)
	if !ok || opt.Hdr.Name != "." || opt.Version() != 0 || opt.ExtendedRcode() != 0 {
		return false
	}
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_COOKIE, *dns.EDNS0_PADDING:
		case *dns.EDNS0_NSID:
			if o.Nsid != "" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// hostName reports whether the presentation name is fully qualified and
// made of letters, digits, '-' and '_' only, as scanName requires.
func hostName(name string) bool {
	if name == "" || name[len(name)-1] != '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != '.' && !hostByte(c) {
			return false
		}
	}
	return true
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
