package oidclogin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// formCall is one form POST to a provider endpoint with client
// authentication and, when dpop is set, a DPoP proof.
type formCall struct {
	endpoint string // "par" or "token", for errors
	url      string
	form     url.Values
	client   oauthClient
	dpop     *dpopKey
	// nonce is the provider's last DPoP-Nonce. post reads it for the
	// proof and stores the new value the provider sends.
	nonce *string
}

// oauthErrorBody is an OAuth error response (RFC 6749, section 5.2).
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	URI         string `json:"error_uri"`
}

// post sends the call and returns the status and body of the response.
// When the provider rejects a DPoP proof for lack of its nonce
// (use_dpop_nonce, RFC 9449, section 8) and sends one, the request is
// sent once more with a proof that carries it.
func (l *Login) post(ctx context.Context, call formCall) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		req, err := l.newFormRequest(ctx, call)
		if err != nil {
			return 0, nil, err
		}
		resp, err := l.httpClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		resp.Body.Close()
		if err != nil {
			return 0, nil, err
		}

		fresh := resp.Header.Get("DPoP-Nonce")
		if call.dpop != nil && fresh != "" && call.nonce != nil {
			*call.nonce = fresh
		}
		if attempt == 0 && call.dpop != nil && fresh != "" && isUseDPoPNonce(resp.StatusCode, body) {
			continue
		}
		return resp.StatusCode, body, nil
	}
}

// newFormRequest builds the POST request of call.
func (l *Login) newFormRequest(ctx context.Context, call formCall) (*http.Request, error) {
	form := url.Values{}
	for k, v := range call.form {
		form[k] = v
	}
	switch call.client.AuthMethod {
	case authPost:
		form.Set("client_id", call.client.ID)
		form.Set("client_secret", call.client.Secret)
	case authNone:
		form.Set("client_id", call.client.ID)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, call.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if call.client.AuthMethod == authBasic {
		// RFC 6749, section 2.3.1: both values are form-encoded before
		// they go into the Basic credentials.
		req.SetBasicAuth(url.QueryEscape(call.client.ID), url.QueryEscape(call.client.Secret))
	}
	if call.dpop != nil {
		nonce := ""
		if call.nonce != nil {
			nonce = *call.nonce
		}
		proof, err := call.dpop.proof(http.MethodPost, call.url, nonce, l.now())
		if err != nil {
			return nil, err
		}
		req.Header.Set("DPoP", proof)
	}
	return req, nil
}

// isUseDPoPNonce reports whether a response is the use_dpop_nonce error of
// an authorization server (RFC 9449, section 8).
func isUseDPoPNonce(status int, body []byte) bool {
	if status != http.StatusBadRequest && status != http.StatusUnauthorized {
		return false
	}
	var e oauthErrorBody
	return json.Unmarshal(body, &e) == nil && e.Error == "use_dpop_nonce"
}

// oauthErrorFrom returns the *OAuthError in an error response body, or an
// *HTTPError when the body holds none.
func oauthErrorFrom(endpoint, rawURL string, status int, body []byte) error {
	var e oauthErrorBody
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return &HTTPError{URL: rawURL, StatusCode: status}
	}
	return &OAuthError{
		Endpoint:    endpoint,
		Code:        printable(e.Error, 128),
		Description: printable(e.Description, 512),
		URI:         printable(e.URI, 512),
		StatusCode:  status,
	}
}

// printable returns s with every byte outside printable ASCII replaced by
// '?', cut to max bytes, so that text from a provider is safe to show.
func printable(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// pushRequest sends the authorization request to the PAR endpoint (RFC
// 9126, section 2) and returns its request_uri. With a DPoP key the proof
// binds the authorization code to it (RFC 9449, section 10.1).
func (l *Login) pushRequest(ctx context.Context, p *provider, c oauthClient, params url.Values, key *dpopKey, nonce *string) (string, error) {
	status, body, err := l.post(ctx, formCall{endpoint: "par", url: p.meta.PAREndpoint, form: params, client: c, dpop: key, nonce: nonce})
	if err != nil {
		return "", err
	}
	// RFC 9126, section 2.2 specifies 201 Created. Accept 200 as well.
	if status != http.StatusCreated && status != http.StatusOK {
		return "", oauthErrorFrom("par", p.meta.PAREndpoint, status, body)
	}
	var resp struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return "", &MetadataError{URL: p.meta.PAREndpoint, Field: "(response)", Reason: "is not valid JSON: " + err.Error()}
	}
	if resp.RequestURI == "" {
		return "", &MetadataError{URL: p.meta.PAREndpoint, Field: "request_uri", Reason: "is missing"}
	}
	return resp.RequestURI, nil
}

// tokenResponse holds the members of a token response a login uses.
type tokenResponse struct {
	TokenType string `json:"token_type"`
	IDToken   string `json:"id_token"`
}

// exchangeCode redeems the authorization code at the token endpoint (RFC
// 6749, section 4.1.3) with the PKCE verifier (RFC 7636, section 4.5) and,
// when the login uses DPoP, a proof of the same key (RFC 9449, section 5).
func (l *Login) exchangeCode(ctx context.Context, p *provider, c oauthClient, code string, pending *pendingData) (*tokenResponse, error) {
	var key *dpopKey
	if pending.DPoPKey != nil {
		var err error
		if key, err = parseDPoPKey(pending.DPoPKey); err != nil {
			return nil, &StateError{Problem: StateInvalid}
		}
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {l.callbackURL},
		"code_verifier": {pending.Verifier},
	}
	nonce := pending.DPoPNonce
	status, body, err := l.post(ctx, formCall{endpoint: "token", url: p.meta.TokenEndpoint, form: form, client: c, dpop: key, nonce: &nonce})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, oauthErrorFrom("token", p.meta.TokenEndpoint, status, body)
	}
	var resp tokenResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, &MetadataError{URL: p.meta.TokenEndpoint, Field: "(response)", Reason: "is not valid JSON: " + err.Error()}
	}
	if resp.IDToken == "" {
		return nil, &MetadataError{URL: p.meta.TokenEndpoint, Field: "id_token", Reason: "is missing: the provider must return an ID token for the openid scope"}
	}
	return &resp, nil
}
