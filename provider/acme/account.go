package acme

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// maxContacts bounds the contact URLs of one account.
const maxContacts = 10

// accountObject is the account object, RFC 8555, section 7.1.2.
type accountObject struct {
	Status               AccountStatus `json:"status"`
	Contact              []string      `json:"contact,omitempty"`
	TermsOfServiceAgreed bool          `json:"termsOfServiceAgreed,omitempty"`
	Orders               string        `json:"orders"`
}

func (s *Server) accountURL(id string) string { return s.url(pathAccount + id) }

func (s *Server) writeAccount(w http.ResponseWriter, status int, a *Account) {
	w.Header().Set("Location", s.accountURL(a.ID))
	writeJSON(w, status, accountObject{
		Status:               a.Status,
		Contact:              a.Contact,
		TermsOfServiceAgreed: a.TermsAgreed,
		Orders:               s.accountURL(a.ID) + "/orders",
	})
}

type newAccountRequest struct {
	Contact                []string        `json:"contact"`
	TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed"`
	OnlyReturnExisting     bool            `json:"onlyReturnExisting"`
	ExternalAccountBinding json.RawMessage `json:"externalAccountBinding"`
}

// handleNewAccount creates an account bound by EAB to an identity, or
// returns the existing account of the key, RFC 8555, section 7.3.
func (s *Server) handleNewAccount(w http.ResponseWriter, r *http.Request) *Problem {
	ctx := r.Context()
	if p := rateLimited(s.limits.newAccount, s.cfg.ClientIP(r), s.cfg.Now(), "newAccount"); p != nil {
		return p
	}
	q, p := s.readRequest(w, r, authJWK)
	if p != nil {
		return p
	}
	var req newAccountRequest
	if p := decodePayload(q, &req); p != nil {
		return p
	}
	tp, err := thumbprint(q.msg.JWK)
	if err != nil {
		return &Problem{Type: ProblemBadPublicKey, Detail: "cannot compute the JWK thumbprint", Err: err}
	}

	// RFC 8555, section 7.3.1: a known key gets its account back with 200.
	existing, err := s.backend.AccountByThumbprint(ctx, tp)
	switch {
	case err == nil && existing.Status != AccountValid:
		return unauthorized("the account of this key is %s", existing.Status)
	case err == nil:
		s.writeAccount(w, http.StatusOK, existing)
		return nil
	case !errors.Is(err, ErrNotFound):
		return internalError("looking up the account key", err)
	}
	if req.OnlyReturnExisting {
		return problemf(ProblemAccountDoesNotExist, "no account has this key")
	}
	if p := checkContacts(req.Contact); p != nil {
		return p
	}

	cred, p := s.checkEAB(ctx, req.ExternalAccountBinding, tp)
	if p != nil {
		return p
	}
	acct := &Account{
		ID:          newID(),
		Key:         mustMarshalJWK(q.msg.JWK),
		Thumbprint:  tp,
		Status:      AccountValid,
		Contact:     req.Contact,
		TermsAgreed: req.TermsOfServiceAgreed,
		EABKeyID:    cred.KeyID,
		IdentityID:  cred.IdentityID,
		Label:       cred.Label,
		Created:     s.cfg.Now(),
	}
	switch err := s.backend.CreateAccount(ctx, acct); {
	case errors.Is(err, ErrEABUsed):
		return unauthorized("external account binding key %q is already bound to an account; ask the provider for a new enrollment code", cred.KeyID)
	case errors.Is(err, ErrKeyInUse):
		return malformed("another request created an account with this key at the same time; repeat the request to get it")
	case err != nil:
		return internalError("creating the account", err)
	}
	s.writeAccount(w, http.StatusCreated, acct)
	return nil
}

// checkEAB verifies an external account binding, RFC 8555, section 7.3.4,
// for the account key with thumbprint tp, and returns its credential.
func (s *Server) checkEAB(ctx context.Context, raw json.RawMessage, tp string) (*EABCredential, *Problem) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, problemf(ProblemExternalAccountRequired, "this server requires an external account binding: enroll with the code from your provider")
	}
	eab, p := parseJWS(raw, true)
	if p != nil {
		return nil, p
	}
	if eab.Header.URL != s.url(pathNewAccount) {
		return nil, unauthorized("external account binding url %q must be the newAccount URL %q", eab.Header.URL, s.url(pathNewAccount))
	}

	cred, err := s.backend.EABCredential(ctx, eab.Header.KID)
	if errors.Is(err, ErrNotFound) {
		return nil, unauthorized("external account binding key %q is unknown; check the enrollment code", eab.Header.KID)
	}
	if err != nil {
		return nil, internalError("looking up the external account binding key", err)
	}
	if !verifyMAC(eab, cred.Key) {
		return nil, unauthorized("external account binding MAC does not verify with key %q; check the enrollment code", eab.Header.KID)
	}
	if !s.cfg.Now().Before(cred.Expires) {
		return nil, unauthorized("external account binding key %q expired at %s; ask the provider for a new enrollment code", cred.KeyID, rfc3339(cred.Expires))
	}
	if cred.AccountID != "" {
		return nil, unauthorized("external account binding key %q is already bound to an account; ask the provider for a new enrollment code", cred.KeyID)
	}

	bound, p := parsePublicJWK(eab.Payload)
	if p != nil {
		return nil, malformed("external account binding payload is not the account JWK: %s", p.Detail)
	}
	boundTP, err := thumbprint(bound)
	if err != nil || boundTP != tp {
		return nil, unauthorized("external account binding signs another key than the account key of this request")
	}
	return cred, nil
}

func checkContacts(contacts []string) *Problem {
	if len(contacts) > maxContacts {
		return problemf(ProblemInvalidContact, "%d contacts given; at most %d are accepted", len(contacts), maxContacts)
	}
	for _, c := range contacts {
		addr, ok := strings.CutPrefix(c, "mailto:")
		if !ok {
			return problemf(ProblemUnsupportedContact, "contact %q is not a mailto: URL, the only kind this server accepts", c)
		}
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr || a.Name != "" {
			return problemf(ProblemInvalidContact, "contact %q is not a plain e-mail address", c)
		}
	}
	return nil
}

func mustMarshalJWK(k *jose.JSONWebKey) []byte {
	b, err := k.MarshalJSON()
	if err != nil {
		// parsePublicJWK accepted this key, and go-jose marshals every key
		// type it parses.
		panic("acme: marshal a parsed JWK: " + err.Error())
	}
	return b
}

type accountUpdate struct {
	Contact *[]string      `json:"contact"`
	Status  *AccountStatus `json:"status"`
}

// handleAccount returns, updates or deactivates the requesting account,
// RFC 8555, sections 7.3.2 and 7.3.6.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) *Problem {
	q, p := s.readRequest(w, r, authKID)
	if p != nil {
		return p
	}
	acct := q.account
	if r.PathValue("id") != acct.ID {
		return unauthorized("an account can only read and change itself")
	}
	if q.postAsGet() || string(q.msg.Payload) == "{}" {
		s.writeAccount(w, http.StatusOK, acct)
		return nil
	}

	var upd accountUpdate
	if p := decodePayload(q, &upd); p != nil {
		return p
	}
	if upd.Contact != nil {
		if p := checkContacts(*upd.Contact); p != nil {
			return p
		}
		acct.Contact = *upd.Contact
	}
	if upd.Status != nil {
		if *upd.Status != AccountDeactivated {
			return malformed("an account can only set its status to %q, not %q", AccountDeactivated, *upd.Status)
		}
		acct.Status = AccountDeactivated
	}
	if err := s.backend.UpdateAccount(r.Context(), acct); err != nil {
		return internalError("updating the account", err)
	}
	s.writeAccount(w, http.StatusOK, acct)
	return nil
}

type keyChangeRequest struct {
	Account string          `json:"account"`
	OldKey  json.RawMessage `json:"oldKey"`
}

// handleKeyChange rolls the account over to a new key, RFC 8555,
// section 7.3.5.
func (s *Server) handleKeyChange(w http.ResponseWriter, r *http.Request) *Problem {
	q, p := s.readRequest(w, r, authKID)
	if p != nil {
		return p
	}
	acct := q.account

	inner, p := parseJWS(q.msg.Payload, false)
	if p != nil {
		return malformed("inner JWS of key change: %s", p.Detail)
	}
	switch {
	case inner.JWK == nil:
		return malformed(`inner JWS of key change needs a "jwk" with the new key`)
	case inner.Header.Nonce != "":
		return malformed(`inner JWS of key change must not have a "nonce"`)
	case inner.Header.URL != q.msg.Header.URL:
		return malformed("inner JWS url %q differs from the outer url %q", inner.Header.URL, q.msg.Header.URL)
	}
	if p := verifyJWS(q.msg.Payload, inner, inner.JWK.Key); p != nil {
		return malformed("inner JWS of key change is not signed by the new key")
	}

	var req keyChangeRequest
	if err := json.Unmarshal(inner.Payload, &req); err != nil {
		return malformed("inner payload of key change is not a JSON object: %v", err)
	}
	if req.Account != s.accountURL(acct.ID) {
		return unauthorized("key change names account %q, but the request is signed by %q", req.Account, s.accountURL(acct.ID))
	}
	oldKey, p := parsePublicJWK(req.OldKey)
	if p != nil {
		return malformed("oldKey of key change: %s", p.Detail)
	}
	if oldTP, err := thumbprint(oldKey); err != nil || oldTP != acct.Thumbprint {
		return unauthorized("oldKey of key change is not the current account key")
	}

	newTP, err := thumbprint(inner.JWK)
	if err != nil {
		return &Problem{Type: ProblemBadPublicKey, Detail: "cannot compute the new key's thumbprint", Err: err}
	}
	if owner, err := s.backend.AccountByThumbprint(r.Context(), newTP); err == nil {
		return &Problem{Type: ProblemMalformed, Status: http.StatusConflict, Location: s.accountURL(owner.ID),
			Detail: "the new key already belongs to an account"}
	}
	acct.Key = mustMarshalJWK(inner.JWK)
	acct.Thumbprint = newTP
	switch err := s.backend.UpdateAccount(r.Context(), acct); {
	case errors.Is(err, ErrKeyInUse):
		return &Problem{Type: ProblemMalformed, Status: http.StatusConflict, Detail: "the new key already belongs to an account"}
	case err != nil:
		return internalError("storing the new account key", err)
	}
	s.writeAccount(w, http.StatusOK, acct)
	return nil
}
