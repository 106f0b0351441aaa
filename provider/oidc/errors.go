package oidc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
)

// OAuth error codes that the library has no constructor for.
const (
	errInvalidRequest         = "invalid_request"
	errInvalidRequestURI      = "invalid_request_uri"
	errInvalidDPoPProof       = "invalid_dpop_proof"
	errUseDPoPNonce           = "use_dpop_nonce"
	errInvalidToken           = "invalid_token"
	errTemporarilyUnavailable = "temporarily_unavailable"
	errServerError            = "server_error"
)

// oauthError is the JSON body of an OAuth error response (RFC 6749,
// section 5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeOAuthError writes an OAuth error response as JSON.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, oauthError{Error: code, Description: description})
}

// writeJSON writes v as the JSON body of a response with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serverError logs a failure of the provider and responds with 500
// server_error. The response omits the cause, which may name internals.
func (p *Provider) serverError(w http.ResponseWriter, r *http.Request, action string, err error) {
	p.cfg.Logger.ErrorContext(r.Context(), "OpenID provider failed to "+action,
		slog.String("remote_addr", r.RemoteAddr), slog.Any("err", err))
	writeOAuthError(w, http.StatusInternalServerError, errServerError, "the provider failed to "+action+"; try again later")
}

// randomToken returns n random bytes in unpadded base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken returns the hex SHA-256 of a secret token, the form the store
// keeps codes, refresh tokens and request URIs in.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
