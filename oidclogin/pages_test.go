package oidclogin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/internal/htmltest"
)

// TestPagesAccessible renders the login form, with and without an error
// and a session, and the error page, and checks what assistive technology
// relies on (see htmltest.CheckAccessible).
func TestPagesAccessible(t *testing.T) {
	t.Parallel()
	form := loginPage{Action: LoginPath, LogoutAction: LogoutPath, Return: "/"}
	failed := form
	failed.Handle, failed.Error, failed.Advice = "nobody.example", "the name does not exist in DNS", "Check the spelling of your handle."
	signed := form
	signed.Signed = "@alice.dhp.test"
	cases := []struct {
		name, template string
		data           any
		title          string
		want           []string
	}{
		{"login", "login", form, "Sign in with your DNS handle",
			[]string{`aria-describedby="handle-hint"`, "Continue to your provider"}},
		{"login with an error", "login", failed, "Error: Sign in with your DNS handle",
			[]string{`aria-describedby="handle-hint handle-error"`, `aria-invalid="true"`, `id="handle-error" role="alert"`, "Check the spelling of your handle.", "Details: the name does not exist in DNS"}},
		{"login with a session", "login", signed, "Sign in with your DNS handle",
			[]string{"You are signed in as <strong>@alice.dhp.test</strong>", "Sign out", "Sign in with another handle"}},
		{"error", "error", errorPage{Title: "The sign-in was not completed", Problem: "access_denied", Advice: "Start again if you want to sign in.", Retry: LoginPath},
			"Error: The sign-in was not completed", []string{"Start again if you want to sign in.", "access_denied", `href="` + LoginPath + `"`}},
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
