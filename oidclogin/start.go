package oidclogin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"

	"github.com/dnshandle/dnshandle/handle"
)

// start runs the first half of a login for the handle typed in the form:
// resolve, discovery, client, PAR. It returns the URL of the
// authorization endpoint to send the browser to and the pending login to
// keep in its cookie. Errors are *Error.
func (l *Login) start(ctx context.Context, input, returnPath string) (string, *pendingData, error) {
	ret, err := checkReturnPath(returnPath)
	if err != nil {
		return "", nil, &Error{Step: StepInput, Err: err}
	}
	h, err := handle.ParseInput(input)
	if err != nil {
		return "", nil, &Error{Step: StepInput, Err: err}
	}

	recs, err := l.lookupHandle(ctx, h)
	if err != nil {
		return "", nil, &Error{Step: StepResolve, Handle: string(h), Err: err}
	}
	fail := func(step Step, err error) (string, *pendingData, error) {
		return "", nil, &Error{Step: step, Handle: string(h), Issuer: recs.issuer, Err: err}
	}

	p, err := l.provider(ctx, recs.issuer)
	if err != nil {
		return fail(StepDiscovery, err)
	}
	client, err := l.client(ctx, p)
	if err != nil {
		return fail(StepRegistration, err)
	}

	pending := &pendingData{
		Handle:   string(h),
		Issuer:   recs.issuer,
		ClientID: client.ID,
		State:    randomToken(32),
		Nonce:    randomToken(32),
		// RFC 7636, section 4.1: 32 random octets give a 43-character
		// verifier.
		Verifier: randomToken(32),
		DNSSEC:   int(recs.status),
		Return:   ret,
		Expires:  l.now().Add(PendingLifetime).Unix(),
	}
	params := url.Values{
		"response_type": {"code"},
		"client_id":     {client.ID},
		"redirect_uri":  {l.callbackURL},
		"scope":         {requestedScopes},
		"state":         {pending.State},
		"nonce":         {pending.Nonce},
		// RFC 7636, section 4.2: S256 challenge of the verifier.
		"code_challenge":        {s256(pending.Verifier)},
		"code_challenge_method": {"S256"},
		"login_hint":            {string(h)},
	}

	var key *dpopKey
	if p.supportsDPoP() {
		if key, err = newDPoPKey(); err != nil {
			return fail(StepPAR, err)
		}
		if pending.DPoPKey, err = key.bytes(); err != nil {
			return fail(StepPAR, err)
		}
	}

	authURL, err := l.authorizationURL(ctx, p, client, params, key, pending)
	if err != nil {
		return fail(StepPAR, err)
	}
	return authURL, pending, nil
}

// authorizationURL pushes the request when the provider has a PAR
// endpoint and returns the URL that refers to it, or else the URL that
// carries every parameter in its query.
func (l *Login) authorizationURL(ctx context.Context, p *provider, c oauthClient, params url.Values, key *dpopKey, pending *pendingData) (string, error) {
	query := params
	if p.meta.PAREndpoint != "" {
		requestURI, err := l.pushRequest(ctx, p, c, params, key, &pending.DPoPNonce)
		if err != nil {
			return "", err
		}
		// RFC 9126, section 4: only client_id and request_uri go to the
		// authorization endpoint.
		query = url.Values{"client_id": {c.ID}, "request_uri": {requestURI}}
	} else if key != nil {
		// RFC 9449, section 10: without PAR, dpop_jkt binds the code to
		// the key.
		jkt, err := key.thumbprint()
		if err != nil {
			return "", err
		}
		query.Set("dpop_jkt", jkt)
	}

	u, err := url.Parse(p.meta.AuthorizationEndpoint)
	if err != nil {
		return "", &MetadataError{URL: p.meta.Issuer + wellKnownPath, Field: "authorization_endpoint", Reason: "is not a URL"}
	}
	merged := u.Query()
	for k, v := range query {
		merged[k] = v
	}
	u.RawQuery = merged.Encode()
	return u.String(), nil
}

// s256 returns the S256 code challenge of a PKCE verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
