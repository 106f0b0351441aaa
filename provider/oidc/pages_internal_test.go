package oidc

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/internal/htmltest"
)

// TestLoginPagesAccessible renders the consent, logout and message pages and
// checks what assistive technology relies on (see htmltest.CheckAccessible).
func TestLoginPagesAccessible(t *testing.T) {
	t.Parallel()
	consent := consentPage{
		ID: "request-1", CSRF: "token", Action: loginPath, ClientName: "Web App", RedirectHost: "rp.test",
		Account: "alice", Registered: true, Offline: true,
		Identities: []identityChoice{{ID: 1, Handle: "alice.dhp.test", Selected: true}, {ID: 2, Handle: "work.alice.example"}},
	}
	cases := []struct {
		name, template string
		data           any
		title          string
		want           []string
	}{
		{"consent", "consent.html", consent, "Sign in to Web App with your handle - DNS Handle Provider",
			[]string{"<strong>Web App</strong> at <code>rp.test</code>", "@alice.dhp.test", "@work.alice.example", "permanent identifier (DID)", "renew its sign-in", "Allow and sign in", "Deny and go back"}},
		{"consent of a static client", "consent.html", consentPage{ID: "r", CSRF: "t", Action: loginPath, ClientName: "rp.test", RedirectHost: "rp.test", Account: "alice",
			Identities: []identityChoice{{ID: 1, Handle: "alice.dhp.test", Selected: true}}}, "Sign in to rp.test with your handle - DNS Handle Provider",
			[]string{"<strong>rp.test</strong> asks who you are."}},
		{"logout confirmation", "logout.html", logoutPage{Action: endSessionConfirmPath, CSRF: "token", Account: "alice", ClientName: "Web App", Registered: true,
			IDTokenHint: "a.b.c", ClientID: "webapp", PostLogoutRedirectURI: "https://rp.test/bye", State: "s&t"}, "Sign out - DNS Handle Provider",
			[]string{"<strong>Web App</strong> signed you out", "nobody checked it", `name="id_token_hint" value="a.b.c"`, `name="state" value="s&amp;t"`,
				`name="csrf" value="token"`, "signed in to this provider as alice", `value="sign-out">Sign out</button>`, `value="stay">Stay signed in</button>`}},
		{"logout confirmation without client", "logout.html", logoutPage{Action: endSessionConfirmPath, CSRF: "token", Account: "alice"}, "Sign out - DNS Handle Provider",
			[]string{"A site asks this provider to sign you out."}},
		{"message with a link", "message.html", messagePage{Title: "No handle to share yet", Text: "Create a handle first.", LinkURL: "/", LinkText: "Open your account page"},
			"No handle to share yet - DNS Handle Provider", []string{`<a href="/">Open your account page</a>`}},
		{"message", "message.html", messagePage{Title: "Something went wrong", Text: "Try again."},
			"Something went wrong - DNS Handle Provider", []string{"Try again."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := pages.ExecuteTemplate(&buf, c.template, c.data); err != nil {
				t.Fatalf("render %s: %v", c.template, err)
			}
			htmltest.CheckAccessible(t, buf.String(), c.title)
			for _, want := range c.want {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("the page lacks %q", want)
				}
			}
		})
	}
}
