package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// dpopHeader is the request header of a proof and the response header of a
// nonce (RFC 9449, sections 4.1 and 8).
const (
	dpopHeader      = "DPoP"
	dpopNonceHeader = "DPoP-Nonce"
)

// checkDPoP verifies the DPoP proof of r at the endpoint path (RFC 9449,
// section 4.3), for the access token presented with it or "" at the
// authorization server's endpoints. It returns nil and no error when r has
// no DPoP header. It returns a *dpopError for a proof it rejects, and other
// errors for failures of the store. A proof it accepts is recorded, so the
// same proof is rejected the next time.
func (p *Provider) checkDPoP(ctx context.Context, r *http.Request, path, accessToken string) (*dpopProof, error) {
	values := r.Header.Values(dpopHeader)
	switch len(values) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, invalidProof("the request has %d DPoP headers, want 1", len(values))
	}
	proof, err := parseDPoPProof(values[0])
	if err != nil {
		return nil, err
	}

	now := p.cfg.Now()
	switch {
	case proof.htm != r.Method:
		return nil, invalidProof("htm is %q but the request method is %s", truncate(proof.htm, 16), r.Method)
	case !sameTargetURI(proof.htu, p.issuer+path):
		return nil, invalidProof("htu is %q but the request is for %s", truncate(proof.htu, 200), p.issuer+path)
	case now.Sub(proof.iat) > p.cfg.DPoPProofMaxAge:
		return nil, invalidProof("iat %s is more than %s ago", proof.iat.UTC().Format(time.RFC3339), p.cfg.DPoPProofMaxAge)
	case proof.iat.Sub(now) > dpopFutureSkew:
		return nil, invalidProof("iat %s is in the future", proof.iat.UTC().Format(time.RFC3339))
	case accessToken != "" && proof.ath == "":
		return nil, invalidProof("the ath claim with the hash of the access token is missing")
	case accessToken != "" && proof.ath != accessTokenHash(accessToken):
		return nil, invalidProof("the ath claim does not match the access token")
	}

	// RFC 9449, section 8: the provider requires a nonce of its own in every
	// proof, which bounds how long a proof made ahead of time is usable.
	if proof.nonce == "" {
		return nil, &dpopError{code: errUseDPoPNonce, reason: "the proof has no nonce: retry with the value of the DPoP-Nonce response header"}
	}
	if err := p.nonces.check(proof.nonce, now); err != nil {
		return nil, &dpopError{code: errUseDPoPNonce, reason: err.Error() + ": retry with the value of the DPoP-Nonce response header"}
	}

	// RFC 9449, section 11.1: one use per proof. The record lasts until iat
	// no longer passes the check above.
	id := hashToken(proof.jkt + "\x00" + proof.jti)
	expires := proof.iat.Add(p.cfg.DPoPProofMaxAge + dpopFutureSkew)
	err = p.cfg.Store.InTx(ctx, func(tx store.Tx) error { return tx.RecordDPoPProof(ctx, id, expires) })
	if errors.Is(err, store.ErrConflict) {
		return nil, invalidProof("the proof with jti %q was used before: make a new proof for each request", truncate(proof.jti, 64))
	}
	if err != nil {
		return nil, fmt.Errorf("record DPoP proof: %w", err)
	}
	return proof, nil
}

// sameTargetURI reports whether the htu claim names target, ignoring the
// query and fragment of htu and comparing scheme and host without regard to
// case and default ports (RFC 9449, section 4.3, with the
// normalization of RFC 3986, section 6.2.3).
func sameTargetURI(htu, target string) bool {
	a, err := url.Parse(htu)
	if err != nil {
		return false
	}
	b, err := url.Parse(target)
	if err != nil {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && a.User == nil &&
		normalHost(a) == normalHost(b) && normalPath(a) == normalPath(b)
}

func normalHost(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (port == "443" && strings.EqualFold(u.Scheme, "https")) || (port == "80" && strings.EqualFold(u.Scheme, "http")) {
		port = ""
	}
	return host + ":" + port
}

func normalPath(u *url.URL) string {
	if u.EscapedPath() == "" {
		return "/"
	}
	return u.EscapedPath()
}

// withNonce sets a fresh DPoP-Nonce header on the response (RFC 9449,
// section 8.2), so a client always has a nonce for its next proof.
func (p *Provider) withNonce(w http.ResponseWriter) {
	w.Header().Set(dpopNonceHeader, p.nonces.issue(p.cfg.Now()))
}

// writeDPoPError responds to a rejected proof at an authorization server
// endpoint with 400 and the error code in JSON (RFC 9449, sections 5 and
// 8), or with 500 for a failure of the provider.
func (p *Provider) writeDPoPError(w http.ResponseWriter, r *http.Request, err error) {
	var proofErr *dpopError
	if !errors.As(err, &proofErr) {
		p.serverError(w, r, "check the DPoP proof", err)
		return
	}
	writeOAuthError(w, http.StatusBadRequest, proofErr.code, proofErr.reason)
}

// proofKey is the context key of the accepted DPoP proof of a token request.
type proofKey struct{}

func withProof(ctx context.Context, proof *dpopProof) context.Context {
	return context.WithValue(ctx, proofKey{}, proof)
}

// proofFrom returns the DPoP proof accepted for the request of ctx, or nil.
func proofFrom(ctx context.Context) *dpopProof {
	proof, _ := ctx.Value(proofKey{}).(*dpopProof)
	return proof
}
