package resolve

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
)

// Diagnose turns the outcome of Resolve into lines a person can act on,
// one problem per line, each saying what is wrong, where, and what to
// publish or change. res may be nil. It returns nil when there is nothing
// to fix. RRsets that are usable but weaker than secure are reported by
// Notes, not here.
func Diagnose(res *Result, err error) []string {
	var lines []string
	failed := map[string]bool{} // "name/type" of RRsets that have an error line

	for _, e := range flattenErrors(err) {
		line, rrset := diagnoseError(e)
		lines = append(lines, line)
		if rrset != "" {
			failed[rrset] = true
		}
	}
	if res == nil {
		return lines
	}

	if !failed[rrsetKey(res.TLSAInfo)] {
		lines = append(lines, diagnoseTLSA(res)...)
	}
	if !failed[rrsetKey(res.ATProtoInfo)] {
		lines = append(lines, diagnoseATProto(res)...)
	}
	return lines
}

// flattenErrors expands errors.Join trees into their leaves.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

func rrsetKey(info RRsetInfo) string {
	return strings.ToLower(info.Name) + "/" + dns.TypeToString[info.Type]
}

// diagnoseError returns the advice for one error and the key of the RRset
// it concerns, "" when it concerns none.
func diagnoseError(err error) (line, rrset string) {
	var (
		lookup   *LookupError
		insecure *InsecureError
		bogus    *BogusError
	)
	switch {
	case errors.As(err, &bogus):
		return fmt.Sprintf("%s at %s is bogus: %s: check that the upstream serves the zones below the trust anchor, then re-sign the zone and check the DS record at the parent and the RRSIG validity dates",
			dns.TypeToString[bogus.Type], bogus.Name, bogus.Reason), rrsetKey(RRsetInfo{Name: bogus.Name, Type: bogus.Type})
	case errors.As(err, &insecure):
		key := rrsetKey(RRsetInfo{Name: insecure.Name, Type: insecure.Type})
		if insecure.Status == Insecure {
			if strings.HasSuffix(insecure.Reason, reasonNoAD) {
				return fmt.Sprintf("%s at %s is not validated (insecure): %s: if the zone is signed, give its DS or DNSKEY as a trust anchor (dnshandle: --trust-anchor FILE) or ask a validating resolver",
					dns.TypeToString[insecure.Type], insecure.Name, insecure.Reason), key
			}
			return fmt.Sprintf("%s at %s is not signed (insecure): %s: sign the zone with DNSSEC and publish its DS record at the parent",
				dns.TypeToString[insecure.Type], insecure.Name, insecure.Reason), key
		}
		return fmt.Sprintf("the DNSSEC status of %s at %s is indeterminate: %s: configure trust anchors, or use a validating resolver on loopback or over tls://",
			dns.TypeToString[insecure.Type], insecure.Name, insecure.Reason), key
	case errors.As(err, &lookup):
		return diagnoseLookup(lookup), rrsetKey(RRsetInfo{Name: lookup.Name, Type: lookup.Type})
	}
	return err.Error(), ""
}

func diagnoseLookup(e *LookupError) string {
	what := fmt.Sprintf("%s at %s", dns.TypeToString[e.Type], e.Name)
	switch e.Kind {
	case KindTimeout:
		return fmt.Sprintf("the query for %s timed out (last server %s): check that the resolver is reachable, or raise the timeout", what, orNone(e.Server))
	case KindNetwork:
		return fmt.Sprintf("the query for %s failed at %s: %v: check the resolver address and that it accepts DNS over UDP and TCP", what, orNone(e.Server), e.Err)
	case KindServFail:
		return fmt.Sprintf("%s returned SERVFAIL for %s: the zone's name servers may be unreachable or its DNSSEC broken (compare dig +cd and dig +dnssec)", orNone(e.Server), what)
	case KindRefused:
		return fmt.Sprintf("%s refused the query for %s: allow recursion for this client or choose another resolver", orNone(e.Server), what)
	case KindCNAME:
		return fmt.Sprintf("the CNAME chain at %s (%s) loops or has more than %d links: point the name at its final target", e.Name, strings.Join(e.CNAMEs, " -> "), MaxCNAMEs)
	case KindOffline:
		if e.Type == dns.TypeDNSKEY || e.Type == dns.TypeDS {
			return fmt.Sprintf("the offline snapshot has no answer for %s: take a new snapshot of this handle with trust anchors configured, so that it also records the DNSKEY and DS chain", what)
		}
		return fmt.Sprintf("the offline snapshot has no answer for %s: the handle is not in it, so write a new snapshot that lists it (dnshandle resolve @HANDLE... --write-snapshot FILE)", what)
	}
	return e.Error()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// diagnoseTLSA checks the TLSA RRset of a result that had no error for it.
func diagnoseTLSA(res *Result) []string {
	info := res.TLSAInfo
	publish := fmt.Sprintf("publish %q", info.Name+" IN TLSA 2 1 1 <sha256 of your CSC key>")
	var lines []string
	switch {
	case info.NXDomain:
		lines = append(lines, fmt.Sprintf("%s does not exist (NXDOMAIN): %s", nameAfterCNAMEs(info), publish))
	case info.NoData:
		lines = append(lines, fmt.Sprintf("no TLSA record at %s: %s", nameAfterCNAMEs(info), publish))
	case len(res.TLSA) > 0 && !hasDANERecord(res.TLSA):
		lines = append(lines, fmt.Sprintf("no usable DANE-TA(2) or DANE-EE(3) record in the TLSA RRset at %s: %s", info.Name, publish))
	}
	for _, t := range res.TLSA {
		if !t.Usable() {
			lines = append(lines, fmt.Sprintf("TLSA record %q at %s is unusable and ignored: check its fields and digest length", t.String(), info.Name))
		}
	}
	return lines
}

func hasDANERecord(rrs []records.TLSA) bool {
	for _, t := range rrs {
		if t.Usable() && (t.Usage == records.DANETA || t.Usage == records.DANEEE) {
			return true
		}
	}
	return false
}

// diagnoseATProto checks the _atproto TXT RRset of a result that had no
// error for it.
func diagnoseATProto(res *Result) []string {
	info := res.ATProtoInfo
	publish := fmt.Sprintf("publish %q", info.Name+` IN TXT "did=<your DID>"`)
	var ambiguous *records.AmbiguousError
	var lines []string
	switch {
	case errors.As(res.ATProtoErr, &ambiguous):
		lines = append(lines, fmt.Sprintf("%s different %s= values at %s (%s): keep one",
			countWord(len(ambiguous.Values)), ambiguous.Key, info.Name, strings.Join(ambiguous.Values, ", ")))
	case res.ATProtoErr != nil:
		lines = append(lines, fmt.Sprintf("the TXT RRset at %s cannot be read: %v", info.Name, res.ATProtoErr))
	case info.NXDomain:
		lines = append(lines, fmt.Sprintf("%s does not exist (NXDOMAIN): %s", nameAfterCNAMEs(info), publish))
	case info.NoData:
		lines = append(lines, fmt.Sprintf("no TXT record at %s: %s", nameAfterCNAMEs(info), publish))
	case res.ATProto.DID == "":
		lines = append(lines, fmt.Sprintf("the TXT RRset at %s has no did= attribute: %s", info.Name, publish))
	default:
		if _, err := handle.ParseDID(res.ATProto.DID); err != nil {
			lines = append(lines, fmt.Sprintf("the did= value at %s is invalid: %v", info.Name, err))
		}
	}
	return lines
}

// Notes returns warnings about a usable result: RRsets accepted only
// because the policy is AcceptInsecure, and RRsets served stale. res may
// be nil.
func Notes(res *Result) []string {
	if res == nil {
		return nil
	}
	return append(statusLines(res.TLSAInfo), statusLines(res.ATProtoInfo)...)
}

// statusLines flags an RRset that is usable only because of AcceptInsecure,
// or that was served stale.
func statusLines(info RRsetInfo) []string {
	if info.Name == "" {
		return nil
	}
	var lines []string
	what := fmt.Sprintf("%s at %s", dns.TypeToString[info.Type], info.Name)
	switch info.Status {
	case Insecure:
		lines = append(lines, fmt.Sprintf("%s is insecure and accepted only because the policy is AcceptInsecure: %s", what, info.Reason))
	case Indeterminate:
		lines = append(lines, fmt.Sprintf("the DNSSEC status of %s is indeterminate and accepted only because the policy is AcceptInsecure: %s", what, info.Reason))
	}
	if info.Stale {
		lines = append(lines, fmt.Sprintf("%s was served stale from the cache because every upstream failed", what))
	}
	return lines
}

// nameAfterCNAMEs returns the name a denial applies to: the last CNAME
// target, or the queried name.
func nameAfterCNAMEs(info RRsetInfo) string {
	if n := len(info.CNAMEs); n > 0 {
		return fmt.Sprintf("%s (CNAME target of %s)", info.CNAMEs[n-1], info.Name)
	}
	return info.Name
}

func countWord(n int) string {
	words := []string{"zero", "one", "two", "three", "four", "five"}
	if n < len(words) {
		return words[n]
	}
	return fmt.Sprint(n)
}
