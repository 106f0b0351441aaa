package records

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
)

// testChain is a client chain as a relying party receives it: a device
// certificate, the identity's CSC and an intermediate CA above the CSC.
type testChain struct {
	leaf, csc, intermediate *x509.Certificate
}

// certs returns the chain in presentation order, leaf first.
func (c testChain) certs() []*x509.Certificate {
	return []*x509.Certificate{c.leaf, c.csc, c.intermediate}
}

// chainKeys are the subject keys of a test chain.
type chainKeys struct {
	intermediate, csc, leaf crypto.Signer
}

// buildChain issues intermediate -> CSC -> leaf. With Ed25519 keys for the
// intermediate and the CSC every signature is deterministic, so fixed keys
// give byte-identical certificates on every run.
func buildChain(keys chainKeys) (testChain, error) {
	notBefore := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)

	intermediateTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Records Test Intermediate"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	intermediate, err := issue(intermediateTemplate, intermediateTemplate, keys.intermediate, keys.intermediate)
	if err != nil {
		return testChain{}, err
	}

	cscTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "alice.test"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	csc, err := issue(cscTemplate, intermediate, keys.csc, keys.intermediate)
	if err != nil {
		return testChain{}, err
	}

	leafTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(3),
		Subject:               pkix.Name{CommonName: "alice.test", OrganizationalUnit: []string{"laptop"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		DNSNames:              []string{"alice.test"},
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leaf, err := issue(leafTemplate, csc, keys.leaf, keys.csc)
	if err != nil {
		return testChain{}, err
	}
	return testChain{leaf: leaf, csc: csc, intermediate: intermediate}, nil
}

func issue(template, parent *x509.Certificate, subject, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, template, parent, subject.Public(), signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// fixedKeys returns keys derived from constants: Ed25519 for the
// intermediate and the CSC, P-256 for the leaf.
func fixedKeys() (chainKeys, error) {
	leafScalar := sha256.Sum256([]byte("records test leaf key"))
	leafKey, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), leafScalar[:])
	if err != nil {
		return chainKeys{}, err
	}
	return chainKeys{
		intermediate: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)),
		csc:          ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize)),
		leaf:         leafKey,
	}, nil
}

var (
	fixedChainOnce  sync.Once
	fixedChainValue testChain
	fixedChainErr   error
)

// fixedChain returns the deterministic chain (Ed25519 intermediate and
// CSC, P-256 leaf), built once per test binary.
func fixedChain(tb testing.TB) testChain {
	tb.Helper()
	fixedChainOnce.Do(func() {
		keys, err := fixedKeys()
		if err != nil {
			fixedChainErr = err
			return
		}
		fixedChainValue, fixedChainErr = buildChain(keys)
	})
	if fixedChainErr != nil {
		tb.Fatalf("build fixed chain: %v", fixedChainErr)
	}
	return fixedChainValue
}

// p256Chain returns a fresh chain with a P-256 CSC and an Ed25519 leaf.
func p256Chain(tb testing.TB) testChain {
	tb.Helper()
	intermediateKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	cscKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("generate CSC key: %v", err)
	}
	_, leafKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("generate leaf key: %v", err)
	}
	c, err := buildChain(chainKeys{intermediate: intermediateKey, csc: cscKey, leaf: leafKey})
	if err != nil {
		tb.Fatalf("build P-256 chain: %v", err)
	}
	return c
}

// referenceData computes certificate association data with no code from
// the package under test.
func referenceData(cert *x509.Certificate, s Selector, m MatchingType) []byte {
	var content []byte
	switch s {
	case SelectorCert:
		content = cert.Raw
	case SelectorSPKI:
		content = cert.RawSubjectPublicKeyInfo
	default:
		return nil
	}
	switch m {
	case MatchFull:
		return bytes.Clone(content)
	case MatchSHA256:
		sum := sha256.Sum256(content)
		return sum[:]
	case MatchSHA512:
		sum := sha512.Sum512(content)
		return sum[:]
	}
	return nil
}

func TestFixedChainDeterministic(t *testing.T) {
	t.Parallel()
	keys, err := fixedKeys()
	if err != nil {
		t.Fatalf("fixedKeys: %v", err)
	}
	again, err := buildChain(keys)
	if err != nil {
		t.Fatalf("buildChain: %v", err)
	}
	first := fixedChain(t)
	for i, cert := range first.certs() {
		if !bytes.Equal(cert.Raw, again.certs()[i].Raw) {
			t.Errorf("certificate %d differs between two builds from the same keys", i)
		}
	}
}

func TestChainVerifies(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]testChain{"fixed": fixedChain(t), "p256": p256Chain(t)} {
		roots := x509.NewCertPool()
		roots.AddCert(c.intermediate)
		inter := x509.NewCertPool()
		inter.AddCert(c.csc)
		_, err := c.leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err != nil {
			t.Errorf("%s chain does not verify: %v", name, err)
		}
	}
}
