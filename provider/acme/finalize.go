package acme

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/http"

	"github.com/dnshandle/dnshandle/pki"
)

type finalizeRequest struct {
	CSR string `json:"csr"`
}

// handleFinalize checks the CSR of a ready order and issues the device
// certificate at once, RFC 8555, section 7.4. A rejected CSR leaves the
// order ready so that the client can send a corrected one.
func (s *Server) handleFinalize(w http.ResponseWriter, r *http.Request) *Problem {
	ctx := r.Context()
	q, p := s.readRequest(w, r, authKID)
	if p != nil {
		return p
	}
	acct := q.account
	if p := rateLimited(s.limits.finalize, acct.ID, s.cfg.Now(), "finalize"); p != nil {
		return p
	}
	o, p := s.loadOrder(ctx, acct, r.PathValue("id"))
	if p != nil {
		return p
	}
	if o.Status != OrderReady {
		return problemf(ProblemOrderNotReady, "order is %s, not ready; only a ready order can be finalized", o.Status)
	}

	var req finalizeRequest
	if p := decodePayload(q, &req); p != nil {
		return p
	}
	iss, p := s.loadIssuer(ctx, o.IdentityID)
	if p != nil {
		return p
	}
	csr, p := checkFinalizeCSR(req.CSR, acct, iss.CSC)
	if p != nil {
		return p
	}
	if p := s.checkKeyNotCompromised(ctx, o.IdentityID, csr); p != nil {
		return p
	}

	// Claim the order so that concurrent finalize requests issue once.
	o.Status, o.ProcessingSince = OrderProcessing, s.cfg.Now()
	switch err := s.backend.UpdateOrder(ctx, o, OrderReady); {
	case errors.Is(err, ErrStatusChanged):
		return problemf(ProblemOrderNotReady, "order is being finalized by another request")
	case err != nil:
		return internalError("updating the order", err)
	}

	// Once claimed, the order is finished even when the client goes away,
	// so that it does not stay processing until FinalizeTimeout.
	// NOTE: a finalize slower than FinalizeTimeout finds the order made
	// invalid by a concurrent read, and its certificate is stored but not
	// linked to the order.
	ctx = context.WithoutCancel(ctx)
	cert, err := s.issue(ctx, o, acct, iss, csr)
	if err != nil {
		o.Status, o.ErrorType, o.ErrorDetail = OrderInvalid, string(ProblemServerInternal), "issuing the certificate failed"
		if uerr := s.backend.UpdateOrder(ctx, o, OrderProcessing); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return internalError("issuing the certificate", err)
	}
	o.Status, o.CertificateSerial = OrderValid, cert.Serial
	if err := s.backend.UpdateOrder(ctx, o, OrderProcessing); err != nil {
		return internalError("updating the order", err)
	}
	s.writeOrder(w, http.StatusOK, o)
	return nil
}

// checkFinalizeCSR decodes the CSR and applies the profile's rules with
// pki.CheckCSR, and refuses the account key as certificate key (RFC 8555,
// section 11.1).
func checkFinalizeCSR(encoded string, acct *Account, csc *pki.CSC) (*x509.CertificateRequest, *Problem) {
	der, err := decodeB64(encoded)
	if err != nil || len(der) == 0 {
		return nil, problemf(ProblemBadCSR, "csr is not a base64url DER certificate signing request")
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, problemf(ProblemBadCSR, "csr does not parse: %v", err)
	}
	if csrKey, err := x509.MarshalPKIXPublicKey(csr.PublicKey); err == nil {
		jwk, p := parsePublicJWK(acct.Key)
		if p == nil {
			if acctKey, err := x509.MarshalPKIXPublicKey(jwk.Key); err == nil && bytes.Equal(csrKey, acctKey) {
				return nil, problemf(ProblemBadCSR, "the CSR key is the account key; generate a separate key for the certificate")
			}
		}
	}
	if err := pki.CheckCSR(csr, csc); err != nil {
		return nil, &Problem{Type: ProblemBadCSR, Detail: err.Error()}
	}
	return csr, nil
}

// checkKeyNotCompromised refuses a CSR whose key belongs to a certificate
// of the identity that was revoked for keyCompromise: a stolen key must
// not come back with a new certificate, whatever account asks.
func (s *Server) checkKeyNotCompromised(ctx context.Context, identityID string, csr *x509.CertificateRequest) *Problem {
	fp, err := pki.KeyFingerprint(csr.PublicKey)
	if err != nil {
		return problemf(ProblemBadCSR, "the CSR key cannot be read: %v", err)
	}
	certs, err := s.backend.IdentityCertificates(ctx, identityID)
	if err != nil {
		return internalError("listing the identity's certificates", err)
	}
	for _, c := range certs {
		if c.Revoked && c.Reason == pki.ReasonKeyCompromise && c.KeyFingerprint == fp {
			return problemf(ProblemBadCSR, "this key was revoked as compromised (certificate %s): generate a new key and enroll again", c.Serial)
		}
	}
	return nil
}

// issue signs the device certificate and stores its record.
func (s *Server) issue(ctx context.Context, o *Order, acct *Account, iss *Issuer, csr *x509.CertificateRequest) (*Certificate, error) {
	crlURL := iss.CRLURL
	if crlURL == "" {
		crlURL = s.CRLURL(iss.IdentityID)
	}
	leaf, err := pki.IssueDevice(rand.Reader, iss.CSC, csr, pki.DeviceOptions{
		Label:    acct.Label,
		Lifetime: s.cfg.DeviceLifetime,
		CRLURL:   crlURL,
		DID:      iss.DID,
		Now:      s.cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	fp, err := pki.KeyFingerprint(leaf.PublicKey)
	if err != nil {
		return nil, err
	}
	cert := &Certificate{
		Serial:         SerialText(leaf.SerialNumber),
		AccountID:      acct.ID,
		IdentityID:     o.IdentityID,
		OrderID:        o.ID,
		Label:          acct.Label,
		Chain:          [][]byte{leaf.Raw, iss.CSC.Certificate.Raw},
		KeyFingerprint: fp,
		NotBefore:      leaf.NotBefore,
		NotAfter:       leaf.NotAfter,
	}
	if err := s.backend.CreateCertificate(ctx, cert); err != nil {
		return nil, err
	}
	return cert, nil
}

// handleCertificate sends the chain [device certificate, CSC] as
// application/pem-certificate-chain, RFC 8555, section 7.4.2.
func (s *Server) handleCertificate(w http.ResponseWriter, r *http.Request) *Problem {
	q, p := s.readRequest(w, r, authKID)
	if p != nil {
		return p
	}
	if p := requirePostAsGet(q); p != nil {
		return p
	}
	cert, err := s.backend.Certificate(r.Context(), r.PathValue("serial"))
	if errors.Is(err, ErrNotFound) {
		return notFound("certificate")
	}
	if err != nil {
		return internalError("loading the certificate", err)
	}
	if cert.AccountID != q.account.ID {
		return unauthorized("the certificate belongs to another account")
	}

	certs := make([]*x509.Certificate, 0, len(cert.Chain))
	for _, der := range cert.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return internalError("loading the certificate", err)
		}
		certs = append(certs, c)
	}
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.WriteHeader(http.StatusOK)
	// A failed write means the client went away; there is no one to tell.
	_, _ = w.Write(pki.EncodeCertificates(certs...))
	return nil
}
