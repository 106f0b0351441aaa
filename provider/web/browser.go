package web

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// browserCertificate makes a device key and certificate for a browser
// that cannot enroll over ACME, and sends them once as a PKCS #12 file
// encrypted with the password the person typed. The key exists only in
// this request: the provider gets a CSR, and nothing keeps the key.
func (w *Web) browserCertificate(rw http.ResponseWriter, r *http.Request) {
	id, h, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	f, errs := parseBrowser(r.PostForm)
	if len(errs) > 0 {
		w.showDevices(rw, r, http.StatusUnprocessableEntity, id, h, &page{Form: url.Values{"browser_label": {f.Label}}, Errors: errs})
		return
	}

	pfx, err := w.issueBrowserFile(r, h, f)
	if err != nil {
		w.internalError(rw, r, err)
		return
	}
	w.cfg.Logger.InfoContext(r.Context(), "browser certificate issued", "handle", h.String(), "remote_addr", r.RemoteAddr)

	header := rw.Header()
	header.Set("Content-Type", "application/x-pkcs12")
	header.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": p12FileName(h, f.Label)}))
	header.Set("Content-Length", strconv.Itoa(len(pfx)))
	header.Set("Cache-Control", "no-store")
	header.Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(pfx)
}

// issueBrowserFile makes a P-256 key, has the provider sign a device
// certificate for it, and returns key, certificate and CSC as a PKCS #12
// file (Modern2023: PBES2 with AES-256-CBC, HMAC-SHA-256 MAC).
func (w *Web) issueBrowserFile(r *http.Request, h handle.Handle, f browserForm) ([]byte, error) {
	key, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		return nil, err
	}
	csrDER, err := pki.CreateCSR(rand.Reader, key, h)
	if err != nil {
		return nil, fmt.Errorf("CSR for a browser of %s: %w", h, err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("parse the CSR for a browser of %s: %w", h, err)
	}
	chain, err := w.cfg.Provider.IssueDevice(r.Context(), h, f.Label, csr)
	if err != nil {
		return nil, fmt.Errorf("issue a browser certificate for %s: %w", h, err)
	}
	if len(chain) < 2 {
		return nil, fmt.Errorf("issue a browser certificate for %s: the provider returned %d certificates, want the device certificate and the CSC", h, len(chain))
	}
	pfx, err := pkcs12.Modern2023.Encode(key, chain[0], chain[1:], f.Password)
	if err != nil {
		return nil, fmt.Errorf("encode the PKCS #12 file for %s: %w", h, err)
	}
	return pfx, nil
}

// p12FileName returns "<handle>-<label>.p12" with every character of the
// label outside [A-Za-z0-9._-] replaced by "-".
func p12FileName(h handle.Handle, label string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, label)
	return h.String() + "-" + clean + ".p12"
}
