package oidclogin

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/resolve"
	"github.com/dnshandle/dnshandle/verify"
)

// maxParameter bounds each parameter of an authorization response, in
// bytes.
const maxParameter = 4096

// callbackParams is a parsed authorization response (RFC 6749, section
// 4.1.2) with the iss parameter of RFC 9207.
type callbackParams struct {
	Code             string
	State            string
	Iss              string
	Error            string
	ErrorDescription string
	ErrorURI         string
}

// ResponseError reports an authorization response that breaks the rules
// of RFC 6749, section 4.1.2: a repeated or oversized parameter, an error
// code with characters outside the allowed set, or neither a code nor an
// error.
type ResponseError struct {
	// Parameter is the parameter at fault, for example "code".
	Parameter string
	// Reason describes what is wrong.
	Reason string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("invalid authorization response: parameter %q %s", e.Parameter, e.Reason)
}

// parseCallback reads the query of an authorization response. Errors are
// *ResponseError. Text meant for display (error_description, error_uri) is
// made printable instead of rejected, so the provider's message is still
// shown.
func parseCallback(q url.Values) (callbackParams, error) {
	names := []string{"code", "state", "iss", "error", "error_description", "error_uri"}
	for _, name := range names {
		values := q[name]
		// RFC 6749, section 3.1: parameters must not be repeated.
		if len(values) > 1 {
			return callbackParams{}, &ResponseError{Parameter: name, Reason: "appears more than once"}
		}
		if len(values) == 1 && len(values[0]) > maxParameter {
			return callbackParams{}, &ResponseError{Parameter: name, Reason: fmt.Sprintf("is longer than %d bytes", maxParameter)}
		}
	}
	p := callbackParams{
		Code:             q.Get("code"),
		State:            q.Get("state"),
		Iss:              q.Get("iss"),
		Error:            q.Get("error"),
		ErrorDescription: printable(q.Get("error_description"), 512),
		ErrorURI:         printable(q.Get("error_uri"), 512),
	}
	// RFC 6749, section 4.1.2.1: the error code is limited to
	// %x20-21 / %x23-5B / %x5D-7E.
	for i := 0; i < len(p.Error); i++ {
		if c := p.Error[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return callbackParams{}, &ResponseError{Parameter: "error", Reason: fmt.Sprintf("contains the byte 0x%02x, which an error code must not contain", c)}
		}
	}
	if p.Error == "" && p.Code == "" {
		return callbackParams{}, &ResponseError{Parameter: "code", Reason: "is missing, and there is no error parameter either"}
	}
	return p, nil
}

// finishedLogin is the result of a login at the callback.
type finishedLogin struct {
	// identity is the verified identity.
	identity *verify.Identity
	// pending is the pending login that the callback finished. It names
	// the issuer, the client and the local path to return to.
	pending *pendingData
	// idToken is the verified ID token, for a later logout at the
	// provider.
	idToken string
}

// finish runs the second half of a login at the callback. Errors are
// *Error.
func (l *Login) finish(ctx context.Context, r *http.Request) (*finishedLogin, error) {
	params, err := parseCallback(r.URL.Query())
	if err != nil {
		return nil, &Error{Step: StepAuthorize, Err: err}
	}
	pending, err := l.readPending(r)
	if err != nil {
		return nil, &Error{Step: StepAuthorize, Err: err}
	}
	h := handle.Handle(pending.Handle)
	fail := func(step Step, err error) (*finishedLogin, error) {
		return nil, &Error{Step: step, Handle: pending.Handle, Issuer: pending.Issuer, Err: err}
	}

	// RFC 6749, section 10.12: the response must carry the state of the
	// login this browser started.
	if subtle.ConstantTimeCompare([]byte(params.State), []byte(pending.State)) != 1 {
		return fail(StepAuthorize, &StateError{Problem: StateMismatch})
	}
	p, err := l.provider(ctx, pending.Issuer)
	if err != nil {
		return fail(StepDiscovery, err)
	}
	if err := checkIssParameter(params.Iss, pending.Issuer, p.meta.ISSParameter); err != nil {
		return fail(StepAuthorize, err)
	}
	if params.Error != "" {
		return fail(StepAuthorize, &OAuthError{Endpoint: "authorization", Code: params.Error, Description: params.ErrorDescription, URI: params.ErrorURI})
	}

	client, err := l.clientForCallback(p, pending.ClientID)
	if err != nil {
		return fail(StepToken, err)
	}
	tokens, err := l.exchangeCode(ctx, p, client, params.Code, pending)
	if err != nil {
		return fail(StepToken, err)
	}
	subject, err := l.verifyIDToken(ctx, p, client, tokens.IDToken, pending)
	if err != nil {
		return fail(StepIDToken, err)
	}

	status, err := l.checkBinding(ctx, h, subject, pending.Issuer)
	if err != nil {
		return fail(StepBinding, err)
	}
	id := &verify.Identity{
		Handle: h,
		DID:    subject,
		Device: "",
		DNSSEC: weakest(status, resolve.Status(pending.DNSSEC)),
		Method: MethodOIDC,
	}
	return &finishedLogin{identity: id, pending: pending, idToken: tokens.IDToken}, nil
}

// readPending returns the pending login of the request's cookie.
func (l *Login) readPending(r *http.Request) (*pendingData, error) {
	c, err := r.Cookie(l.cookies.pending.name)
	if err != nil {
		return nil, &StateError{Problem: StateMissing}
	}
	return l.cookies.decodePending(c.Value, l.now())
}

// checkIssParameter applies RFC 9207, section 2.4: a present iss must be
// the issuer the login started at, and a provider that advertises the
// parameter must send it.
func checkIssParameter(iss, issuer string, advertised bool) error {
	if iss == "" {
		if advertised {
			return &IssuerParameterError{Expected: issuer}
		}
		return nil
	}
	if iss != issuer {
		return &IssuerParameterError{Expected: issuer, Got: iss}
	}
	return nil
}

// idTokenClaims are the claims read beyond those the verifier checks.
type idTokenClaims struct {
	AuthorizedParty string  `json:"azp"`
	Handle          *string `json:"handle"`
}

// verifyIDToken verifies the ID token's signature with the provider's
// keys and an algorithm from its discovery document, iss, aud and exp
// (go-oidc), then nonce, azp, sub and the handle claim. It returns sub.
func (l *Login) verifyIDToken(ctx context.Context, p *provider, c oauthClient, raw string, pending *pendingData) (string, error) {
	verifier := oidc.NewVerifier(p.meta.Issuer, p.keySet, &oidc.Config{
		ClientID:             c.ID,
		SupportedSigningAlgs: p.idTokenAlgs(),
		Now:                  l.now,
	})
	token, err := verifier.Verify(oidc.ClientContext(ctx, l.httpClient), raw)
	if err != nil {
		return "", err
	}

	// OpenID Connect Core 1.0, section 3.1.3.7, rule 11.
	if subtle.ConstantTimeCompare([]byte(token.Nonce), []byte(pending.Nonce)) != 1 {
		return "", &ClaimError{Claim: "nonce", Reason: "does not match the nonce of the login pending in this browser (the token may be replayed)"}
	}
	var claims idTokenClaims
	if err := token.Claims(&claims); err != nil {
		return "", &ClaimError{Claim: "(payload)", Reason: err.Error()}
	}
	// Same section, rules 4 and 5: with several audiences azp must name
	// this client, and a present azp must always name it.
	if (len(token.Audience) > 1 || claims.AuthorizedParty != "") && claims.AuthorizedParty != c.ID {
		return "", &ClaimError{Claim: "azp", Reason: fmt.Sprintf("is %q, not this client %q", claims.AuthorizedParty, c.ID)}
	}
	if token.Subject == "" {
		return "", &ClaimError{Claim: "sub", Reason: "is missing"}
	}
	if _, err := handle.ParseDID(token.Subject); err != nil {
		return "", &ClaimError{Claim: "sub", Reason: fmt.Sprintf("%q is not a DID, so it cannot be the handle's permanent identifier", token.Subject)}
	}
	if claims.Handle != nil && *claims.Handle != pending.Handle {
		return "", &HandleClaimError{Login: pending.Handle, Token: *claims.Handle}
	}
	return token.Subject, nil
}
