package oidclogin

import (
	"context"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// handleRecords is the data a login starts from: the handle's DID, the
// issuer of its provider and the DNSSEC status of the TXT RRset that named
// them.
type handleRecords struct {
	did    string
	issuer string
	status resolve.Status
}

// atprotoResolver is a Config.Resolver that can look up the TXT RRset
// alone, as *resolve.Resolver does. A login reads no TLSA records, so one
// that cannot be validated must not stop it.
type atprotoResolver interface {
	ResolveATProto(ctx context.Context, h handle.Handle) (*resolve.Result, error)
}

// resolveTXT resolves h and returns the attributes of its _atproto TXT
// RRset after the DNSSEC policy. With recheck set, a result from the
// resolver's cache is an error, because the check after the token exchange
// must see the records as published now.
func (l *Login) resolveTXT(ctx context.Context, h handle.Handle, recheck bool) (records.ATProto, resolve.RRsetInfo, error) {
	var res *resolve.Result
	var err error
	if r, ok := l.resolver.(atprotoResolver); ok {
		res, err = r.ResolveATProto(ctx, h)
	} else {
		res, err = l.resolver.Resolve(ctx, h)
	}
	if err != nil {
		return records.ATProto{}, resolve.RRsetInfo{}, err
	}
	if res == nil {
		return records.ATProto{}, resolve.RRsetInfo{}, &ConfigError{Field: "Resolver", Reason: "returned neither a result nor an error"}
	}
	if recheck && res.FromCache {
		return records.ATProto{}, resolve.RRsetInfo{}, &ConfigError{Field: "Resolver", Reason: "answered the check after the token exchange from its cache; use a resolver with Cache.Disabled"}
	}
	info := res.ATProtoInfo
	if info.Name == "" {
		info.Name = records.OwnerATProto(h)
	}
	if res.ATProtoErr != nil {
		return records.ATProto{}, info, res.ATProtoErr
	}
	if err := l.checkDNSSEC(info); err != nil {
		return records.ATProto{}, info, err
	}
	return res.ATProto, info, nil
}

// checkDNSSEC applies MinDNSSEC: secure always passes, bogus always fails,
// insecure and indeterminate pass only under AllowInsecure.
func (l *Login) checkDNSSEC(info resolve.RRsetInfo) error {
	switch info.Status {
	case resolve.Secure:
		return nil
	case resolve.Insecure, resolve.Indeterminate:
		if l.minDNSSEC == AllowInsecure {
			return nil
		}
	}
	return &DNSSECError{Name: info.Name, Status: info.Status, Reason: info.Reason}
}

// lookupHandle resolves the records a login starts from. It requires an
// oauth= issuer and a valid did=.
func (l *Login) lookupHandle(ctx context.Context, h handle.Handle) (*handleRecords, error) {
	attrs, info, err := l.resolveTXT(ctx, h, false)
	if err != nil {
		return nil, err
	}
	if attrs.OAuth == "" {
		return nil, &NoIssuerError{Name: info.Name, NXDomain: info.NXDomain}
	}
	issuer, err := records.ParseOAuthIssuer(attrs.OAuth)
	if err != nil {
		return nil, err
	}
	if attrs.DID == "" {
		return nil, &MissingDIDError{Name: info.Name}
	}
	if _, err := handle.ParseDID(attrs.DID); err != nil {
		return nil, err
	}
	return &handleRecords{did: attrs.DID, issuer: issuer, status: info.Status}, nil
}

// checkBinding resolves h again, without the cache, and requires did= to
// be the ID token's subject and oauth= to name the issuer the login used.
// It returns the DNSSEC status of the fresh TXT RRset.
func (l *Login) checkBinding(ctx context.Context, h handle.Handle, subject, issuer string) (resolve.Status, error) {
	attrs, info, err := l.resolveTXT(ctx, h, true)
	if err != nil {
		return 0, err
	}
	if attrs.DID != subject {
		return 0, &BindingError{Handle: string(h), Attribute: "did", DNS: attrs.DID, Token: subject}
	}
	named, err := records.ParseOAuthIssuer(attrs.OAuth)
	if err != nil {
		named = attrs.OAuth
	}
	if named != issuer {
		return 0, &BindingError{Handle: string(h), Attribute: "oauth", DNS: named, Token: issuer}
	}
	return info.Status, nil
}

// weakest returns the weaker of two DNSSEC statuses.
func weakest(a, b resolve.Status) resolve.Status {
	rank := func(s resolve.Status) int {
		switch s {
		case resolve.Secure:
			return 3
		case resolve.Insecure:
			return 2
		case resolve.Indeterminate:
			return 1
		}
		return 0
	}
	if rank(b) < rank(a) {
		return b
	}
	return a
}
