package resolve

import (
	"context"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
)

// ResolveATProto is Resolve for callers that read only the TXT RRset at
// _atproto.<handle>, such as an OpenID Connect login: it does not look up
// the TLSA RRset, so a broken or missing TLSA RRset does not fail it. The
// returned Result has an empty TLSA and a TLSAInfo that names the RRset
// with a zero Status. FromCache and Stale describe the TXT RRset alone.
// Errors are those of Resolve for the TXT RRset.
func (r *Resolver) ResolveATProto(ctx context.Context, h handle.Handle) (*Result, error) {
	res := &Result{
		Handle:      h,
		TLSAInfo:    RRsetInfo{Name: records.OwnerTLSA(h), Type: dns.TypeTLSA},
		ATProtoInfo: RRsetInfo{Name: records.OwnerATProto(h), Type: dns.TypeTXT},
	}
	if err := ctx.Err(); err != nil {
		return res, classify(ctx, nil, err, records.OwnerATProto(h), dns.TypeTXT, "")
	}
	if _, err := handle.ParseSyntax(string(h)); err != nil {
		return res, err
	}

	now := r.now()
	var txt *entry
	if r.cache != nil {
		txt = r.cache.get(cacheKey{string(h), dns.TypeTXT}, now)
	}
	stale := txt != nil && !txt.fresh(now)
	res.FromCache = servable(txt, now)
	if !res.FromCache {
		var err error
		if txt, stale, err = r.lookupEntry(ctx, h, dns.TypeTXT, txt); err != nil {
			return res, err
		}
		now = r.now()
	}

	fillInfo(&res.ATProtoInfo, txt, stale, now)
	res.Stale = stale
	if txt.err != nil {
		return res, txt.err
	}
	res.ATProto, res.ATProtoErr = txt.atproto, txt.atprotoErr
	return res, nil
}
