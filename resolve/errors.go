package resolve

import (
	"fmt"

	"github.com/miekg/dns"
)

// ErrorKind classifies why a lookup failed. Its String form is one lowercase word.
type ErrorKind int

const (
	// KindTimeout means no usable response arrived before the deadline.
	KindTimeout ErrorKind = iota + 1
	// KindNetwork means a socket operation failed, for example a refused TCP
	// connection or an ICMP port unreachable on UDP.
	KindNetwork
	// KindServFail means the server returned SERVFAIL.
	KindServFail
	// KindRefused means the server returned REFUSED.
	KindRefused
	// KindRcode means the server returned another unexpected rcode, such as
	// FORMERR or NOTIMP. LookupError.Rcode has the value.
	KindRcode
	// KindMalformed means a response could not be unpacked or did not match the
	// query (ID, question name, type or class), or was truncated over TCP.
	KindMalformed
	// KindCNAME means a CNAME chain looped or was longer than MaxCNAMEs.
	KindCNAME
	// KindCanceled means the caller's context was canceled.
	KindCanceled
	// KindOffline means an offline Resolver found no answer for the query in its
	// snapshot.
	KindOffline
)

var kindNames = map[ErrorKind]string{
	KindTimeout:   "timeout",
	KindNetwork:   "network",
	KindServFail:  "servfail",
	KindRefused:   "refused",
	KindRcode:     "rcode",
	KindMalformed: "malformed",
	KindCNAME:     "cname",
	KindCanceled:  "canceled",
	KindOffline:   "offline",
}

// String returns the lowercase name of the kind, such as "timeout".
func (k ErrorKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// MarshalText encodes the kind as its String form, for JSON views.
func (k ErrorKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// LookupError reports a DNS query that produced no usable answer.
// Match it with errors.As; Unwrap returns the underlying cause, so
// errors.Is(err, context.DeadlineExceeded) holds for deadline timeouts.
type LookupError struct {
	Name   string // query name, absolute ("alice.example.")
	Type   uint16 // query type, such as dns.TypeTLSA
	Server string // upstream that failed last, "" when none was reached
	Kind   ErrorKind
	Rcode  int            // response code for KindServFail, KindRefused and KindRcode, else -1
	EDE    *dns.EDNS0_EDE // Extended DNS Error (RFC 8914) in the failing response, if any
	CNAMEs []string       // CNAME targets followed before the failure
	Err    error          // cause, may be nil
}

// Error describes the failed query, the server and the kind of failure.
func (e *LookupError) Error() string {
	subject := fmt.Sprintf("lookup %s %s", dns.TypeToString[e.Type], e.Name)
	at := ""
	if e.Server != "" {
		at = " at " + e.Server
	}
	var msg string
	switch e.Kind {
	case KindServFail, KindRefused, KindRcode:
		msg = fmt.Sprintf("%s: server%s returned %s", subject, at, dns.RcodeToString[e.Rcode])
		if e.EDE != nil {
			msg += fmt.Sprintf(" (extended error %d %s", e.EDE.InfoCode, dns.ExtendedErrorCodeToString[e.EDE.InfoCode])
			if e.EDE.ExtraText != "" {
				msg += ": " + e.EDE.ExtraText
			}
			msg += ")"
		}
	case KindTimeout:
		msg = fmt.Sprintf("%s: timed out%s", subject, at)
	case KindCNAME:
		msg = fmt.Sprintf("%s: CNAME chain %v loops or has more than %d links", subject, e.CNAMEs, MaxCNAMEs)
	case KindOffline:
		msg = fmt.Sprintf("%s: not in the offline snapshot (a snapshot taken without trust anchors lacks the DNSKEY and DS chain)", subject)
	default:
		msg = fmt.Sprintf("%s: %s error%s", subject, e.Kind, at)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *LookupError) Unwrap() error { return e.Err }

// InsecureError reports an RRset whose DNSSEC status is insecure or
// indeterminate while the policy is RequireSecure.
type InsecureError struct {
	Name   string // owner name of the RRset that was queried
	Type   uint16
	Status Status // dnssec.Insecure or dnssec.Indeterminate
	Reason string // why the status is not secure
}

// Error names the RRset, its status, the reason and the two ways out.
func (e *InsecureError) Error() string {
	return fmt.Sprintf("%s at %s is %s: %s: the policy requires DNSSEC-signed answers "+
		"(sign the zone and publish its DS, or accept insecure answers for development only: resolve.AcceptInsecure, --accept-insecure)",
		dns.TypeToString[e.Type], e.Name, e.Status, e.Reason)
}

// BogusError reports an RRset that failed DNSSEC validation. It is returned
// under every policy.
type BogusError struct {
	Name   string // owner name of the RRset that was queried
	Type   uint16
	Reason string // which check failed
}

// Error names the RRset and the failed check.
func (e *BogusError) Error() string {
	return fmt.Sprintf("%s at %s is bogus: %s", dns.TypeToString[e.Type], e.Name, e.Reason)
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string // "Servers", "Trusted", "Cache.MaxTTL" ...
	Value  string
	Reason string
}

// Error names the field, the value and what is wrong with it.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid resolver config %s %q: %s", e.Field, e.Value, e.Reason)
}
