package acme

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxCertIDLength bounds a certID: a 20-byte key identifier and a 20-byte
// serial take 55 characters, and other CAs use longer key identifiers.
const maxCertIDLength = 200

// certID is a parsed RFC 9773 certificate identifier.
type certID struct {
	keyID  []byte // the keyIdentifier of the certificate's AuthorityKeyIdentifier
	serial *big.Int
}

// parseCertID parses "<base64url(AKI keyIdentifier)>.<base64url(serial)>",
// RFC 9773, section 4.1: both parts unpadded base64url, the serial as the
// content octets of its DER INTEGER, positive and in minimal form.
func parseCertID(s string) (certID, *Problem) {
	if len(s) > maxCertIDLength {
		return certID{}, malformed("certificate identifier is longer than %d characters", maxCertIDLength)
	}
	aki, serial, ok := strings.Cut(s, ".")
	if !ok || strings.Contains(serial, ".") {
		return certID{}, malformed("certificate identifier %q must be two base64url parts joined by one dot (RFC 9773, section 4.1)", s)
	}
	keyID, err := decodeB64(aki)
	if err != nil || len(keyID) == 0 {
		return certID{}, malformed("certificate identifier %q: key identifier is not unpadded base64url", s)
	}
	sb, err := decodeB64(serial)
	if err != nil || len(sb) == 0 {
		return certID{}, malformed("certificate identifier %q: serial is not unpadded base64url", s)
	}
	// DER INTEGER content: the high bit is the sign, and a leading zero
	// octet is allowed only before a high bit (X.690, section 8.3.2).
	if sb[0]&0x80 != 0 {
		return certID{}, malformed("certificate identifier %q: serial is negative", s)
	}
	if len(sb) > 1 && sb[0] == 0 && sb[1]&0x80 == 0 {
		return certID{}, malformed("certificate identifier %q: serial has a superfluous leading zero", s)
	}
	if len(sb) == 1 && sb[0] == 0 {
		return certID{}, malformed("certificate identifier %q: serial is zero", s)
	}
	return certID{keyID: keyID, serial: new(big.Int).SetBytes(sb)}, nil
}

// lookupCertID loads the certificate named by a certID and checks that its
// authority key identifier matches.
func (s *Server) lookupCertID(ctx context.Context, raw string) (*Certificate, *x509.Certificate, *Problem) {
	id, p := parseCertID(raw)
	if p != nil {
		return nil, nil, p
	}
	cert, err := s.backend.Certificate(ctx, SerialText(id.serial))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, notFound("certificate " + raw)
	}
	if err != nil {
		return nil, nil, internalError("loading the certificate", err)
	}
	leaf, err := x509.ParseCertificate(cert.Chain[0])
	if err != nil {
		return nil, nil, internalError("loading the certificate", err)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, id.keyID) {
		return nil, nil, notFound("certificate " + raw)
	}
	return cert, leaf, nil
}

// checkReplaces applies the checks of RFC 9773, section 5 to the replaces
// field of a new order: the certificate exists, was issued to the same
// account, and names the handle of the order. The check that no other live
// order replaces it is the Backend's, in CreateOrder.
func (s *Server) checkReplaces(ctx context.Context, acct *Account, raw string, h string) *Problem {
	cert, leaf, p := s.lookupCertID(ctx, raw)
	if p != nil {
		if p.Status == http.StatusNotFound {
			return malformed("replaces %q names no certificate issued by this server", raw)
		}
		return p
	}
	if cert.AccountID != acct.ID {
		return unauthorized("replaces %q names a certificate of another account", raw)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != h {
		return malformed("replaces %q names a certificate for another handle than %q", raw, h)
	}
	return nil
}

// renewalInfo is the RenewalInfo object, RFC 9773, section 4.2.
type renewalInfo struct {
	SuggestedWindow struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"suggestedWindow"`
}

// suggestedWindow returns when the certificate should be renewed. The window
// starts at two thirds of the lifetime and lasts a tenth of it (days 20 to
// 23 of a 30-day certificate). A revoked certificate gets a window that has
// already passed, which RFC 9773, section 4.2 uses to request renewal at once.
func suggestedWindow(c *Certificate, now time.Time) (start, end time.Time) {
	if c.Revoked {
		return now.Add(-2 * time.Hour), now.Add(-time.Hour)
	}
	life := c.NotAfter.Sub(c.NotBefore)
	start = c.NotBefore.Add(life * 2 / 3)
	return start, start.Add(max(life/10, time.Minute))
}

// handleRenewalInfo serves GET renewalInfo/<certID>, RFC 9773, section 4.
func (s *Server) handleRenewalInfo(w http.ResponseWriter, r *http.Request) *Problem {
	cert, _, p := s.lookupCertID(r.Context(), r.PathValue("certID"))
	if p != nil {
		return p
	}
	start, end := suggestedWindow(cert, s.cfg.Now())
	var info renewalInfo
	info.SuggestedWindow.Start = rfc3339(start)
	info.SuggestedWindow.End = rfc3339(end)

	// RFC 9773 allows caching for Retry-After; no-store set by acmeHandler
	// is replaced.
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.cfg.RenewalRetryAfter/time.Second)))
	w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RenewalRetryAfter/time.Second)))
	writeJSON(w, http.StatusOK, info)
	return nil
}
