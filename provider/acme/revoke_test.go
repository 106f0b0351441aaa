package acme

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/pki"
)

// downloadChain fetches the certificate of a valid order.
func (e *testEnv) downloadChain(key testKey, kid string, o orderObject) []*x509.Certificate {
	e.t.Helper()
	res := e.post(jwsOptions{key: key, kid: kid}, o.Certificate, nil)
	res.wantStatus(e.t, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "application/pem-certificate-chain" {
		e.t.Fatalf("Content-Type = %q", ct)
	}
	chain, err := pki.DecodeCertificates(res.body)
	if err != nil {
		e.t.Fatal(err)
	}
	return chain
}

func (e *testEnv) fetchCRL(url string) []byte {
	e.t.Helper()
	res, err := http.Get(url)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pkix-crl" {
		e.t.Fatalf("GET %s: %s, Content-Type %q", url, res.Status, res.Header.Get("Content-Type"))
	}
	der, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return der
}

func TestCertificateChainAndCRL(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	deviceKey := newDeviceKey(t)
	o := e.issueCert(key, kid, deviceKey)
	chain := e.downloadChain(key, kid, o)

	if len(chain) != 2 || !chain[1].Equal(e.issuer.CSC.Certificate) {
		t.Fatalf("chain has %d certificates or does not end in the CSC", len(chain))
	}
	leaf := chain[0]
	if err := pki.VerifyPath(leaf, chain[1], e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if len(leaf.Subject.OrganizationalUnit) != 1 || leaf.Subject.OrganizationalUnit[0] != "laptop" {
		t.Errorf("OU = %v, want the enrollment label", leaf.Subject.OrganizationalUnit)
	}
	wantCRL := e.server.CRLURL(testIdentity)
	if len(leaf.CRLDistributionPoints) != 1 || leaf.CRLDistributionPoints[0] != wantCRL {
		t.Fatalf("CRL distribution points %v, want %s", leaf.CRLDistributionPoints, wantCRL)
	}

	status, err := pki.CheckRevoked(e.fetchCRL(wantCRL), chain[1], leaf, e.clock.Now())
	if err != nil || status.Revoked {
		t.Fatalf("before revocation: %+v, %v", status, err)
	}

	// Revoke by the certificate key, with a jwk header.
	certKey := testKey{signer: deviceKey, alg: jose.ES256}
	res := e.post(jwsOptions{key: certKey}, e.url(pathRevokeCert), map[string]any{"certificate": b64.EncodeToString(leaf.Raw), "reason": 1})
	res.wantStatus(t, http.StatusOK)

	status, err = pki.CheckRevoked(e.fetchCRL(wantCRL), chain[1], leaf, e.clock.Now())
	if err != nil || !status.Revoked || status.Reason != pki.ReasonKeyCompromise {
		t.Fatalf("after revocation: %+v, %v", status, err)
	}

	e.post(jwsOptions{key: key, kid: kid}, e.url(pathRevokeCert), map[string]any{"certificate": b64.EncodeToString(leaf.Raw)}).
		wantProblem(t, http.StatusBadRequest, ProblemAlreadyRevoked)
}

func TestRevokeAuthorization(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	leaf := e.downloadChain(key, kid, e.issueCert(key, kid, nil))[0]
	body := map[string]any{"certificate": b64.EncodeToString(leaf.Raw)}

	t.Run("stranger key", func(t *testing.T) {
		e.post(jwsOptions{key: newTestKey(t)}, e.url(pathRevokeCert), body).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
	})
	t.Run("account of another identity", func(t *testing.T) {
		other := *e.issuer
		other.IdentityID = "identity-bob"
		e.backend.AddIssuer(&other)
		en, err := e.server.NewEnrollment(context.Background(), "identity-bob", "phone")
		if err != nil {
			t.Fatal(err)
		}
		bob := newTestKey(t)
		res := e.post(jwsOptions{key: bob}, e.url(pathNewAccount), map[string]any{
			"externalAccountBinding": eabJWS(t, en.KeyID, en.Key, e.url(pathNewAccount), bob.jwk()),
		})
		res.wantStatus(t, http.StatusCreated)
		e.post(jwsOptions{key: bob, kid: res.Header.Get("Location")}, e.url(pathRevokeCert), body).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
	})
	t.Run("bad reason", func(t *testing.T) {
		e.post(jwsOptions{key: key, kid: kid}, e.url(pathRevokeCert), map[string]any{"certificate": body["certificate"], "reason": 7}).
			wantProblem(t, http.StatusBadRequest, ProblemBadRevocationReason)
	})
	t.Run("sibling device", func(t *testing.T) {
		sibling := newTestKey(t)
		siblingKID := e.newAccount(sibling)
		e.post(jwsOptions{key: sibling, kid: siblingKID}, e.url(pathRevokeCert), body).wantStatus(t, http.StatusOK)
	})
}

func TestCRLRenewedAfterHalfLifetime(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.CRLLifetime = 2 * time.Hour })
	first, err := e.server.CRL(context.Background(), testIdentity)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := e.server.CRL(context.Background(), testIdentity)
	if string(first) != string(again) {
		t.Error("CRL signed again within half its lifetime")
	}
	e.clock.Advance(time.Hour)
	later, _ := e.server.CRL(context.Background(), testIdentity)
	a, _ := x509.ParseRevocationList(first)
	b, _ := x509.ParseRevocationList(later)
	if b.Number.Cmp(a.Number) <= 0 {
		t.Errorf("CRL number %v after %v does not increase", b.Number, a.Number)
	}
	if _, err := e.server.CRL(context.Background(), "nobody"); err == nil {
		t.Error("CRL of an unknown identity")
	}
}

func TestRenewalInfoAndReplaces(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	leaf := e.downloadChain(key, kid, e.issueCert(key, kid, nil))[0]
	certID, err := client.CertID(leaf)
	if err != nil {
		t.Fatal(err)
	}

	res, err := http.Get(e.url(pathRenewalInfo) + "/" + certID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	info := &testResponse{Response: res, body: body}
	info.wantStatus(t, http.StatusOK)
	var ri renewalInfo
	info.decode(t, &ri)
	start, _ := time.Parse(time.RFC3339, ri.SuggestedWindow.Start)
	end, _ := time.Parse(time.RFC3339, ri.SuggestedWindow.End)
	if !start.After(leaf.NotBefore) || !end.After(start) || !end.Before(leaf.NotAfter) {
		t.Errorf("window %s..%s outside the lifetime %s..%s", start, end, leaf.NotBefore, leaf.NotAfter)
	}
	if res.Header.Get("Retry-After") != "21600" {
		t.Errorf("Retry-After = %q", res.Header.Get("Retry-After"))
	}

	order := func(replaces string) *testResponse {
		return e.post(jwsOptions{key: key, kid: kid}, e.url(pathNewOrder), map[string]any{
			"identifiers": []Identifier{{"dns", string(testHandle)}}, "replaces": replaces,
		})
	}
	order(certID).wantStatus(t, http.StatusCreated)
	order(certID).wantProblem(t, http.StatusConflict, ProblemAlreadyReplaced)
	order("AAAA.AQ").wantProblem(t, http.StatusBadRequest, ProblemMalformed)
	order("not-a-cert-id").wantProblem(t, http.StatusBadRequest, ProblemMalformed)

	other := newTestKey(t)
	otherKID := e.newAccount(other)
	e.post(jwsOptions{key: other, kid: otherKID}, e.url(pathNewOrder), map[string]any{
		"identifiers": []Identifier{{"dns", string(testHandle)}}, "replaces": certID,
	}).wantProblem(t, http.StatusForbidden, ProblemUnauthorized)
}

func TestRenewalInfoOfRevoked(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	leaf := e.downloadChain(key, kid, e.issueCert(key, kid, nil))[0]
	certID, _ := client.CertID(leaf)
	if err := e.server.RevokeCertificate(context.Background(), SerialText(leaf.SerialNumber), pki.ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(e.url(pathRenewalInfo) + "/" + certID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var ri renewalInfo
	(&testResponse{Response: res, body: body}).decode(t, &ri)
	end, _ := time.Parse(time.RFC3339, ri.SuggestedWindow.End)
	if !end.Before(e.clock.Now()) {
		t.Errorf("window of a revoked certificate ends %s, not in the past", end)
	}

	res, _ = http.Get(e.url(pathRenewalInfo) + "/" + strings.Replace(certID, ".", ".AA", 1))
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown certID: status %d", res.StatusCode)
	}
}

func TestCompromisedKeyNotReissued(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	key := newTestKey(t)
	kid := e.newAccount(key)
	deviceKey := newDeviceKey(t)
	leaf := e.downloadChain(key, kid, e.issueCert(key, kid, deviceKey))[0]
	e.post(jwsOptions{key: key, kid: kid}, e.url(pathRevokeCert), map[string]any{
		"certificate": b64.EncodeToString(leaf.Raw), "reason": int(pki.ReasonKeyCompromise),
	}).wantStatus(t, http.StatusOK)

	// A new enrollment (a new account) asks for the stolen key again.
	other := newTestKey(t)
	otherKID := e.newAccount(other)
	_, o := e.newOrder(other, otherKID)
	res := e.post(jwsOptions{key: other, kid: otherKID}, o.Finalize, map[string]string{"csr": csrFor(t, deviceKey, string(testHandle), string(testHandle))})
	doc := res.wantProblem(t, http.StatusBadRequest, ProblemBadCSR)
	if !strings.Contains(doc.Detail, "revoked as compromised") {
		t.Errorf("problem detail %q does not say the key was revoked as compromised", doc.Detail)
	}

	// A fresh key is fine.
	e.issueCert(other, otherKID, nil)
}

// A store may give the ID of a deleted identity to a new one. Its CRL must
// then be signed by the new CSC, not taken from the cache.
func TestCRLFollowsNewIssuer(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	if _, err := e.server.CRL(context.Background(), testIdentity); err != nil {
		t.Fatal(err)
	}
	csc, err := pki.NewCSC(rand.Reader, testHandle, pki.CSCOptions{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.backend.AddIssuer(&Issuer{IdentityID: testIdentity, CSC: csc})

	der, err := e.server.CRL(context.Background(), testIdentity)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(csc.Certificate); err != nil {
		t.Errorf("the CRL after the issuer changed is not signed by the new CSC: %v", err)
	}
	// thisUpdate lies a minute back, for relying parties whose clock is
	// a little behind.
	if want := e.clock.Now().Add(-crlBackdate); !crl.ThisUpdate.Equal(want) {
		t.Errorf("thisUpdate = %v, want %v", crl.ThisUpdate, want)
	}
}
