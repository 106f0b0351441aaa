package resolve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve/dnssec"
)

// env is the response source and validator of a lookup. The snapshot
// writer uses its own env to record every message.
type env struct {
	src source
	// validator validates locally when trust anchors are configured;
	// nil means the AD bit of trusted upstreams decides.
	validator *dnssec.Validator
}

// exchanger adapts a source to dnssec.Exchanger, for the DNSKEY and DS
// queries of the validator.
type exchanger struct{ src source }

// Exchange sends one query through the source.
func (e exchanger) Exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	resp, _, err := e.src.exchange(ctx, name, qtype)
	return resp, err
}

// answer is the outcome of one RRset lookup, before caching and policy.
type answer struct {
	info RRsetInfo
	rrs  []dns.RR
	// ttl is the time the answer may be cached: the minimum TTL over the
	// CNAMEs and the RRset, the negative TTL for a denial, capped by the
	// earliest RRSIG expiration. cacheable is false for a denial without SOA.
	ttl       time.Duration
	cacheable bool
	negative  bool

	tlsa       []records.TLSA
	atproto    records.ATProto
	atprotoErr error
}

// lookup queries (qname, qtype), follows CNAMEs across responses and judges
// the DNSSEC status of every response on the way. The status of the answer
// is the worst one met. Errors are *LookupError, or *BogusError when a
// trusted upstream reports a DNSSEC failure with an Extended DNS Error.
func (r *Resolver) lookup(ctx context.Context, e env, qname string, qtype uint16) (*answer, error) {
	ans := &answer{info: RRsetInfo{Name: qname, Type: qtype}}
	var verdict dnssec.Result
	var chain []string
	ttl := ^uint32(0)
	cur := qname

	for hop := 0; ; hop++ {
		resp, up, err := e.src.exchange(ctx, cur, qtype)
		if err != nil {
			return nil, r.lookupFailure(err, qname, qtype, chain)
		}
		st, err := parseResponse(cur, qtype, resp, chain)
		if err != nil {
			var le *LookupError
			if !errors.As(err, &le) {
				return nil, err
			}
			le.Name, le.Server = qname, up.name
			return nil, le
		}
		chain = st.chain
		ttl = min(ttl, st.ttl)
		if j := r.judge(ctx, e, cur, qtype, resp, up); hop == 0 {
			verdict = j
		} else {
			verdict = worse(verdict, j)
		}
		ans.info.Server = up.name
		ans.info.Rcode = resp.Rcode
		if st.next {
			cur = st.final
			continue
		}

		ans.info.CNAMEs = chain[1:]
		ans.info.Status, ans.info.Reason = verdict.Status, verdict.Reason
		if err := r.fillAnswer(ans, st, resp, ttl); err != nil {
			return nil, &LookupError{Name: qname, Type: qtype, Server: up.name, Kind: KindMalformed, Rcode: -1, Err: err}
		}
		return ans, nil
	}
}

// fillAnswer sets the data, denial flags and cache lifetime of ans from
// the last step of the lookup.
func (r *Resolver) fillAnswer(ans *answer, st step, resp *dns.Msg, ttl uint32) error {
	if st.rrs == nil {
		ans.info.NXDomain, ans.info.NoData = st.nxdomain, st.nodata
		ans.negative = true
		ans.cacheable = st.hasSOA
		ans.ttl = time.Duration(st.negTTL) * time.Second
		ans.info.TTL = st.negTTL
		return nil
	}

	ans.rrs = st.rrs
	ans.cacheable = true
	if left, ok := signatureLifetime(resp, st.final, ans.info.Type, r.now().Unix()); ok {
		ttl = uint32(min(int64(ttl), max(left, 0)))
	}
	ans.ttl = time.Duration(ttl) * time.Second
	ans.info.TTL = ttl

	switch ans.info.Type {
	case dns.TypeTLSA:
		tlsa, err := tlsaRecords(st.rrs)
		if err != nil {
			return err
		}
		ans.tlsa = tlsa
	case dns.TypeTXT:
		ans.atproto, ans.atprotoErr = records.ParseATProto(txtStrings(st.rrs))
	}
	return nil
}

// lookupFailure completes a failed exchange's error with the name that was
// queried first and the CNAMEs followed. SERVFAIL with a DNSSEC Extended
// DNS Error from a trusted upstream
// becomes *BogusError, because a validating resolver answers bogus data
// that way.
func (r *Resolver) lookupFailure(err error, qname string, qtype uint16, chain []string) error {
	var le *LookupError
	if !errors.As(err, &le) {
		return err
	}
	if len(chain) > 1 {
		le.CNAMEs = chain[1:]
	}
	if le.Kind == KindServFail && le.EDE != nil && isDNSSECFailure(le.EDE.InfoCode) && r.trustedServer(le.Server) {
		return &BogusError{Name: qname, Type: qtype, Reason: fmt.Sprintf("trusted upstream %s returned SERVFAIL with extended error %d (%s) %s",
			le.Server, le.EDE.InfoCode, dns.ExtendedErrorCodeToString[le.EDE.InfoCode], le.EDE.ExtraText)}
	}
	le.Name = qname
	return le
}

// isDNSSECFailure reports the Extended DNS Error codes 6 (DNSSEC Bogus) to
// 12 (NSEC Missing) of RFC 8914, section 4. Codes 1 and 2 (unsupported
// algorithm or digest) make a zone insecure, not bogus, and code 5 is
// indeterminate.
func isDNSSECFailure(code uint16) bool {
	return code >= dns.ExtendedErrorCodeDNSBogus && code <= dns.ExtendedErrorCodeNSECMissing
}

func (r *Resolver) trustedServer(name string) bool {
	for _, up := range r.upstreams {
		if up.name == name {
			return up.trusted
		}
	}
	return false
}

// judge decides the DNSSEC status of one response: by local validation when
// trust anchors are configured, else by the AD bit of a trusted upstream.
func (r *Resolver) judge(ctx context.Context, e env, qname string, qtype uint16, resp *dns.Msg, up *upstream) dnssec.Result {
	if e.validator != nil {
		return e.validator.Validate(ctx, qname, qtype, resp)
	}
	if !up.trusted {
		if resp.AuthenticatedData {
			return dnssec.Result{Status: dnssec.Indeterminate, Reason: fmt.Sprintf(
				"the AD bit from %s is ignored because that upstream is not trusted: use a validating resolver on loopback or over tls://, or configure trust anchors", up.name)}
		}
		return dnssec.Result{Status: dnssec.Indeterminate, Reason: fmt.Sprintf(
			"upstream %s is not trusted to validate and no trust anchors are configured", up.name)}
	}
	// RFC 4035, section 3.2.3: a validating resolver sets AD only when all
	// RRsets in the answer and authority sections are authentic.
	if resp.AuthenticatedData {
		return dnssec.Result{Status: dnssec.Secure, Reason: "validated by trusted upstream " + up.name + " (AD bit set)"}
	}
	return dnssec.Result{Status: dnssec.Insecure, Reason: "trusted upstream " + up.name + reasonNoAD}
}

// reasonNoAD ends the reason of an answer that a trusted upstream did not
// mark as authentic; Diagnose recognizes it.
const reasonNoAD = " did not set the AD bit: the zone is unsigned, or the upstream does not validate it (configure trust anchors to validate locally)"

// worse returns the result with the worse status; a keeps ties.
// The order is secure, insecure, indeterminate, bogus.
func worse(a, b dnssec.Result) dnssec.Result {
	rank := func(s dnssec.Status) int {
		switch s {
		case dnssec.Secure:
			return 0
		case dnssec.Insecure:
			return 1
		case dnssec.Indeterminate:
			return 2
		}
		return 3
	}
	if rank(b.Status) > rank(a.Status) {
		return b
	}
	return a
}

// policyError returns the error the policy gives an RRset of this status:
// *BogusError for bogus, *InsecureError for insecure or indeterminate under
// RequireSecure, nil otherwise.
func (r *Resolver) policyError(info *RRsetInfo) error {
	switch info.Status {
	case dnssec.Secure:
		return nil
	case dnssec.Bogus:
		return &BogusError{Name: info.Name, Type: info.Type, Reason: info.Reason}
	}
	if r.policy == AcceptInsecure {
		return nil
	}
	return &InsecureError{Name: info.Name, Type: info.Type, Status: info.Status, Reason: info.Reason}
}
