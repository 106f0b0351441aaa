package web_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestOIDCEndSessionSignsOut ends a session from the OpenID provider's
// end-session endpoint, which calls Web.SignOut after the person confirms
// with the session's CSRF token. The cookie is deleted, and its old value
// is rejected because the store lists the session as signed out.
func TestOIDCEndSessionSignsOut(t *testing.T) {
	t.Parallel()
	w := oidcWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	old := b.sessionCookie()

	page := b.get("/oauth/end_session?client_id=" + oidcClientID)
	m := csrfPattern.FindStringSubmatch(page.Body)
	if page.StatusCode != http.StatusOK || m == nil || !strings.Contains(page.Body, "Sign out of this provider?") {
		t.Fatalf("end session without id_token_hint: %s, want the confirmation form:\n%s", page.Status, page.Body)
	}
	// The session is renewed on this request, so the response sets the
	// renewed cookie before the deletion, which must win.
	w.clock.Advance(2 * time.Minute)
	resp := b.post("/oauth/end_session/confirm", url.Values{"client_id": {oidcClientID}, "csrf": {html.UnescapeString(m[1])}, "action": {"sign-out"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "You are signed out") {
		t.Fatalf("confirmation: %s, want the signed-out page:\n%s", resp.Status, resp.Body)
	}

	if b.sessionCookie() != "" {
		t.Error("the session cookie is still in the browser")
	}
	wantRedirectToSignIn(t, b.get("/"))
	wantRedirectToSignIn(t, b.getWithSession("/", old))
}

// TestSignOutWithoutSession returns nil and sets no cookie for a request
// without a session.
func TestSignOutWithoutSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://dhp.test/oauth/end_session", nil)
	if err := w.web.SignOut(rec, req); err != nil {
		t.Fatalf("SignOut without a session: %v", err)
	}
	if cookies := rec.Result().Cookies(); len(cookies) != 0 {
		t.Errorf("SignOut without a session set cookies %v", cookies)
	}
}
