package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/resolve"
)

// DefaultTimeout bounds the DNS resolution of one verification, and
// separately the CRL fetch, when Verifier.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// HandleResolver looks up the TLSA records at a handle and the TXT records
// at _atproto.<handle>. *resolve.Resolver implements it. Implementations
// must be safe for concurrent use and should return when ctx ends. The
// Verifier stops waiting at its deadline either way.
type HandleResolver interface {
	Resolve(ctx context.Context, h handle.Handle) (*resolve.Result, error)
}

// CRLSource supplies the current CRL of a CSC, for example from files the
// relying party keeps. It must be safe for concurrent use. A nil der with
// a nil error means no CRL is known for this CSC, and the revocation check
// is skipped for it. An error fails the verification, because a relying
// party that checks revocation must not accept a device whose status it
// cannot learn. A source that also needs the leaf, to read its CRL
// distribution points, implements LeafCRLSource, as *CRLFetcher does.
type CRLSource interface {
	CRL(ctx context.Context, csc *x509.Certificate) (der []byte, err error)
}

// Verifier checks client certificate chains against the DNS records of the
// handle they name. Set the fields before first use and do not change or
// copy the Verifier afterwards. Its methods are then safe for concurrent
// use.
type Verifier struct {
	// Resolver resolves handles and is required. Use a *resolve.Resolver
	// with its cache, so that verification of a known handle costs no
	// query. Configure it with resolve.AcceptInsecure and let
	// Policy.AllowInsecure decide, because a RequireSecure resolver fails
	// insecure handles itself.
	Resolver HandleResolver
	// Policy is the relying party's rule set. The zero value is the
	// production default.
	Policy Policy
	// CRLs supplies CSC CRLs. Nil turns revocation checks off. Use a
	// *CRLFetcher to fetch them from the leaves' distribution points.
	CRLs CRLSource
	// Now returns the current time for certificate and CRL validity. Nil
	// means time.Now.
	Now func() time.Time
	// Timeout is the hard limit on resolving one handle, and separately on
	// fetching one CRL. When it passes, the verification fails with a
	// *TimeoutError at StepDNS without waiting for the resolver. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// PKIXRoots are the roots for TLSA usages 0 and 1 when
	// Policy.AllowPKIX is set. Nil means the system roots.
	PKIXRoots *x509.CertPool
	// ConnectionTTL is how long Middleware reuses the Identity verified in
	// a handshake for requests on the same connection. After it, the chain
	// is verified again. The entry never outlives the leaf's NotAfter.
	// Zero means DefaultConnectionTTL.
	ConnectionTTL time.Duration
	// MaxConnections bounds the connections whose Identity is kept, and
	// the oldest are dropped first. Zero means DefaultMaxConnections.
	MaxConnections int
	// RequestError, when set, is called by Middleware with each request
	// whose certificate chain fails verification again after its cached
	// Identity expired. The request then continues with no Identity.
	RequestError func(r *http.Request, err error)

	conns connCache
}

// ConfigError reports a Verifier that cannot verify anything as
// configured.
type ConfigError struct {
	// Field is the Verifier field at fault.
	Field string
	// Reason describes what is wrong and what to set.
	Reason string
}

func (e *ConfigError) Error() string {
	return "invalid verifier configuration: " + e.Field + ": " + e.Reason
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) timeout() time.Duration {
	if v.Timeout > 0 {
		return v.Timeout
	}
	return DefaultTimeout
}

// VerifyChain verifies a client certificate chain, leaf first, and returns
// the Identity it proves. The steps and their order are those of the
// package documentation. It queries DNS (through Resolver) only after the
// handle passed the syntax and policy checks, and it fetches a CRL only
// when CRLs is set. Every error is a *Error.
func (v *Verifier) VerifyChain(ctx context.Context, chain []*x509.Certificate) (*Identity, error) {
	if err := checkChain(chain); err != nil {
		return nil, &Error{Step: StepTLS, Err: err}
	}
	leaf := chain[0]

	h, step, err := v.readHandle(leaf)
	if err != nil {
		return nil, &Error{Step: step, Handle: string(h), Err: err}
	}

	res, err := v.resolve(ctx, h)
	if err != nil {
		return nil, &Error{Step: StepDNS, Handle: string(h), Err: err}
	}

	anchors, step, err := v.accredit(res, chain)
	if err != nil {
		return nil, &Error{Step: step, Handle: string(h), Err: err}
	}

	did, err := v.bindDID(leaf, res, anchors)
	if err != nil {
		return nil, &Error{Step: StepDID, Handle: string(h), Err: err}
	}

	if err := v.checkRevocation(ctx, leaf, anchors); err != nil {
		return nil, &Error{Step: StepRevocation, Handle: string(h), Err: err}
	}

	return &Identity{
		Handle: h,
		DID:    did,
		Device: pki.SPKIFingerprint(leaf),
		DNSSEC: weakest(res.TLSAInfo.Status, res.ATProtoInfo.Status),
		Method: MethodTLS,
	}, nil
}

// VerifyConnectionState verifies the client of a finished TLS handshake:
// TLS 1.3, then VerifyChain of cs.PeerCertificates. Every error is a *Error.
func (v *Verifier) VerifyConnectionState(ctx context.Context, cs tls.ConnectionState) (*Identity, error) {
	// TLS 1.2 sends the client certificate unencrypted, which would show
	// the handle to anyone on the path, so the profile requires TLS 1.3.
	if cs.Version != tls.VersionTLS13 {
		return nil, &Error{Step: StepTLS, Err: &VersionError{Version: cs.Version}}
	}
	return v.VerifyChain(ctx, cs.PeerCertificates)
}

// checkChain rejects an empty chain and nil entries.
func checkChain(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return ErrNoCertificate
	}
	for i, cert := range chain {
		if cert == nil {
			return &ChainError{Index: i}
		}
	}
	return nil
}

// ChainError reports a chain with a nil certificate, a programming error
// of the caller.
type ChainError struct {
	// Index is the position of the nil entry.
	Index int
}

func (e *ChainError) Error() string {
	return "certificate " + strconv.Itoa(e.Index) + " of the chain is nil"
}

// readHandle returns the handle named by the leaf's single dNSName, after
// the syntax and policy checks, with the step that failed.
func (v *Verifier) readHandle(leaf *x509.Certificate) (handle.Handle, Step, error) {
	if len(leaf.DNSNames) != 1 {
		return "", StepHandle, &SANError{Kind: "dNSName", Values: leaf.DNSNames}
	}
	name := leaf.DNSNames[0]

	h, err := handle.Parse(name)
	if err != nil {
		return "", StepHandle, err
	}
	// The leaf must name the handle in its normal form, byte for byte,
	// so that no other spelling is ever looked up or reported.
	if string(h) != name {
		return h, StepHandle, &NameMismatchError{DNSName: name, Handle: string(h)}
	}

	if err := v.Policy.check(h); err != nil {
		return h, StepPolicy, err
	}
	return h, 0, nil
}

// resolve runs the resolver under the hard timeout and checks what came
// back: DNSSEC status, ambiguous TXT, and the presence of TLSA records.
func (v *Verifier) resolve(ctx context.Context, h handle.Handle) (*resolve.Result, error) {
	if v.Resolver == nil {
		return nil, &ConfigError{Field: "Resolver", Reason: "no HandleResolver is set: use resolve.New"}
	}

	res, err := v.resolveWithin(ctx, h)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, &ConfigError{Field: "Resolver", Reason: "Resolve returned neither a result nor an error"}
	}

	if err := v.checkDNSSEC(res.TLSAInfo, "TLSA"); err != nil {
		return nil, err
	}
	if err := v.checkDNSSEC(res.ATProtoInfo, "TXT"); err != nil {
		return nil, err
	}
	if res.ATProtoErr != nil {
		return nil, res.ATProtoErr
	}
	if res.TLSAInfo.NXDomain || len(res.TLSA) == 0 {
		return nil, &NoTLSAError{Name: rrsetName(res.TLSAInfo, h), NXDomain: res.TLSAInfo.NXDomain}
	}
	return res, nil
}

// resolveWithin calls the resolver and stops waiting at the timeout even if
// the resolver ignores its context. The resolver's goroutine then finishes
// on its own and its result is dropped.
func (v *Verifier) resolveWithin(ctx context.Context, h handle.Handle) (*resolve.Result, error) {
	timeout := v.timeout()
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < timeout {
		timeout = time.Until(deadline)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	type outcome struct {
		res *resolve.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := v.Resolver.Resolve(ctx, h)
		done <- outcome{res, err}
	}()

	select {
	case o := <-done:
		// The resolver may run out of time on its own copy of the
		// deadline a moment before ctx reports it, so the clock decides.
		deadline, _ := ctx.Deadline()
		if o.err != nil && !time.Now().Before(deadline) {
			return nil, &TimeoutError{Handle: string(h), Timeout: timeout, Err: o.err}
		}
		return o.res, o.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &TimeoutError{Handle: string(h), Timeout: timeout, Err: ctx.Err()}
		}
		return nil, ctx.Err()
	}
}
