package dnssec

import "fmt"

// Status is the DNSSEC security status of an answer, one of the four
// states of RFC 4035, section 4.3.
type Status int

const (
	// Indeterminate means no trust anchor covers the name, or the chain
	// of trust could not be fetched (timeouts, SERVFAIL). It is the zero
	// value.
	Indeterminate Status = iota

	// Secure means every RRset in the answer, or its denial of existence,
	// verified through an unbroken chain from a trust anchor.
	Secure

	// Insecure means the chain proves that the name lies in an unsigned
	// zone (no DS at a delegation), or the zone's proofs use parameters
	// this package treats as unsigned.
	Insecure

	// Bogus means the answer should have verified and did not: a bad or
	// expired signature, a DS that matches no DNSKEY, a missing RRSIG or a
	// missing denial proof in a signed zone.
	Bogus
)

// String returns the status as a lowercase word: "indeterminate",
// "secure", "insecure" or "bogus".
func (s Status) String() string {
	switch s {
	case Indeterminate:
		return "indeterminate"
	case Secure:
		return "secure"
	case Insecure:
		return "insecure"
	case Bogus:
		return "bogus"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Result is the outcome of Validate.
type Result struct {
	Status Status

	// Reason explains the status in one line that names the record, zone
	// or time involved, for logs and error messages.
	Reason string
}

// String returns the status and the reason, as "bogus: RRSIG over ...".
func (r Result) String() string {
	return r.Status.String() + ": " + r.Reason
}

func secure(format string, args ...any) Result {
	return Result{Status: Secure, Reason: fmt.Sprintf(format, args...)}
}

func insecure(format string, args ...any) Result {
	return Result{Status: Insecure, Reason: fmt.Sprintf(format, args...)}
}

func bogus(format string, args ...any) Result {
	return Result{Status: Bogus, Reason: fmt.Sprintf(format, args...)}
}

func indeterminate(format string, args ...any) Result {
	return Result{Status: Indeterminate, Reason: fmt.Sprintf(format, args...)}
}

// weight orders statuses from best to worst for combining the results of
// several RRsets in one answer.
func (s Status) weight() int {
	switch s {
	case Secure:
		return 0
	case Insecure:
		return 1
	case Indeterminate:
		return 2
	}
	return 3
}

// worst returns the result with the worst status, the first one on ties.
func worst(results ...Result) Result {
	out := results[0]
	for _, r := range results[1:] {
		if r.Status.weight() > out.Status.weight() {
			out = r
		}
	}
	return out
}
