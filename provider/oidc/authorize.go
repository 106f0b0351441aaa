package oidc

import (
	"context"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/dnshandle/dnshandle/handle"
)

// Limits of authorization request parameters, which the store keeps.
const (
	maxStateLength = 2048
	maxNonceLength = 512
	maxHintLength  = 512
)

// s256ChallengeLength is the length of an S256 code challenge: the
// unpadded base64url of a SHA-256 digest (RFC 7636, section 4.2).
const s256ChallengeLength = 43

// checkAuthParams applies the provider's rules to an authorization request
// that the library has checked, and returns the parameters to store. The
// rules: PKCE with S256 for every client (RFC 7636, section 4.4.1 names
// the error), the query response mode only, bounded state, nonce and
// login_hint, and a well-formed dpop_jkt. For a pushed request, the DPoP
// key of the PAR request wins over dpopJKT.
func (p *Provider) checkAuthParams(req *oidc.AuthRequest, dpopJKT string, pushed *pushedInfo) (*authParams, *oidc.Error) {
	switch {
	case req.CodeChallenge == "":
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge is missing: every client must use PKCE with code_challenge_method S256")
	case req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256: plain and a missing method are not accepted")
	case !isBase64URL(req.CodeChallenge, s256ChallengeLength):
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge must be 43 base64url characters, the SHA-256 of the code verifier")
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query or absent")
	case len(req.State) > maxStateLength:
		return nil, oidc.ErrInvalidRequest().WithDescription("state is longer than 2048 bytes")
	case len(req.Nonce) > maxNonceLength:
		return nil, oidc.ErrInvalidRequest().WithDescription("nonce is longer than 512 bytes")
	case len(req.LoginHint) > maxHintLength:
		return nil, oidc.ErrInvalidRequest().WithDescription("login_hint is longer than 512 bytes")
	}

	params := &authParams{
		RedirectURI:   req.RedirectURI,
		Scopes:        slices.Clone([]string(req.Scopes)),
		State:         req.State,
		Nonce:         req.Nonce,
		ResponseMode:  string(req.ResponseMode),
		CodeChallenge: req.CodeChallenge,
		Prompt:        slices.Clone([]string(req.Prompt)),
		MaxAge:        req.MaxAge,
		DPoPJKT:       dpopJKT,
	}
	if pushed != nil {
		params.Pushed = true
		params.DPoPJKT = pushed.jkt
	}
	if params.DPoPJKT != "" && !isBase64URL(params.DPoPJKT, s256ChallengeLength) {
		return nil, oidc.ErrInvalidRequest().WithDescription("dpop_jkt must be 43 base64url characters, the SHA-256 JWK thumbprint of the DPoP key")
	}
	// login_hint carries the handle the person typed, with or without "@".
	// A hint that is not a handle only loses its effect.
	if h, err := handle.ParseInput(req.LoginHint); err == nil {
		params.LoginHint = h.String()
	}
	return params, nil
}

// isBase64URL reports whether s is n characters of the unpadded base64url
// alphabet.
func isBase64URL(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, b := range []byte(s) {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}

// pushedInfo marks a request that came from the PAR endpoint, for
// Authorize.
type pushedInfo struct {
	// jkt is the DPoP key the pushed request was bound to, or "".
	jkt string
}

type pushedKey struct{}

func withPushed(ctx context.Context, info *pushedInfo) context.Context {
	return context.WithValue(ctx, pushedKey{}, info)
}

func pushedFrom(ctx context.Context) *pushedInfo {
	info, _ := ctx.Value(pushedKey{}).(*pushedInfo)
	return info
}
