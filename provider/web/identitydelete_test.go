package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/web"
)

func TestDeleteHostedIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	h := b.createHosted("alice")
	did := mustIdentity(t, w, h).DID

	if page := b.get("/identities/" + h); !strings.Contains(page.Body, `href="/identities/`+h+`/delete"`) {
		t.Errorf("the identity page has no link to delete it:\n%s", page.Body)
	}
	confirm := b.get("/identities/" + h + "/delete")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, "This cannot be undone.") {
		t.Fatalf("confirmation page: %s:\n%s", confirm.Status, confirm.Body)
	}

	for _, typed := range []string{"", "bob.dhp.test"} {
		resp := b.submit("/identities/"+h+"/delete", "/identities/"+h+"/delete", url.Values{"confirm": {typed}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("confirm %q: %s, want 422", typed, resp.Status)
		}
	}
	if _, err := w.svc.Store.IdentityByHandle(ctx, h); err != nil {
		t.Fatalf("identity deleted without the handle typed: %v", err)
	}

	home := b.submit("/identities/"+h+"/delete", "/identities/"+h+"/delete", url.Values{"confirm": {" @" + strings.ToUpper(h) + " "}})
	if home.StatusCode != http.StatusOK {
		t.Fatalf("delete: %s, want 200 with the home page:\n%s", home.Status, home.Body)
	}
	if _, err := w.svc.Store.IdentityByHandle(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("identity after deletion: %v, want not found", err)
	}
	if !strings.Contains(home.Body, "@"+h+" is deleted, with its devices.") || strings.Contains(home.Body, `href="/identities/`+h+`"`) {
		t.Errorf("home page after the deletion lacks the notice or still lists the identity:\n%s", home.Body)
	}
	if spoofed := b.get("/?deleted=" + h); strings.Contains(spoofed.Body, "is deleted") {
		t.Errorf("a link shows a deletion notice:\n%s", spoofed.Body)
	}
	res, err := w.providerResolver().Resolve(ctx, handle.Handle(h))
	if err != nil {
		t.Fatalf("resolve after the deletion: %v", err)
	}
	if res.ATProto.DID == did || !res.TLSAInfo.NXDomain {
		t.Errorf("the deleted handle still resolves: DID %q, TLSA NXDOMAIN %v", res.ATProto.DID, res.TLSAInfo.NXDomain)
	}

	if again := b.submit("/", "/identities/"+h+"/delete", url.Values{"confirm": {h}}); again.StatusCode != http.StatusNotFound {
		t.Errorf("second deletion: %s, want 404", again.Status)
	}
}

func TestDeleteOwnDomainIdentityNotice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	if resp := b.submit("/identities/new", "/identities", url.Values{"kind": {"own"}, "handle": {"alice.example.com"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create own-domain identity: %s", resp.Status)
	}
	home := b.submit("/identities/alice.example.com/delete", "/identities/alice.example.com/delete", url.Values{"confirm": {"alice.example.com"}})
	if home.StatusCode != http.StatusOK {
		t.Fatalf("delete: %s:\n%s", home.Status, home.Body)
	}
	if !strings.Contains(home.Body, "Remove the TLSA record at alice.example.com. and the TXT records at _atproto.alice.example.com. from your domain&#39;s DNS.") {
		t.Errorf("home page lacks the records to remove:\n%s", home.Body)
	}
}

func TestDeleteIdentityOfAnotherAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	alice := w.browser()
	alice.signUp("alice", testPassword)
	h := alice.createHosted("alice")

	mallory := w.browser()
	mallory.signUp("mallory", testPassword)
	resp := mallory.submit("/", "/identities/"+h+"/delete", url.Values{"confirm": {h}})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("deletion by another account: %s, want 404", resp.Status)
	}
	if _, err := w.svc.Store.IdentityByHandle(ctx, h); err != nil {
		t.Errorf("another account deleted the identity: %v", err)
	}
}

func mustIdentity(t *testing.T, w *world, h string) *store.Identity {
	t.Helper()
	id, err := w.svc.Store.IdentityByHandle(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCloseAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	h := b.createHosted("alice")
	if resp := b.submit("/identities/new", "/identities", url.Values{"kind": {"own"}, "handle": {"alice.example.com"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create own-domain identity: %s", resp.Status)
	}
	cookie := b.sessionCookie()

	if home := b.get("/"); !strings.Contains(home.Body, `href="/account/delete"`) {
		t.Errorf("home page has no link to delete the account:\n%s", home.Body)
	}
	confirm := b.get("/account/delete")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, "remove the TLSA record at alice.example.com.") || !strings.Contains(confirm.Body, "@"+h) {
		t.Fatalf("confirmation page: %s, want the identities and the records to remove:\n%s", confirm.Status, confirm.Body)
	}
	if resp := b.submit("/account/delete", "/account/delete", url.Values{"confirm": {"bob"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("wrong name: %s, want 422", resp.Status)
	}
	if _, err := w.svc.Store.AccountByName(ctx, "alice"); err != nil {
		t.Fatalf("account deleted without its name typed: %v", err)
	}

	resp := b.submit("/account/delete", "/account/delete", url.Values{"confirm": {"Alice"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?closed=1" {
		t.Fatalf("delete: %s to %q:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
	}
	if _, err := w.svc.Store.AccountByName(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("account after the deletion: %v, want not found", err)
	}
	for _, handle := range []string{h, "alice.example.com"} {
		if _, err := w.svc.Store.IdentityByHandle(ctx, handle); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("identity %s after the deletion: %v, want not found", handle, err)
		}
	}
	if page := b.get("/signin?closed=1"); !strings.Contains(page.Body, "Your account and its identities are deleted") {
		t.Errorf("sign-in page lacks the notice:\n%s", page.Body)
	}

	// The old session cookie opens nothing, even for a new account with
	// the same name.
	b.signUp("alice", testPassword)
	old := w.browser()
	old.jar.SetCookies(mustParseURL(t, w.srv.URL), []*http.Cookie{{Name: web.SessionCookie, Value: cookie, Path: "/"}})
	wantRedirectToSignIn(t, old.get("/"))
}

// Deleting an account needs a sign-in of the last 10 minutes.
func TestCloseAccountNeedsRecentSignIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	w.clock.Advance(11 * time.Minute)

	resp := b.get("/account/delete")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?next=%2Faccount%2Fdelete&reauth=1" {
		t.Fatalf("old sign-in: %s to %q, want the sign-in form", resp.Status, resp.Header.Get("Location"))
	}
	signIn := b.submit(resp.Header.Get("Location"), "/signin", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {"/account/delete"}})
	if signIn.StatusCode != http.StatusSeeOther || signIn.Header.Get("Location") != "/account/delete" {
		t.Fatalf("new sign-in: %s to %q, want 303 back to /account/delete", signIn.Status, signIn.Header.Get("Location"))
	}
	if resp := b.get("/account/delete"); resp.StatusCode != http.StatusOK {
		t.Errorf("after a new sign-in: %s, want the confirmation page", resp.Status)
	}
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
