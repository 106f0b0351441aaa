package verify

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// anchor is a key that a TLSA record accredits for this chain, after its
// path checks passed.
type anchor struct {
	// usage is the TLSA usage of the matching record.
	usage records.Usage
	// key is the accredited public key: the trust anchor's for TA usages,
	// the leaf's for EE usages.
	key crypto.PublicKey
	// csc is the accredited DANE-TA certificate, whose CRL covers the
	// leaf; nil for other usages.
	csc *x509.Certificate
}

// accredit matches the TLSA records against the chain (StepTLSA) and checks
// the path of every match (StepPath). It returns the anchors whose checks
// passed. A chain is accepted when at least one did.
func (v *Verifier) accredit(res *resolve.Result, chain []*x509.Certificate) ([]anchor, Step, error) {
	rrs, pkixIgnored := v.usableRecords(res.TLSA)
	matches, err := records.MatchTLSA(rrs, chain)
	if err != nil {
		return nil, StepTLSA, &TLSAMatchError{
			Name:        rrsetName(res.TLSAInfo, res.Handle),
			Records:     len(res.TLSA),
			PKIXIgnored: pkixIgnored,
			Err:         err,
		}
	}

	now := v.now()
	var anchors []anchor
	var firstErr error
	pkix := pkixCheck{verifier: v, chain: chain}
	for _, m := range matches {
		a, err := v.checkMatch(m, chain, now, &pkix)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		anchors = append(anchors, a)
	}
	if len(anchors) == 0 {
		return nil, StepPath, firstErr
	}
	return anchors, 0, nil
}

// usableRecords drops the PKIX usages unless the Policy allows them, and
// returns how many it dropped.
func (v *Verifier) usableRecords(rrs []records.TLSA) ([]records.TLSA, int) {
	if v.Policy.AllowPKIX {
		return rrs, 0
	}
	kept := make([]records.TLSA, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Usage == records.PKIXTA || rr.Usage == records.PKIXEE {
			continue
		}
		kept = append(kept, rr)
	}
	return kept, len(rrs) - len(kept)
}

// checkMatch runs the path checks that one TLSA match needs.
func (v *Verifier) checkMatch(m records.Match, chain []*x509.Certificate, now time.Time, pkix *pkixCheck) (anchor, error) {
	leaf := chain[0]
	switch m.Record.Usage {
	case records.DANEEE:
		// RFC 7671, section 5.1: a DANE-EE record binds the key itself,
		// so the certificate's validity, issuer and extensions are not
		// checked.
		return anchor{usage: m.Record.Usage, key: leaf.PublicKey}, nil

	case records.DANETA:
		// MatchTLSA never matches a TA record with the leaf. This check
		// keeps the function correct on its own.
		if m.Index < 1 {
			return anchor{}, fmt.Errorf("DANE-TA record %s matched the leaf, which cannot be its own trust anchor", m.Record)
		}
		csc := chain[m.Index]
		if err := pki.VerifyPath(leaf, csc, now); err != nil {
			return anchor{}, err
		}
		return anchor{usage: m.Record.Usage, key: csc.PublicKey, csc: csc}, nil

	case records.PKIXTA, records.PKIXEE:
		return pkix.check(m, now)
	}
	return anchor{}, fmt.Errorf("TLSA usage %d is not supported", m.Record.Usage)
}

// pkixCheck verifies the chain against the PKIX roots once, for all PKIX
// matches of one verification.
type pkixCheck struct {
	verifier *Verifier
	chain    []*x509.Certificate
	done     bool
	verified [][]*x509.Certificate
	err      error
}

// check accepts a PKIX-EE match when the chain verifies to a root, and a
// PKIX-TA match when the matched certificate is also on a verified path
// (RFC 6698, section 2.1.1).
func (p *pkixCheck) check(m records.Match, now time.Time) (anchor, error) {
	if !p.done {
		p.done = true
		p.verified, p.err = p.verify(now)
	}
	if p.err != nil {
		return anchor{}, &PKIXError{Err: p.err}
	}

	leaf := p.chain[0]
	if m.Record.Usage == records.PKIXEE {
		return anchor{usage: m.Record.Usage, key: leaf.PublicKey}, nil
	}
	ta := p.chain[m.Index]
	for _, path := range p.verified {
		for _, cert := range path[1:] {
			if bytes.Equal(cert.Raw, ta.Raw) {
				return anchor{usage: m.Record.Usage, key: ta.PublicKey}, nil
			}
		}
	}
	return anchor{}, &PKIXError{Err: errors.New("the certificate the PKIX-TA record matched is on no verified path to a root")}
}

func (p *pkixCheck) verify(now time.Time) ([][]*x509.Certificate, error) {
	intermediates := x509.NewCertPool()
	for _, cert := range p.chain[1:] {
		intermediates.AddCert(cert)
	}
	return p.chain[0].Verify(x509.VerifyOptions{
		Roots:         p.verifier.PKIXRoots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}
