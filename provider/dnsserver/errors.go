package dnsserver

import (
	"fmt"

	"github.com/miekg/dns"
)

// ZoneError reports a zone the Signer cannot work on: not created yet,
// created twice, or with data that breaks the signer's invariants. Match
// it with errors.As.
type ZoneError struct {
	Zone   string
	Reason string
	Err    error
}

func (e *ZoneError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("zone %s: %s: %v", e.Zone, e.Reason, e.Err)
	}
	return fmt.Sprintf("zone %s: %s", e.Zone, e.Reason)
}

func (e *ZoneError) Unwrap() error { return e.Err }

// RecordError reports a record or RRset that cannot be stored or served:
// a name outside the zone, a type the Signer manages itself, a record
// that does not parse. Match it with errors.As.
type RecordError struct {
	Zone   string
	Name   string
	Type   uint16
	Reason string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %s %s in zone %s: %s", e.Name, dns.Type(e.Type), e.Zone, e.Reason)
}

// KeyError reports a DNSSEC key of a zone that is missing or cannot be
// used: no KSK or ZSK in the store, a sealed key the Sealer cannot open,
// a private key that does not match its DNSKEY. Match it with errors.As.
type KeyError struct {
	Zone   string
	Flags  uint16 // 257 for the KSK, 256 for the ZSK, 0 when not specific
	Reason string
	Err    error
}

func (e *KeyError) Error() string {
	role := "key"
	switch e.Flags {
	case kskFlags:
		role = "KSK"
	case zskFlags:
		role = "ZSK"
	}
	if e.Err != nil {
		return fmt.Sprintf("%s of zone %s: %s: %v", role, e.Zone, e.Reason, e.Err)
	}
	return fmt.Sprintf("%s of zone %s: %s", role, e.Zone, e.Reason)
}

func (e *KeyError) Unwrap() error { return e.Err }

// ConfigError reports an invalid Config field. Match it with errors.As.
type ConfigError struct {
	Field  string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("dnsserver config %s %q: %s", e.Field, e.Value, e.Reason)
}

// NotifyError reports a NOTIFY (RFC 1996) that a secondary did not
// acknowledge. Match it with errors.As.
type NotifyError struct {
	Zone      string
	Secondary string // address of the secondary
	Rcode     int    // rcode of the response, or -1 when none arrived
	Err       error  // the network or TSIG error, when there was one
}

func (e *NotifyError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("NOTIFY for zone %s to %s failed: %v", e.Zone, e.Secondary, e.Err)
	}
	return fmt.Sprintf("NOTIFY for zone %s to %s failed: response rcode %s", e.Zone, e.Secondary, dns.RcodeToString[e.Rcode])
}

func (e *NotifyError) Unwrap() error { return e.Err }
