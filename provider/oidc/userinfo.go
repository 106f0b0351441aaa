package oidc

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dnshandle/dnshandle/provider/store"
)

// userinfo serves /oauth/userinfo (OpenID Connect Core, section 5.3) for a
// bearer token (RFC 6750) or a DPoP-bound token with a proof (RFC 9449,
// section 7). The library verifies the token's signature, issuer and
// expiry. Then the stored token must be neither revoked nor expired. A
// DPoP-bound token must come with a proof made with its key, whose ath
// matches the token, and is rejected with the Bearer scheme (RFC 9449,
// section 7.2).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	p.withNonce(w)
	w.Header().Set("Cache-Control", "no-store")

	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	isDPoP := strings.EqualFold(scheme, "DPoP")
	if !ok || token == "" || (!isDPoP && !strings.EqualFold(scheme, "Bearer")) {
		p.challenge(w, false, "", "send the access token in an Authorization header with the Bearer or DPoP scheme")
		return
	}
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, token, p.op.AccessTokenVerifier(ctx))
	if err != nil {
		p.challenge(w, isDPoP, errInvalidToken, "the access token is not valid: "+err.Error())
		return
	}
	tok, err := p.validAccessToken(ctx, claims.JWTID)
	if errors.Is(err, store.ErrNotFound) {
		p.challenge(w, isDPoP, errInvalidToken, "the access token is not known to this provider")
		return
	}
	if err != nil {
		p.challenge(w, isDPoP, errInvalidToken, err.Error())
		return
	}

	switch {
	case tok.JKT == "" && isDPoP:
		p.challenge(w, false, errInvalidToken, "the access token is not DPoP-bound: send it with the Bearer scheme")
		return
	case tok.JKT != "" && !isDPoP:
		p.challenge(w, true, errInvalidToken, "the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof")
		return
	case tok.JKT != "":
		proof, err := p.checkDPoP(ctx, r, userinfoPath, token)
		if err == nil && proof == nil {
			err = invalidProof("the DPoP header with a proof is missing")
		}
		if err == nil && proof.jkt != tok.JKT {
			err = invalidProof("the proof is made with another key than the one the access token is bound to")
		}
		var proofErr *dpopError
		if errors.As(err, &proofErr) {
			p.challenge(w, true, proofErr.code, proofErr.reason)
			return
		}
		if err != nil {
			p.serverError(w, r, "check the DPoP proof", err)
			return
		}
	}

	ident, err := p.cfg.Store.IdentityByID(ctx, tok.IdentityID)
	if err != nil {
		p.challenge(w, isDPoP, errInvalidToken, "the identity of the access token no longer exists")
		return
	}
	info := &oidc.UserInfo{}
	identityClaims(info, ident)
	writeJSON(w, http.StatusOK, info)
}

// challenge responds with 401 and a WWW-Authenticate challenge of the DPoP
// scheme (RFC 9449, section 7.1) or the Bearer scheme (RFC 6750, section
// 3). An empty code is a request without credentials, which gets no error
// attribute.
func (p *Provider) challenge(w http.ResponseWriter, dpop bool, code, description string) {
	value := `Bearer realm="` + p.issuer + `"`
	if dpop {
		value = fmt.Sprintf(`DPoP algs="%s"`, strings.Join(dpopAlgorithmNames(), " "))
	}
	if code != "" {
		value += fmt.Sprintf(`, error="%s", error_description="%s"`, code, quoteSafe(description))
	}
	w.Header().Set("WWW-Authenticate", value)
	writeOAuthError(w, http.StatusUnauthorized, firstNonEmpty(code, errInvalidRequest), description)
}

// quoteSafe makes s fit in a quoted-string of a header: no quotes,
// backslashes or characters outside printable ASCII.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
