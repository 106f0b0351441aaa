package verify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// is returns a check that err has a cause of type T.
func is[T error]() func(error) bool {
	return func(err error) bool {
		_, ok := errors.AsType[T](err)
		return ok
	}
}

// assertStep fails t unless err is a *Error at step and id is nil.
func assertStep(t *testing.T, id *Identity, err error, step Step) *Error {
	t.Helper()
	if id != nil {
		t.Errorf("got Identity %+v, want none", *id)
	}
	verr, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *verify.Error", err, err)
	}
	if verr.Step != step {
		t.Fatalf("failed at step %s, want %s: %v", verr.Step, step, err)
	}
	return verr
}

// leafFrom issues a profile leaf for h with the identity's CSC, changed by
// mutate, and returns the chain [leaf, CSC].
func leafFrom(t *testing.T, id *identity, h string, mutate func(*x509.Certificate)) []*x509.Certificate {
	t.Helper()
	template := leafTemplate(h, id.csc.DID.String())
	if mutate != nil {
		mutate(template)
	}
	key := newKey(t, pki.KeyP256)
	leaf := issueLeaf(t, template, id.csc.Certificate, key.Public(), id.csc.Key)
	return []*x509.Certificate{leaf, id.csc.Certificate}
}

// withCSC certifies the identity's CSC key again with the CSC template
// changed by mutate, and returns [leaf, new CSC] with a profile leaf that
// the new CSC signed. The "2 1 1" record of the identity still matches,
// because the key is the same.
func withCSC(t *testing.T, id *identity, mutate func(*x509.Certificate)) []*x509.Certificate {
	t.Helper()
	template := cscTemplate(string(id.h))
	mutate(template)
	csc := issueCSC(t, template, id.csc.Key)
	key := newKey(t, pki.KeyP256)
	leaf := issueLeaf(t, leafTemplate(string(id.h), id.csc.DID.String()), csc, key.Public(), id.csc.Key)
	return []*x509.Certificate{leaf, csc}
}

// crlOf returns a CRL source that returns der and err for every CSC.
func crlOf(der []byte, err error) CRLSource {
	return CRLSourceFunc(func(context.Context, *x509.Certificate) ([]byte, error) { return der, err })
}

func createCRL(t *testing.T, csc *pki.CSC, revoked []pki.RevokedCert, thisUpdate, nextUpdate time.Time) []byte {
	t.Helper()
	der, err := pki.CreateCRL(nil, csc, revoked, big.NewInt(1), thisUpdate, nextUpdate)
	if err != nil {
		t.Fatalf("CreateCRL: %v", err)
	}
	return der
}

func TestVerifyChainRejects(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	strict := newResolver(t, w.server, w.root, resolve.RequireSecure)

	// A server that drops every query, so every lookup times out.
	silent := dnstest.Start(t, w.root)
	silent.SetHandler(func(dns.ResponseWriter, *dns.Msg) bool { return true })
	silentResolver := newResolver(t, silent, w.root, resolve.AcceptInsecure)

	// A CSC for alice's handle with another key, to sign a CRL that names
	// alice's CSC as its issuer but does not verify with its key.
	impostorKey := newKey(t, pki.KeyP256)
	impostor := &pki.CSC{
		Certificate: issueCSC(t, cscTemplate(string(w.alice.h)), impostorKey),
		Key:         impostorKey,
		Handle:      w.alice.h,
	}

	revokedAlice := []pki.RevokedCert{{Serial: w.alice.leaf.SerialNumber, RevokedAt: now.Add(-time.Minute), Reason: pki.ReasonKeyCompromise}}

	type testCase struct {
		name  string
		chain func(t *testing.T) []*x509.Certificate
		mod   func(*Verifier)
		step  Step
		cause func(error) bool
		// noQueries names a handle the server must never have been asked about.
		noQueries string
	}
	aliceChain := func(*testing.T) []*x509.Certificate { return w.alice.chain() }
	aliceLeaf := func(mutate func(*x509.Certificate)) func(t *testing.T) []*x509.Certificate {
		return func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.alice, "alice.dhp.test", mutate) }
	}
	aliceCSC := func(mutate func(*x509.Certificate)) func(t *testing.T) []*x509.Certificate {
		return func(t *testing.T) []*x509.Certificate { return withCSC(t, w.alice, mutate) }
	}

	cases := []testCase{
		{name: "empty chain", chain: func(*testing.T) []*x509.Certificate { return nil },
			step: StepTLS, cause: func(err error) bool { return errors.Is(err, ErrNoCertificate) }},
		{name: "nil certificate in chain", chain: func(*testing.T) []*x509.Certificate { return []*x509.Certificate{w.alice.leaf, nil} },
			step: StepTLS, cause: is[*ChainError]()},
		{name: "no dNSName", chain: aliceLeaf(func(c *x509.Certificate) { c.DNSNames = nil }),
			step: StepHandle, cause: is[*SANError]()},
		{name: "two dNSNames", chain: aliceLeaf(func(c *x509.Certificate) { c.DNSNames = []string{"alice.dhp.test", "bob.dhp.test"} }),
			step: StepHandle, cause: is[*SANError]()},
		{name: "reserved TLD handle", chain: func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.alice, "alice.example", nil) },
			step: StepHandle, cause: is[*handle.ReservedTLDError](), noQueries: "alice.example"},
		{name: "invalid handle syntax", chain: func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.alice, "alice-.dhp.test", nil) },
			step: StepHandle, cause: is[*handle.SyntaxError](), noQueries: "alice-.dhp.test"},
		{name: "single-label dNSName", chain: func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.alice, "localhost", nil) },
			step: StepHandle},
		{name: "uppercase dNSName", chain: func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.alice, "Alice.dhp.test", nil) },
			step: StepHandle, cause: is[*NameMismatchError]()},
		{name: "deny suffix", chain: func(*testing.T) []*x509.Certificate { return w.pol.chain() },
			mod: func(v *Verifier) { v.Policy.Deny = []string{"dhp.test"} }, step: StepPolicy, cause: is[*PolicyError](), noQueries: "pol.dhp.test"},
		{name: "wildcard deny suffix", chain: func(*testing.T) []*x509.Certificate { return w.pol.chain() },
			mod: func(v *Verifier) { v.Policy.Deny = []string{"*.DHP.test."} }, step: StepPolicy, cause: is[*PolicyError](), noQueries: "pol.dhp.test"},
		{name: "deny wins over allow", chain: func(*testing.T) []*x509.Certificate { return w.pol.chain() },
			mod: func(v *Verifier) { v.Policy.Allow = []string{"dhp.test"}; v.Policy.Deny = []string{"pol.dhp.test"} }, step: StepPolicy, noQueries: "pol.dhp.test"},
		{name: "not in allow list", chain: func(*testing.T) []*x509.Certificate { return w.pol2.chain() },
			mod: func(v *Verifier) { v.Policy.Allow = []string{"example.edu", "*.pol2.dhp.test"} }, step: StepPolicy, cause: is[*PolicyError](), noQueries: "pol2.dhp.test"},
		{name: "invalid policy entry", chain: func(*testing.T) []*x509.Certificate { return w.pol2.chain() },
			mod: func(v *Verifier) { v.Policy.Allow = []string{"*"} }, step: StepPolicy, cause: is[*PolicyError](), noQueries: "pol2.dhp.test"},
		{name: "no resolver", chain: aliceChain, mod: func(v *Verifier) { v.Resolver = nil },
			step: StepDNS, cause: is[*ConfigError]()},
		{name: "insecure DNS under require-DNSSEC", chain: func(*testing.T) []*x509.Certificate { return w.dave.chain() },
			step: StepDNS, cause: is[*DNSSECError]()},
		{name: "insecure DNS with strict resolver", chain: func(*testing.T) []*x509.Certificate { return w.dave.chain() },
			mod: func(v *Verifier) { v.Resolver = strict; v.Policy.AllowInsecure = true }, step: StepDNS, cause: is[*resolve.InsecureError]()},
		{name: "bogus DNS", chain: func(*testing.T) []*x509.Certificate { return w.bogus.chain() },
			step: StepDNS, cause: is[*resolve.BogusError]()},
		{name: "bogus DNS under AllowInsecure", chain: func(*testing.T) []*x509.Certificate { return w.bogus.chain() },
			mod: func(v *Verifier) { v.Policy.AllowInsecure = true }, step: StepDNS, cause: is[*resolve.BogusError]()},
		{name: "TLSA absent", chain: func(*testing.T) []*x509.Certificate { return w.notlsa.chain() },
			step: StepDNS, cause: func(err error) bool { e, ok := errors.AsType[*NoTLSAError](err); return ok && !e.NXDomain }},
		{name: "NXDOMAIN handle", chain: func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.alice, "ghost.dhp.test", nil) },
			step: StepDNS, cause: func(err error) bool { e, ok := errors.AsType[*NoTLSAError](err); return ok && e.NXDomain }},
		{name: "ambiguous did", chain: func(*testing.T) []*x509.Certificate { return w.amb.chain() },
			step: StepDNS, cause: is[*records.AmbiguousError]()},
		{name: "resolver timeout", chain: aliceChain,
			mod: func(v *Verifier) { v.Resolver = silentResolver; v.Timeout = 300 * time.Millisecond }, step: StepDNS,
			cause: func(err error) bool {
				e, ok := errors.AsType[*TimeoutError](err)
				return ok && e.Timeout == 300*time.Millisecond
			}},
		{name: "wrong handle in SAN", chain: func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.alice, "carol.dhp.test", nil) },
			step: StepTLSA, cause: is[*records.NoMatchError]()},
		{name: "alice CSC signs leaf for bob", chain: func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.alice, "bob.dhp.test", nil) },
			step: StepTLSA, cause: is[*TLSAMatchError]()},
		{name: "leaf of another identity's CSC", chain: func(t *testing.T) []*x509.Certificate {
			chain := leafFrom(t, w.bob, "alice.dhp.test", nil)
			return []*x509.Certificate{chain[0], w.alice.csc.Certificate}
		}, step: StepPath, cause: func(err error) bool {
			e, ok := errors.AsType[*pki.PathError](err)
			return ok && e.Step == pki.StepIssuer
		}},
		{name: "leaf signed by another CSC key", chain: func(t *testing.T) []*x509.Certificate {
			template := leafTemplate("alice.dhp.test", w.alice.csc.DID.String())
			key := newKey(t, pki.KeyP256)
			// The parent names alice's CSC but bob's CSC key signs.
			parent := &x509.Certificate{RawSubject: w.alice.csc.Certificate.RawSubject, PublicKey: w.bob.csc.Key.Public()}
			leaf := issueLeaf(t, template, parent, key.Public(), w.bob.csc.Key)
			return []*x509.Certificate{leaf, w.alice.csc.Certificate}
		}, step: StepPath, cause: func(err error) bool {
			e, ok := errors.AsType[*pki.PathError](err)
			return ok && e.Step == pki.StepSignature
		}},
		{name: "chain with another identity's CSC", chain: func(t *testing.T) []*x509.Certificate { return leafFrom(t, w.bob, "alice.dhp.test", nil) },
			step: StepTLSA},
		{name: "CSC not in chain", chain: func(*testing.T) []*x509.Certificate { return []*x509.Certificate{w.alice.leaf} },
			step: StepTLSA, cause: is[*records.NoMatchError]()},
		{name: "TA record of leaf key", chain: func(*testing.T) []*x509.Certificate { return w.selfta.chain() },
			step: StepTLSA},
		{name: "TA record of leaf, no CSC", chain: func(*testing.T) []*x509.Certificate { return []*x509.Certificate{w.selfta.leaf} },
			step: StepTLSA},
		{name: "expired leaf", chain: aliceLeaf(func(c *x509.Certificate) {
			c.NotBefore = now.Add(-48 * time.Hour)
			c.NotAfter = now.Add(-24 * time.Hour)
		}),
			step: StepPath, cause: pathStep(pki.StepValidity, "leaf")},
		{name: "not-yet-valid leaf", chain: aliceLeaf(func(c *x509.Certificate) { c.NotBefore = now.Add(time.Hour) }),
			step: StepPath, cause: pathStep(pki.StepValidity, "leaf")},
		{name: "expired CSC", chain: aliceCSC(func(c *x509.Certificate) { c.NotBefore = now.Add(-48 * time.Hour); c.NotAfter = now.Add(-time.Hour) }),
			step: StepPath, cause: pathStep(pki.StepValidity, "CSC")},
		{name: "not-yet-valid CSC", chain: aliceCSC(func(c *x509.Certificate) { c.NotBefore = now.Add(time.Hour) }),
			step: StepPath, cause: pathStep(pki.StepValidity, "CSC")},
		{name: "CSC without CA flag", chain: aliceCSC(func(c *x509.Certificate) {
			c.IsCA = false
			c.MaxPathLenZero = false
			c.KeyUsage = x509.KeyUsageDigitalSignature
		}),
			step: StepPath, cause: pathStep(pki.StepBasicConstraints, "CSC")},
		{name: "CSC with pathlen 1", chain: aliceCSC(func(c *x509.Certificate) { c.MaxPathLen = 1; c.MaxPathLenZero = false }),
			step: StepPath, cause: pathStep(pki.StepPathLength, "CSC")},
		{name: "CSC without pathlen", chain: aliceCSC(func(c *x509.Certificate) { c.MaxPathLen = -1; c.MaxPathLenZero = false }),
			step: StepPath, cause: pathStep(pki.StepPathLength, "CSC")},
		{name: "missing clientAuth EKU", chain: aliceLeaf(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }),
			step: StepPath, cause: pathStep(pki.StepExtKeyUsage, "leaf")},
		{name: "no EKU extension", chain: aliceLeaf(func(c *x509.Certificate) { c.ExtKeyUsage = nil }),
			step: StepPath, cause: pathStep(pki.StepExtKeyUsage, "leaf")},
		{name: "leaf is a CA", chain: aliceLeaf(func(c *x509.Certificate) { c.IsCA = true; c.KeyUsage |= x509.KeyUsageCertSign }),
			step: StepPath, cause: pathStep(pki.StepBasicConstraints, "leaf")},
		{name: "DID in SAN differs from TXT", chain: func(*testing.T) []*x509.Certificate { return w.dm.chain() },
			step: StepDID, cause: is[*DIDMismatchError]()},
		{name: "two URI SANs", chain: aliceLeaf(func(c *x509.Certificate) { c.URIs = append(c.URIs, mustURL("https://alice.dhp.test/")) }),
			step: StepDID, cause: is[*SANError]()},
		{name: "no URI SAN", chain: aliceLeaf(func(c *x509.Certificate) { c.URIs = nil }),
			step: StepDID, cause: is[*SANError]()},
		{name: "URI SAN not a DID", chain: aliceLeaf(func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL("https://alice.dhp.test/")} }),
			step: StepDID, cause: is[*handle.DIDError]()},
		{name: "did:key not the TA key", chain: func(*testing.T) []*x509.Certificate { return w.dk.chain() },
			step: StepDID, cause: is[*DIDKeyError]()},
		{name: "did missing in DNS", chain: func(*testing.T) []*x509.Certificate { return w.nodid.chain() },
			step: StepDID, cause: is[*MissingDIDError]()},
		{name: "revoked on CRL", chain: aliceChain,
			mod: func(v *Verifier) {
				v.CRLs = crlOf(createCRL(t, w.alice.csc, revokedAlice, now.Add(-time.Hour), now.Add(time.Hour)), nil)
			},
			step: StepRevocation, cause: is[*RevokedError]()},
		{name: "CRL signed by another key", chain: aliceChain,
			mod: func(v *Verifier) {
				v.CRLs = crlOf(createCRL(t, impostor, nil, now.Add(-time.Hour), now.Add(time.Hour)), nil)
			},
			step: StepRevocation, cause: is[*pki.CRLSignatureError]()},
		{name: "expired CRL", chain: aliceChain,
			mod: func(v *Verifier) {
				v.CRLs = crlOf(createCRL(t, w.alice.csc, nil, now.Add(-2*time.Hour), now.Add(-time.Hour)), nil)
			},
			step: StepRevocation, cause: is[*pki.CRLValidityError]()},
		{name: "CRL source fails", chain: aliceChain,
			mod:  func(v *Verifier) { v.CRLs = crlOf(nil, errors.New("distribution point unreachable")) },
			step: StepRevocation, cause: is[*CRLFetchError]()},
		{name: "malformed CRL", chain: aliceChain,
			mod:  func(v *Verifier) { v.CRLs = crlOf([]byte("not a CRL"), nil) },
			step: StepRevocation, cause: is[*pki.CRLError]()},
		{name: "PKIX record while AllowPKIX is off", chain: func(*testing.T) []*x509.Certificate { return []*x509.Certificate{w.pkix.leaf, w.pkix.root} },
			step: StepTLSA, cause: func(err error) bool { e, ok := errors.AsType[*TLSAMatchError](err); return ok && e.PKIXIgnored == 1 }},
		{name: "PKIX record without path to roots", chain: func(*testing.T) []*x509.Certificate { return []*x509.Certificate{w.pkix.leaf} },
			mod: func(v *Verifier) { v.Policy.AllowPKIX = true; v.PKIXRoots = x509.NewCertPool() }, step: StepPath, cause: is[*PKIXError]()},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chain := tc.chain(t)
			v := w.verifier()
			if tc.mod != nil {
				tc.mod(v)
			}

			id, err := v.VerifyChain(context.Background(), chain)
			verr := assertStep(t, id, err, tc.step)
			if tc.cause != nil && !tc.cause(verr.Err) {
				t.Errorf("cause %T (%v) is not the expected type", verr.Err, verr.Err)
			}
			if tc.noQueries != "" {
				if n := w.queriesFor(tc.noQueries); n != 0 {
					t.Errorf("the DNS server received %d queries for %s, want 0", n, tc.noQueries)
				}
			}
		})
	}
}

// pathStep returns a check for a *pki.PathError at step on cert.
func pathStep(step, cert string) func(error) bool {
	return func(err error) bool {
		e, ok := errors.AsType[*pki.PathError](err)
		return ok && e.Step == step && e.Cert == cert
	}
}

func TestPolicyControlQueriesDNS(t *testing.T) {
	t.Parallel()
	// The same chain that the policy cases reject verifies without the
	// policy, and then the server counts its queries, so the zero counts
	// of the policy cases are not an artefact of the counter.
	w := newWorld(t)
	if n := w.queriesFor("pol.dhp.test"); n != 0 {
		t.Fatalf("fresh world already has %d queries", n)
	}
	if _, err := w.verifier().VerifyChain(context.Background(), w.pol.chain()); err != nil {
		t.Fatalf("VerifyChain without policy: %v", err)
	}
	if n := w.queriesFor("pol.dhp.test"); n == 0 {
		t.Error("the server counted no queries for a verified handle")
	}
}

func TestVerifyChainAccepts(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	otherRevoked := []pki.RevokedCert{{Serial: big.NewInt(12345), RevokedAt: now.Add(-time.Minute)}}
	pkixRoots := x509.NewCertPool()
	pkixRoots.AddCert(w.pkix.root)

	cases := []struct {
		name   string
		chain  []*x509.Certificate
		mod    func(*Verifier)
		handle string
		did    string
		dnssec resolve.Status
	}{
		{name: "DANE-TA P-256", chain: w.alice.chain(), handle: "alice.dhp.test", did: w.alice.csc.DID.String(), dnssec: resolve.Secure},
		{name: "DANE-TA Ed25519", chain: w.edward.chain(), handle: "edward.dhp.test", did: w.edward.csc.DID.String(), dnssec: resolve.Secure},
		{name: "DANE-EE P-256", chain: []*x509.Certificate{w.eeP256.leaf}, handle: "eep.dhp.test", did: w.eeP256.did, dnssec: resolve.Secure},
		{name: "DANE-EE Ed25519", chain: []*x509.Certificate{w.eeEd25519.leaf}, handle: "eee.dhp.test", did: w.eeEd25519.did, dnssec: resolve.Secure},
		{name: "CSC after another certificate", chain: []*x509.Certificate{w.alice.leaf, w.bob.csc.Certificate, w.alice.csc.Certificate},
			handle: "alice.dhp.test", did: w.alice.csc.DID.String(), dnssec: resolve.Secure},
		{name: "insecure DNS under AllowInsecure", chain: w.dave.chain(), mod: func(v *Verifier) { v.Policy.AllowInsecure = true },
			handle: "dave.insecure.test", did: w.dave.csc.DID.String(), dnssec: resolve.Insecure},
		{name: "did:plc", chain: w.plc.chain(), handle: "plc.dhp.test", did: plcDID, dnssec: resolve.Secure},
		{name: "missing did under AllowMissingDID", chain: w.nodid.chain(), mod: func(v *Verifier) { v.Policy.AllowMissingDID = true },
			handle: "nodid.dhp.test", did: w.nodid.csc.DID.String(), dnssec: resolve.Secure},
		{name: "PKIX-EE under AllowPKIX", chain: []*x509.Certificate{w.pkix.leaf},
			mod:    func(v *Verifier) { v.Policy.AllowPKIX = true; v.PKIXRoots = pkixRoots },
			handle: "pkix.dhp.test", did: didKey(t, w.pkix.leaf.PublicKey), dnssec: resolve.Secure},
		{name: "CRL without the leaf", chain: w.alice.chain(),
			mod: func(v *Verifier) {
				v.CRLs = crlOf(createCRL(t, w.alice.csc, otherRevoked, now.Add(-time.Hour), now.Add(time.Hour)), nil)
			},
			handle: "alice.dhp.test", did: w.alice.csc.DID.String(), dnssec: resolve.Secure},
		{name: "no CRL known", chain: w.alice.chain(), mod: func(v *Verifier) { v.CRLs = crlOf(nil, nil) },
			handle: "alice.dhp.test", did: w.alice.csc.DID.String(), dnssec: resolve.Secure},
		{name: "allowed suffix", chain: w.alice.chain(), mod: func(v *Verifier) { v.Policy.Allow = []string{"*.dhp.test"}; v.Policy.Deny = []string{"bob.dhp.test"} },
			handle: "alice.dhp.test", did: w.alice.csc.DID.String(), dnssec: resolve.Secure},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := w.verifier()
			if tc.mod != nil {
				tc.mod(v)
			}
			id, err := v.VerifyChain(context.Background(), tc.chain)
			if err != nil {
				t.Fatalf("VerifyChain: %v", err)
			}
			sum := sha256.Sum256(tc.chain[0].RawSubjectPublicKeyInfo)
			want := Identity{Handle: handle.Handle(tc.handle), DID: tc.did, Device: hex.EncodeToString(sum[:]), DNSSEC: tc.dnssec, Method: "tls"}
			if *id != want {
				t.Errorf("Identity = %+v\nwant       %+v", *id, want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, err := w.verifier().VerifyChain(context.Background(), []*x509.Certificate{w.alice.leaf})
	verr := assertStep(t, nil, err, StepTLSA)
	if verr.Handle != "alice.dhp.test" {
		t.Errorf("Error.Handle = %q, want alice.dhp.test", verr.Handle)
	}
	const prefix = "verify: tlsa: no TLSA record at alice.dhp.test. matched the chain"
	if msg := err.Error(); len(msg) < len(prefix) || msg[:len(prefix)] != prefix {
		t.Errorf("message %q does not start with %q", msg, prefix)
	}
}
