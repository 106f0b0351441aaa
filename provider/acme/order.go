package acme

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/dnshandle/dnshandle/handle"
)

// ordersPageSize is the number of order URLs per page of an orders list.
const ordersPageSize = 100

// orderObject is the order object, RFC 8555, section 7.1.3, with replaces
// from RFC 9773, section 5.
type orderObject struct {
	Status         OrderStatus      `json:"status"`
	Expires        string           `json:"expires"`
	Identifiers    []Identifier     `json:"identifiers"`
	Authorizations []string         `json:"authorizations"`
	Finalize       string           `json:"finalize"`
	Certificate    string           `json:"certificate,omitempty"`
	Replaces       string           `json:"replaces,omitempty"`
	Error          *problemDocument `json:"error,omitempty"`
}

// authzObject is the authorization object, RFC 8555, section 7.1.4.
// Challenges is always empty: the external account binding proved the
// account's right to the handle before the order existed.
type authzObject struct {
	Identifier Identifier  `json:"identifier"`
	Status     AuthzStatus `json:"status"`
	Expires    string      `json:"expires"`
	Challenges []struct{}  `json:"challenges"`
}

func (s *Server) orderURL(id string) string { return s.url(pathOrder + id) }

func (s *Server) writeOrder(w http.ResponseWriter, status int, o *Order) {
	obj := orderObject{
		Status:         o.Status,
		Expires:        rfc3339(o.Expires),
		Identifiers:    []Identifier{o.Identifier},
		Authorizations: []string{s.url(pathAuthz + o.ID)},
		Finalize:       s.orderURL(o.ID) + "/finalize",
		Replaces:       o.Replaces,
	}
	if o.CertificateSerial != "" {
		obj.Certificate = s.url(pathCert + o.CertificateSerial)
	}
	if o.ErrorType != "" {
		obj.Error = &problemDocument{Type: ErrorNamespace + o.ErrorType, Detail: o.ErrorDetail}
	}
	w.Header().Set("Location", s.orderURL(o.ID))
	writeJSON(w, status, obj)
}

type newOrderRequest struct {
	Identifiers []Identifier `json:"identifiers"`
	NotBefore   string       `json:"notBefore"`
	NotAfter    string       `json:"notAfter"`
	Replaces    string       `json:"replaces"`
}

// handleNewOrder creates a ready order for the handle of the account's
// identity, RFC 8555, section 7.4.
func (s *Server) handleNewOrder(w http.ResponseWriter, r *http.Request) *Problem {
	ctx := r.Context()
	q, p := s.readRequest(w, r, authKID)
	if p != nil {
		return p
	}
	acct := q.account
	now := s.cfg.Now()
	if p := rateLimited(s.limits.newOrder, acct.ID, now, "newOrder"); p != nil {
		return p
	}
	var req newOrderRequest
	if p := decodePayload(q, &req); p != nil {
		return p
	}
	if req.NotBefore != "" || req.NotAfter != "" {
		return malformed("notBefore and notAfter are not supported: the provider sets the device certificate lifetime")
	}

	iss, p := s.loadIssuer(ctx, acct.IdentityID)
	if p != nil {
		return p
	}
	if p := checkIdentifiers(req.Identifiers, iss.CSC.Handle); p != nil {
		return p
	}
	if req.Replaces != "" {
		if p := s.checkReplaces(ctx, acct, req.Replaces, string(iss.CSC.Handle)); p != nil {
			return p
		}
	}

	o := &Order{
		ID:           newID(),
		AccountID:    acct.ID,
		IdentityID:   acct.IdentityID,
		Identifier:   Identifier{Type: "dns", Value: string(iss.CSC.Handle)},
		Status:       OrderReady,
		Created:      now,
		Expires:      now.Add(s.cfg.OrderLifetime),
		AuthzStatus:  AuthzValid,
		AuthzExpires: now.Add(s.cfg.AuthorizationLifetime),
		Replaces:     req.Replaces,
	}
	switch err := s.backend.CreateOrder(ctx, o); {
	case errors.Is(err, ErrAlreadyReplaced):
		return problemf(ProblemAlreadyReplaced, "certificate %q is already replaced by another order (RFC 9773, section 5)", req.Replaces)
	case err != nil:
		return internalError("creating the order", err)
	}
	s.writeOrder(w, http.StatusCreated, o)
	return nil
}

// checkIdentifiers requires exactly the identifier {"dns", h}.
func checkIdentifiers(ids []Identifier, h handle.Handle) *Problem {
	if len(ids) == 0 {
		return malformed("order has no identifiers; send one: {\"type\":\"dns\",\"value\":%q}", h)
	}
	if len(ids) > 1 {
		return problemf(ProblemRejectedIdentifier, "order has %d identifiers; a device certificate names exactly one, the handle %q", len(ids), h)
	}
	id := ids[0]
	if id.Type != "dns" {
		return problemf(ProblemRejectedIdentifier, "identifier type %q is not accepted; use type \"dns\" with the handle %q", id.Type, h)
	}
	got, err := handle.Parse(id.Value)
	if err != nil || got != h {
		return problemf(ProblemRejectedIdentifier, "identifier %q is not the handle of this account's identity; use %q", id.Value, h)
	}
	return nil
}

func (s *Server) loadIssuer(ctx context.Context, identityID string) (*Issuer, *Problem) {
	iss, err := s.backend.Issuer(ctx, identityID)
	if errors.Is(err, ErrNotFound) {
		return nil, unauthorized("the identity of this account no longer exists or has no signing certificate")
	}
	if err != nil {
		return nil, internalError("loading the identity's signing certificate", err)
	}
	if iss.CSC == nil {
		return nil, internalError("loading the identity's signing certificate", errors.New("backend returned an Issuer without CSC"))
	}
	return iss, nil
}

// loadOrder loads an order of the requesting account and brings its status
// up to date with the clock.
func (s *Server) loadOrder(ctx context.Context, acct *Account, id string) (*Order, *Problem) {
	o, err := s.backend.Order(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("order")
	}
	if err != nil {
		return nil, internalError("loading the order", err)
	}
	if o.AccountID != acct.ID {
		return nil, unauthorized("the order belongs to another account")
	}
	return s.refreshOrder(ctx, o)
}

// refreshOrder applies expiry, RFC 8555, section 7.1.6: an authorization
// past its expiry is expired, and a pending or ready order whose
// authorization is no longer valid, or which is past its own expiry, is
// invalid. An order processing for longer than Config.FinalizeTimeout is
// invalid too. The change is stored.
func (s *Server) refreshOrder(ctx context.Context, o *Order) (*Order, *Problem) {
	for range 3 {
		prev := o.Status
		if !s.expire(o) {
			return o, nil
		}
		err := s.backend.UpdateOrder(ctx, o, prev)
		if err == nil {
			return o, nil
		}
		if !errors.Is(err, ErrStatusChanged) {
			return nil, internalError("updating the order status", err)
		}
		if o, err = s.backend.Order(ctx, o.ID); err != nil {
			return nil, internalError("loading the order", err)
		}
	}
	return nil, internalError("updating the order status", errors.New("order changed three times during the update"))
}

// expire updates the statuses of o at the current time and reports whether
// they changed.
func (s *Server) expire(o *Order) bool {
	now := s.cfg.Now()
	changed := false
	if o.AuthzStatus == AuthzValid && !now.Before(o.AuthzExpires) {
		o.AuthzStatus = AuthzExpired
		changed = true
	}
	if o.Status == OrderProcessing && !now.Before(o.ProcessingSince.Add(s.cfg.FinalizeTimeout)) {
		// The process that set the order to processing stopped before it
		// stored the certificate. A zero ProcessingSince, from a program
		// that did not record it, counts as long ago.
		o.Status, o.ErrorType = OrderInvalid, string(ProblemServerInternal)
		o.ErrorDetail = "finalizing the order was interrupted before the certificate was issued; place a new order"
		return true
	}
	if o.Status != OrderPending && o.Status != OrderReady {
		return changed
	}
	switch {
	case !now.Before(o.Expires):
		o.Status, o.ErrorType, o.ErrorDetail = OrderInvalid, string(ProblemMalformed), "the order expired before it was finalized"
	case o.AuthzStatus != AuthzValid:
		o.Status, o.ErrorType, o.ErrorDetail = OrderInvalid, string(ProblemUnauthorized), "the order's authorization is "+string(o.AuthzStatus)
	default:
		return changed
	}
	return true
}

// handleOrder returns an order, POST-as-GET, RFC 8555, section 7.4.
func (s *Server) handleOrder(w http.ResponseWriter, r *http.Request) *Problem {
	q, p := s.readRequest(w, r, authKID)
	if p != nil {
		return p
	}
	if p := requirePostAsGet(q); p != nil {
		return p
	}
	o, p := s.loadOrder(r.Context(), q.account, r.PathValue("id"))
	if p != nil {
		return p
	}
	s.writeOrder(w, http.StatusOK, o)
	return nil
}

type authzUpdate struct {
	Status AuthzStatus `json:"status"`
}

// handleAuthz returns the authorization of an order (POST-as-GET) or
// deactivates it, RFC 8555, sections 7.5 and 7.5.2.
func (s *Server) handleAuthz(w http.ResponseWriter, r *http.Request) *Problem {
	ctx := r.Context()
	q, p := s.readRequest(w, r, authKID)
	if p != nil {
		return p
	}
	o, p := s.loadOrder(ctx, q.account, r.PathValue("id"))
	if p != nil {
		return p
	}

	if !q.postAsGet() {
		var upd authzUpdate
		if p := decodePayload(q, &upd); p != nil {
			return p
		}
		if upd.Status != AuthzDeactivated {
			return malformed("an authorization can only be set to %q", AuthzDeactivated)
		}
		if o.AuthzStatus != AuthzValid && o.AuthzStatus != AuthzPending {
			return malformed("the authorization is %s and cannot be deactivated", o.AuthzStatus)
		}
		prev := o.Status
		o.AuthzStatus = AuthzDeactivated
		s.expire(o)
		if err := s.backend.UpdateOrder(ctx, o, prev); err != nil {
			return internalError("deactivating the authorization", err)
		}
	}

	w.Header().Add("Link", link(s.orderURL(o.ID), "up"))
	writeJSON(w, http.StatusOK, authzObject{
		Identifier: o.Identifier,
		Status:     o.AuthzStatus,
		Expires:    rfc3339(o.AuthzExpires),
		Challenges: []struct{}{},
	})
	return nil
}

// handleOrders returns the account's orders list, RFC 8555, section
// 7.1.2.1, one page at a time with a Link rel="next" to the next page.
// Invalid orders are left out, as the RFC recommends.
func (s *Server) handleOrders(w http.ResponseWriter, r *http.Request) *Problem {
	ctx := r.Context()
	q, p := s.readRequest(w, r, authKID)
	if p != nil {
		return p
	}
	if r.PathValue("id") != q.account.ID {
		return unauthorized("an account can only list its own orders")
	}
	if p := requirePostAsGet(q); p != nil {
		return p
	}

	cursor := r.URL.Query().Get("cursor")
	ids, err := s.backend.AccountOrders(ctx, q.account.ID, cursor, ordersPageSize)
	if errors.Is(err, ErrNotFound) {
		return malformed("cursor %q names no order of this account", cursor)
	}
	if err != nil {
		return internalError("listing orders", err)
	}

	urls := []string{}
	for _, id := range ids {
		o, p := s.loadOrder(ctx, q.account, id)
		if p != nil {
			return p
		}
		if o.Status != OrderInvalid {
			urls = append(urls, s.orderURL(id))
		}
	}
	if len(ids) == ordersPageSize {
		next := s.accountURL(q.account.ID) + "/orders?cursor=" + url.QueryEscape(ids[len(ids)-1])
		w.Header().Add("Link", link(next, "next"))
	}
	writeJSON(w, http.StatusOK, struct {
		Orders []string `json:"orders"`
	}{urls})
	return nil
}
