package acme

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dnshandle/dnshandle/pki"
)

// SerialText returns a certificate serial number in the form the Backend
// keys certificates by: lowercase hex without leading zeros.
func SerialText(serial *big.Int) string { return serial.Text(16) }

// revocationReasons are the CRLReason codes a client may give, RFC 8555,
// section 7.6. The others describe CA events or holds that a device has no
// business asserting.
var revocationReasons = []pki.RevocationReason{
	pki.ReasonUnspecified, pki.ReasonKeyCompromise, pki.ReasonAffiliationChanged,
	pki.ReasonSuperseded, pki.ReasonCessationOfOperation,
}

type revokeRequest struct {
	Certificate string `json:"certificate"`
	Reason      *int   `json:"reason"`
}

// handleRevokeCert revokes a device certificate, RFC 8555, section 7.6.
// The request is signed either by an account of the certificate's identity
// (kid), which lets any enrolled device of a person revoke a lost one, or by
// the certificate's own key (jwk).
func (s *Server) handleRevokeCert(w http.ResponseWriter, r *http.Request) *Problem {
	ctx := r.Context()
	q, p := s.readRequest(w, r, authAny)
	if p != nil {
		return p
	}
	var req revokeRequest
	if p := decodePayload(q, &req); p != nil {
		return p
	}
	reason := pki.ReasonUnspecified
	if req.Reason != nil {
		reason = pki.RevocationReason(*req.Reason)
		if !slices.Contains(revocationReasons, reason) {
			return problemf(ProblemBadRevocationReason, "revocation reason %d is not accepted; use 0, 1, 3, 4 or 5 (RFC 5280, section 5.3.1)", *req.Reason)
		}
	}

	der, err := decodeB64(req.Certificate)
	if err != nil {
		return malformed("certificate is not base64url DER")
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return malformed("certificate does not parse: %v", err)
	}
	cert, err := s.backend.Certificate(ctx, SerialText(leaf.SerialNumber))
	if errors.Is(err, ErrNotFound) || (err == nil && !bytes.Equal(cert.Chain[0], der)) {
		return &Problem{Type: ProblemMalformed, Status: http.StatusNotFound, Detail: "the certificate was not issued by this server"}
	}
	if err != nil {
		return internalError("loading the certificate", err)
	}
	if p := s.authorizeRevocation(q, cert, leaf); p != nil {
		return p
	}

	if err := s.RevokeCertificate(ctx, cert.Serial, reason); err != nil {
		if errors.Is(err, ErrAlreadyRevoked) {
			return problemf(ProblemAlreadyRevoked, "the certificate is already revoked")
		}
		return internalError("revoking the certificate", err)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) authorizeRevocation(q *request, cert *Certificate, leaf *x509.Certificate) *Problem {
	if q.account != nil {
		if q.account.ID == cert.AccountID || q.account.IdentityID == cert.IdentityID {
			return nil
		}
		return unauthorized("the account may not revoke this certificate: it belongs to another identity")
	}
	jwkDER, err1 := x509.MarshalPKIXPublicKey(q.msg.JWK.Key)
	certDER, err2 := x509.MarshalPKIXPublicKey(leaf.PublicKey)
	if err1 != nil || err2 != nil || !bytes.Equal(jwkDER, certDER) {
		return unauthorized("the request is signed by neither an account of the certificate's identity nor the certificate key")
	}
	return nil
}

// RevokeCertificate revokes the device certificate with the serial (see
// SerialText) now, for example from the provider's web pages, and makes the
// next CRL of its identity list it. Errors: ErrNotFound, ErrAlreadyRevoked,
// or the Backend's error.
func (s *Server) RevokeCertificate(ctx context.Context, serial string, reason pki.RevocationReason) error {
	if err := s.backend.RevokeCertificate(ctx, serial, reason, s.cfg.Now()); err != nil {
		return fmt.Errorf("revoke certificate %s: %w", serial, err)
	}
	return nil
}

// crlBackdate is how far before its signing a CRL's thisUpdate lies, so
// that a relying party whose clock is a little behind accepts a new CRL.
const crlBackdate = time.Minute

// crlCache keeps the last CRL signed for each identity, so that fetches do
// not sign a new CRL each time.
type crlCache struct {
	mu      sync.Mutex
	entries map[string]*crlEntry
}

type crlEntry struct {
	der        []byte
	number     *big.Int
	thisUpdate time.Time
	revoked    string // the serials listed, to notice a new revocation
	// issuer is the DER of the CSC that signed the CRL. A store may give
	// the ID of a deleted identity to a new one with another CSC.
	issuer []byte
}

func newCRLCache() *crlCache { return &crlCache{entries: make(map[string]*crlEntry)} }

// CRL returns the current DER CRL of the identity, signed by its CSC: RFC
// 5280, section 5, listing every revoked certificate of the identity that
// has not expired. A CRL is reused until half of CRLLifetime has passed or
// the set of revoked certificates changed. Errors: ErrNotFound for an unknown
// identity, or the Backend's or signing error.
func (s *Server) CRL(ctx context.Context, identityID string) ([]byte, error) {
	iss, err := s.backend.Issuer(ctx, identityID)
	if err != nil {
		return nil, fmt.Errorf("CRL of identity %q: %w", identityID, err)
	}
	certs, err := s.backend.IdentityCertificates(ctx, identityID)
	if err != nil {
		return nil, fmt.Errorf("CRL of identity %q: %w", identityID, err)
	}
	now := s.cfg.Now()
	var revoked []pki.RevokedCert
	var serials []string
	for _, c := range certs {
		if c.Revoked && now.Before(c.NotAfter) {
			n, _ := new(big.Int).SetString(c.Serial, 16)
			revoked = append(revoked, pki.RevokedCert{Serial: n, RevokedAt: c.RevokedAt, Reason: c.Reason})
			serials = append(serials, c.Serial)
		}
	}
	slices.Sort(serials)
	key := strings.Join(serials, ",")

	s.crls.mu.Lock()
	defer s.crls.mu.Unlock()
	old := s.crls.entries[identityID]
	if old != nil && !bytes.Equal(old.issuer, iss.CSC.Certificate.Raw) {
		old = nil
	}
	if old != nil && old.revoked == key && now.Sub(old.thisUpdate) < s.cfg.CRLLifetime/2 && !now.Before(old.thisUpdate) {
		return old.der, nil
	}

	// cRLNumber must increase with every CRL of the CSC (RFC 5280, section
	// 5.2.3). Milliseconds since 1970 increase across restarts and
	// replicas; the previous number plus one covers a clock that did not
	// move.
	number := big.NewInt(now.UnixMilli())
	if old != nil && number.Cmp(old.number) <= 0 {
		number = new(big.Int).Add(old.number, big.NewInt(1))
	}
	der, err := pki.CreateCRL(rand.Reader, iss.CSC, revoked, number, now.Add(-crlBackdate), now.Add(s.cfg.CRLLifetime))
	if err != nil {
		return nil, fmt.Errorf("CRL of identity %q: %w", identityID, err)
	}
	s.crls.entries[identityID] = &crlEntry{der: der, number: number, thisUpdate: now, revoked: key, issuer: iss.CSC.Certificate.Raw}
	return der, nil
}

// handleCRL serves the CRL of an identity as application/pkix-crl (RFC
// 5280, section 4.2.1.13 names the distribution point; RFC 2585 the type).
func (s *Server) handleCRL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: fetch the CRL with GET", http.StatusMethodNotAllowed)
		return
	}
	der, err := s.CRL(r.Context(), r.PathValue("identity"))
	if errors.Is(err, ErrNotFound) {
		http.Error(w, "no CRL for this identity", http.StatusNotFound)
		return
	}
	if err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "serving a CRL failed", "remote_addr", r.RemoteAddr, "err", err)
		http.Error(w, "CRL unavailable; try again later", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "max-age=60")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		// A failed write means the client went away; there is no one to tell.
		_, _ = w.Write(der)
	}
}
