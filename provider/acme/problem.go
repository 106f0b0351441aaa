package acme

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ProblemType is the last part of an ACME error type URN,
// "urn:ietf:params:acme:error:<type>".
type ProblemType string

// ErrorNamespace prefixes every ProblemType on the wire, RFC 8555,
// section 6.7.
const ErrorNamespace = "urn:ietf:params:acme:error:"

// Problem types this server sends: RFC 8555, section 6.7, and
// alreadyReplaced from RFC 9773, section 7.4.
const (
	ProblemAccountDoesNotExist     ProblemType = "accountDoesNotExist"
	ProblemAlreadyReplaced         ProblemType = "alreadyReplaced"
	ProblemAlreadyRevoked          ProblemType = "alreadyRevoked"
	ProblemBadCSR                  ProblemType = "badCSR"
	ProblemBadNonce                ProblemType = "badNonce"
	ProblemBadPublicKey            ProblemType = "badPublicKey"
	ProblemBadRevocationReason     ProblemType = "badRevocationReason"
	ProblemBadSignatureAlgorithm   ProblemType = "badSignatureAlgorithm"
	ProblemExternalAccountRequired ProblemType = "externalAccountRequired"
	ProblemInvalidContact          ProblemType = "invalidContact"
	ProblemMalformed               ProblemType = "malformed"
	ProblemOrderNotReady           ProblemType = "orderNotReady"
	ProblemRateLimited             ProblemType = "rateLimited"
	ProblemRejectedIdentifier      ProblemType = "rejectedIdentifier"
	ProblemServerInternal          ProblemType = "serverInternal"
	ProblemUnauthorized            ProblemType = "unauthorized"
	ProblemUnsupportedContact      ProblemType = "unsupportedContact"
	ProblemUnsupportedIdentifier   ProblemType = "unsupportedIdentifier"
)

// problemStatus is the HTTP status of each problem type. A Problem may
// override it where RFC 8555 names another status for one case, such as
// 404, 405 and 415 for malformed requests or 409 for a key change to a key
// in use.
var problemStatus = map[ProblemType]int{
	ProblemAccountDoesNotExist:     http.StatusBadRequest,
	ProblemAlreadyReplaced:         http.StatusConflict,
	ProblemAlreadyRevoked:          http.StatusBadRequest,
	ProblemBadCSR:                  http.StatusBadRequest,
	ProblemBadNonce:                http.StatusBadRequest,
	ProblemBadPublicKey:            http.StatusBadRequest,
	ProblemBadRevocationReason:     http.StatusBadRequest,
	ProblemBadSignatureAlgorithm:   http.StatusBadRequest,
	ProblemExternalAccountRequired: http.StatusBadRequest,
	ProblemInvalidContact:          http.StatusBadRequest,
	ProblemMalformed:               http.StatusBadRequest,
	ProblemOrderNotReady:           http.StatusForbidden,
	ProblemRateLimited:             http.StatusTooManyRequests,
	ProblemRejectedIdentifier:      http.StatusBadRequest,
	ProblemServerInternal:          http.StatusInternalServerError,
	ProblemUnauthorized:            http.StatusForbidden,
	ProblemUnsupportedContact:      http.StatusBadRequest,
	ProblemUnsupportedIdentifier:   http.StatusBadRequest,
}

// Problem is an ACME error: the problem document sent to the client (RFC
// 7807 with the fields of RFC 8555, section 6.7) and, apart from it, the
// internal cause that goes only to the server log.
type Problem struct {
	Type ProblemType
	// Detail is the text shown to the client. It never contains the
	// internal cause.
	Detail string
	// Status overrides the HTTP status of Type when non-zero.
	Status int
	// Algorithms lists the accepted JWS algorithms in a
	// badSignatureAlgorithm problem, RFC 8555, section 6.2.
	Algorithms []string
	// RetryAfter is sent as the Retry-After header when positive.
	RetryAfter time.Duration
	// Location is sent as the Location header when set, for example the
	// account that already has a key (RFC 8555, section 7.3.5).
	Location string
	// Err is the internal cause, kept for the log.
	Err error
}

// Error returns the problem type and detail, and the internal cause.
func (p *Problem) Error() string {
	if p.Err != nil {
		return fmt.Sprintf("acme: %s: %s: %v", p.Type, p.Detail, p.Err)
	}
	return fmt.Sprintf("acme: %s: %s", p.Type, p.Detail)
}

// Unwrap returns the internal cause.
func (p *Problem) Unwrap() error { return p.Err }

// HTTPStatus returns the status sent with the problem.
func (p *Problem) HTTPStatus() int {
	if p.Status != 0 {
		return p.Status
	}
	if s, ok := problemStatus[p.Type]; ok {
		return s
	}
	return http.StatusInternalServerError
}

func problemf(t ProblemType, format string, args ...any) *Problem {
	return &Problem{Type: t, Detail: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) *Problem {
	return problemf(ProblemMalformed, format, args...)
}

func unauthorized(format string, args ...any) *Problem {
	return problemf(ProblemUnauthorized, format, args...)
}

func notFound(what string) *Problem {
	return &Problem{Type: ProblemMalformed, Status: http.StatusNotFound, Detail: what + " not found"}
}

// internalError hides err from the client behind a generic detail.
func internalError(what string, err error) *Problem {
	return &Problem{Type: ProblemServerInternal, Detail: what + " failed; try again later", Err: err}
}

// problemDocument is the JSON form of a Problem.
type problemDocument struct {
	Type       string   `json:"type"`
	Detail     string   `json:"detail,omitempty"`
	Status     int      `json:"status"`
	Algorithms []string `json:"algorithms,omitempty"`
}

// writeProblem sends p as application/problem+json. The caller has set the
// Replay-Nonce header.
func writeProblem(w http.ResponseWriter, p *Problem) {
	status := p.HTTPStatus()
	doc := problemDocument{
		Type:       ErrorNamespace + string(p.Type),
		Detail:     p.Detail,
		Status:     status,
		Algorithms: p.Algorithms,
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((p.RetryAfter+time.Second-1)/time.Second), 10))
	}
	if p.Location != "" {
		h.Set("Location", p.Location)
	}
	if status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		h.Set("Allow", http.MethodPost)
	}
	w.WriteHeader(status)
	// A failed write means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(doc)
}
