package oidc

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"testing"
)

// FuzzParseDPoPProof checks that the DPoP proof parser never panics, only
// returns *dpopError, and returns complete proofs. The seed corpus in
// testdata/fuzz/FuzzParseDPoPProof holds valid ES256, EdDSA and RS256
// proofs and broken ones.
func FuzzParseDPoPProof(f *testing.F) {
	f.Fuzz(func(t *testing.T, compact string) {
		proof, err := parseDPoPProof(compact)
		if err != nil {
			var proofErr *dpopError
			if !errors.As(err, &proofErr) || proofErr.code != errInvalidDPoPProof {
				t.Fatalf("error %v is not an invalid_dpop_proof *dpopError", err)
			}
			return
		}
		if len(proof.jkt) != 43 || proof.jti == "" || proof.htm == "" || proof.htu == "" {
			t.Fatalf("accepted proof %+v lacks a thumbprint or a required claim", proof)
		}
	})
}

// FuzzParseRegistration checks that the registration parser never panics,
// only returns *RegistrationError with a code of RFC 7591, and accepts only
// metadata that follows the provider's rules. The seed corpus is in
// testdata/fuzz/FuzzParseRegistration.
func FuzzParseRegistration(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		meta, err := parseRegistration(body)
		if err != nil {
			var regErr *RegistrationError
			if !errors.As(err, &regErr) || (regErr.Code != errInvalidRedirectURI && regErr.Code != errInvalidClientMetadata) {
				t.Fatalf("error %v is not a *RegistrationError with an RFC 7591 code", err)
			}
			return
		}
		if len(meta.RedirectURIs) == 0 || len(meta.RedirectURIs) > maxRedirectURIs {
			t.Fatalf("accepted %d redirect URIs", len(meta.RedirectURIs))
		}
		for _, uri := range meta.RedirectURIs {
			if err := checkRedirectURI(uri); err != nil {
				t.Fatalf("accepted redirect URI %q: %v", uri, err)
			}
		}
		if len(meta.PostLogoutRedirectURIs) > maxRedirectURIs {
			t.Fatalf("accepted %d post-logout redirect URIs", len(meta.PostLogoutRedirectURIs))
		}
		for _, uri := range meta.PostLogoutRedirectURIs {
			if err := checkRedirectURI(uri); err != nil {
				t.Fatalf("accepted post-logout redirect URI %q: %v", uri, err)
			}
		}
		if !slices.Contains([]string{authMethodNone, authMethodBasic, authMethodPost}, meta.AuthMethod) {
			t.Fatalf("accepted token_endpoint_auth_method %q", meta.AuthMethod)
		}
		if !slices.Contains(meta.GrantTypes, grantAuthorizationCode) || !slices.Equal(meta.ResponseTypes, []string{"code"}) {
			t.Fatalf("accepted grant types %v and response types %v", meta.GrantTypes, meta.ResponseTypes)
		}
		if _, err := json.Marshal(meta); err != nil {
			t.Fatalf("accepted metadata does not encode: %v", err)
		}
	})
}

// FuzzParseEndSessionRequest checks that the parser of end-session
// requests never panics, only returns *endSessionError, and accepts only
// parameters within their limits, each given once. The fuzzer's input is
// the query string of a GET request. The seed corpus is in
// testdata/fuzz/FuzzParseEndSessionRequest.
func FuzzParseEndSessionRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, query string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, err := parseEndSessionRequest(form)
		if err != nil {
			var endErr *endSessionError
			if !errors.As(err, &endErr) || endErr.Parameter == "" || endErr.Reason == "" {
				t.Fatalf("error %v is not an *endSessionError that names a parameter", err)
			}
			return
		}
		for _, name := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint", "ui_locales"} {
			if len(form[name]) > 1 {
				t.Fatalf("accepted %d values of %s", len(form[name]), name)
			}
		}
		switch {
		case len(req.IDTokenHint) > maxIDTokenHintLength:
			t.Fatalf("accepted an id_token_hint of %d bytes", len(req.IDTokenHint))
		case len(req.State) > maxLogoutStateLength:
			t.Fatalf("accepted a state of %d bytes", len(req.State))
		case len(req.PostLogoutRedirectURI) > maxRedirectURILength:
			t.Fatalf("accepted a post_logout_redirect_uri of %d bytes", len(req.PostLogoutRedirectURI))
		case req.ClientID != "" && !validClientID(req.ClientID):
			t.Fatalf("accepted client_id %q", req.ClientID)
		}
		if got := withState("https://rp.test/bye", req.State); req.State != "" {
			u, err := url.Parse(got)
			if err != nil || u.Query().Get("state") != req.State {
				t.Fatalf("withState(%q) = %q, which does not carry the state", req.State, got)
			}
		}
	})
}
