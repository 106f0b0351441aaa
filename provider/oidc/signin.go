package oidc

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/dnshandle/dnshandle/provider/store"
)

// newIdentityPath is the web page on which a person creates a handle. It
// takes a next parameter, the local path to return to.
const newIdentityPath = "/identities/new"

// loginURL returns the path of the login step of req.
func loginURL(req *authRequest) string {
	return loginPath + "?id=" + url.QueryEscape(req.id)
}

// signedIn returns the account signed in on r and the time of its
// sign-in, when that sign-in satisfies the prompt and max_age parameters
// of req. Otherwise it responds to the request itself and returns false. With
// prompt=none it sends login_required to the client, and without it, it
// sends the person to the sign-in page, which returns to the login step.
func (p *Provider) signedIn(w http.ResponseWriter, r *http.Request, req *authRequest) (*store.Account, time.Time, bool) {
	promptNone := slices.Contains(req.params.Prompt, oidc.PromptNone)
	account, signedIn := p.cfg.Sessions.Account(r)
	signedInAt, known := p.cfg.Sessions.SignedInAt(r)
	if !signedIn || !known {
		if promptNone {
			p.redirectError(w, r, req, oidc.ErrLoginRequired().WithDescription("the person is not signed in at the provider"))
			return nil, time.Time{}, false
		}
		http.Redirect(w, r, p.cfg.Sessions.SignInURL(loginURL(req)), http.StatusSeeOther)
		return nil, time.Time{}, false
	}

	if problem := p.signInProblem(req, signedInAt); problem != "" {
		if promptNone {
			p.redirectError(w, r, req, oidc.ErrLoginRequired().WithDescription("%s", problem))
			return nil, time.Time{}, false
		}
		http.Redirect(w, r, p.cfg.Sessions.ReauthenticateURL(loginURL(req)), http.StatusSeeOther)
		return nil, time.Time{}, false
	}
	return account, signedInAt, true
}

// signInProblem returns why a sign-in at signedInAt does not satisfy req,
// or "" when it does. prompt=login requires a new sign-in for the request,
// and max_age bounds the age of the sign-in (OpenID Connect Core 1.0,
// section 3.1.2.1).
//
// A sign-in no earlier than the request satisfies both, so that the person
// is not sent to sign in once more after signing in for this request, even
// with a max_age of 0. Sessions keep whole seconds, so the request's time
// is rounded down to the second first.
func (p *Provider) signInProblem(req *authRequest, signedInAt time.Time) string {
	if !signedInAt.Before(req.row.CreatedAt.Truncate(time.Second)) {
		return ""
	}
	if slices.Contains(req.params.Prompt, oidc.PromptLogin) {
		return "the client asked for a new sign-in (prompt=login)"
	}
	if req.params.MaxAge != nil && olderThan(p.cfg.Now().Sub(signedInAt), *req.params.MaxAge) {
		return fmt.Sprintf("the person signed in more than max_age (%d seconds) ago", *req.params.MaxAge)
	}
	return ""
}

// olderThan reports whether elapsed is more than maxAge seconds. A maxAge
// too large for a time.Duration is never exceeded.
func olderThan(elapsed time.Duration, maxAge uint) bool {
	if uint64(maxAge) > uint64(math.MaxInt64/int64(time.Second)) {
		return false
	}
	return elapsed > time.Duration(maxAge)*time.Second
}
