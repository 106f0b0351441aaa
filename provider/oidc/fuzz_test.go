package oidc

import (
	"encoding/json"
	"errors"
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
