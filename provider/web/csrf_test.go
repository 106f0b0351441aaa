package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/store"
)

func TestEveryPostFormNeedsCSRF(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	h := b.createHosted("alice")
	own := "alice.example.com"
	if resp := b.submit("/identities/new", "/identities", url.Values{"kind": {"own"}, "handle": {own}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create %s: %s", own, resp.Status)
	}
	chain := downloadBrowserFile(t, b, h, "laptop", "file password")
	serial := chain.leaf.SerialNumber.Text(16)
	token := b.csrf("/")

	// Each form with its otherwise valid fields.
	forms := []struct {
		path string
		form url.Values
	}{
		{"/signup", url.Values{"name": {"bob"}, "password": {testPassword}, "password_repeat": {testPassword}}},
		{"/signin", url.Values{"name": {"alice"}, "password": {testPassword}}},
		{"/signin/certificate", url.Values{}},
		{"/signout", url.Values{}},
		{"/identities", url.Values{"kind": {"hosted"}, "name": {"bob"}, "zone": {"dhp.test"}}},
		{"/identities/" + own + "/check", url.Values{}},
		{"/devices/" + h + "/enroll", url.Values{"label": {"phone"}}},
		{"/devices/" + h + "/revoke", url.Values{"serial": {serial}, "confirm": {"yes"}}},
		{"/devices/" + h + "/browser", url.Values{"browser_label": {"tablet"}, "password": {"file password"}, "password_repeat": {"file password"}}},
	}
	attacks := []struct {
		name    string
		token   string
		headers []string
	}{
		{"missing token", "", nil},
		{"wrong token", strings.Repeat("A", len(token)), nil},
		{"token of another session", w.browser().csrf("/signin"), nil},
		{"cross-site request with the right token", token, []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign origin with the right token", token, []string{"Origin", "https://evil.example"}},
	}
	for _, f := range forms {
		for _, a := range attacks {
			t.Run(f.path+"/"+a.name, func(t *testing.T) {
				form := url.Values{}
				for k, v := range f.form {
					form[k] = v
				}
				if a.token != "" {
					form.Set("csrf", a.token)
				}
				resp := b.post(f.path, form, a.headers...)
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Body, "The form has expired") {
					t.Errorf("POST %s: %s, want 403 with the expired-form page", f.path, resp.Status)
				}
			})
		}
	}

	// Nothing changed: still signed in, no new account, identity or
	// device, and the device is still active.
	if resp := b.get("/"); resp.StatusCode != http.StatusOK {
		t.Errorf("home after the rejected forms: %s, want the session intact", resp.Status)
	}
	if _, err := w.svc.Store.AccountByName(ctx, "bob"); err == nil {
		t.Errorf("a rejected sign-up created the account bob")
	}
	if _, err := w.svc.Store.IdentityByHandle(ctx, "bob.dhp.test"); err == nil {
		t.Errorf("a rejected form created bob.dhp.test")
	}
	devices, err := w.svc.Devices(ctx, handle.Handle(h))
	if err != nil {
		t.Fatal(err)
	}
	if len(devices) != 1 {
		t.Fatalf("%d devices after the rejected forms, want the one device", len(devices))
	}
	if devices[0].Status != store.DeviceActive {
		t.Errorf("device status %s after the rejected forms, want active", devices[0].Status)
	}

	// The real token still works.
	if resp := b.post("/signout", url.Values{"csrf": {token}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out with the session's token: %s, want 303", resp.Status)
	}
}
