package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Limits of the parameters of an end-session request, in bytes.
const (
	maxIDTokenHintLength = 8192
	maxLogoutStateLength = 2048
	maxLogoutHintLength  = 2048
)

// endSessionRequest is a logout request of a relying party (OpenID Connect
// RP-Initiated Logout 1.0, section 2). The provider ignores logout_hint
// and ui_locales.
type endSessionRequest struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
}

// endSessionError reports an end-session request that the provider
// rejects. The person gets a page with the reason and is never
// redirected.
type endSessionError struct {
	// Parameter is the parameter at fault, such as "id_token_hint".
	Parameter string

	// Reason describes what is wrong and what to do.
	Reason string
}

func (e *endSessionError) Error() string {
	return fmt.Sprintf("parameter %s %s", e.Parameter, e.Reason)
}

// parseEndSessionRequest reads the parameters of an end-session request,
// from the query of a GET or the form of a POST. Errors are
// *endSessionError.
func parseEndSessionRequest(form url.Values) (*endSessionRequest, error) {
	limits := []struct {
		name string
		max  int
	}{
		{"id_token_hint", maxIDTokenHintLength},
		{"client_id", maxClientIDLength},
		{"post_logout_redirect_uri", maxRedirectURILength},
		{"state", maxLogoutStateLength},
		{"logout_hint", maxLogoutHintLength},
		{"ui_locales", maxLogoutHintLength},
	}
	for _, l := range limits {
		values := form[l.name]
		// RFC 6749, section 3.1: parameters must not be repeated.
		if len(values) > 1 {
			return nil, &endSessionError{Parameter: l.name, Reason: "appears more than once: send it once"}
		}
		if len(values) == 1 && len(values[0]) > l.max {
			return nil, &endSessionError{Parameter: l.name, Reason: fmt.Sprintf("is longer than %d bytes", l.max)}
		}
	}

	req := &endSessionRequest{
		IDTokenHint:           form.Get("id_token_hint"),
		ClientID:              form.Get("client_id"),
		PostLogoutRedirectURI: form.Get("post_logout_redirect_uri"),
		State:                 form.Get("state"),
	}
	if req.ClientID != "" && !validClientID(req.ClientID) {
		return nil, &endSessionError{Parameter: "client_id", Reason: fmt.Sprintf("with value %q is not a client ID of this provider", truncate(req.ClientID, 64))}
	}
	return req, nil
}

// logoutRequest is an end-session request that the provider checked.
type logoutRequest struct {
	params *endSessionRequest

	// client is the client that the id_token_hint or client_id names, nil
	// when the request names none.
	client *client

	// hint holds the claims of a valid id_token_hint, nil without one.
	hint *logoutHint

	// redirectURI is the registered post_logout_redirect_uri with the
	// state added, "" when the request has none or an unregistered one.
	redirectURI string

	// unregistered is set when the request has a post_logout_redirect_uri
	// that the client did not register, or names no client to check it
	// against. The provider never redirects to it.
	unregistered bool
}

// logoutHint holds what the provider uses of an id_token_hint.
type logoutHint struct {
	// subject is the sub claim, the DID of the identity.
	subject string

	// grantID is the sid claim, the grant the ID token was issued from,
	// or "" for an ID token without it.
	grantID string
}

// checkLogout verifies the id_token_hint, finds the client and matches
// the post_logout_redirect_uri against the client's registered ones
// exactly. Errors are *endSessionError, or failures of the store.
func (p *Provider) checkLogout(ctx context.Context, params *endSessionRequest) (*logoutRequest, error) {
	logout := &logoutRequest{params: params}
	clientID := params.ClientID
	if params.IDTokenHint != "" {
		hint, azp, err := p.verifyIDTokenHint(ctx, params.IDTokenHint)
		if err != nil {
			return nil, err
		}
		// OpenID Connect RP-Initiated Logout 1.0, section 2: the
		// client_id must be the client the ID token was issued to.
		if clientID != "" && clientID != azp {
			return nil, &endSessionError{Parameter: "client_id", Reason: "is not the client that the id_token_hint was issued to"}
		}
		logout.hint, clientID = hint, azp
	}

	if clientID != "" {
		c, err := p.clients.lookup(ctx, clientID)
		var unknown *unknownClientError
		if errors.As(err, &unknown) {
			return nil, &endSessionError{Parameter: "client_id", Reason: fmt.Sprintf("with value %q names no client registered at this provider", truncate(unknown.ID, maxClientIDLength))}
		}
		if err != nil {
			return nil, err
		}
		logout.client = c
	}

	uri := params.PostLogoutRedirectURI
	switch {
	case uri == "":
	case logout.client != nil && slices.Contains(logout.client.meta.PostLogoutRedirectURIs, uri):
		logout.redirectURI = withState(uri, params.State)
	default:
		logout.unregistered = true
	}
	return logout, nil
}

// verifyIDTokenHint checks that hint is an ID token that this provider
// signed with a key of its JWK set, the current or the previous one, and
// returns its claims and the client it was issued to (azp). An expired ID
// token is accepted, because the relying party keeps the ID token of the
// login, which has usually expired by the time of the logout. Errors are
// *endSessionError.
func (p *Provider) verifyIDTokenHint(ctx context.Context, hint string) (*logoutHint, string, error) {
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
	var expired op.IDTokenHintExpiredError
	if err != nil && !errors.As(err, &expired) {
		return nil, "", &endSessionError{Parameter: "id_token_hint",
			Reason: "is not an ID token that this provider issued, or it was signed with a key the provider no longer has: sign out at the application again, or sign out on this provider's pages"}
	}
	// Access tokens are signed with the same key but carry no azp. Every ID
	// token of this provider names its client in azp and aud.
	azp := claims.AuthorizedParty
	if azp == "" || !slices.Contains(claims.Audience, azp) || claims.Subject == "" {
		return nil, "", &endSessionError{Parameter: "id_token_hint", Reason: "is not an ID token: it lacks azp, aud or sub"}
	}
	return &logoutHint{subject: claims.Subject, grantID: claims.SessionID}, azp, nil
}

// withState returns uri with the state parameter added to its query, or
// uri itself when state is empty (OpenID Connect RP-Initiated Logout 1.0,
// section 3).
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + url.Values{"state": {state}}.Encode()
}
