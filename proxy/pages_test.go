package proxy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/internal/htmltest"

	"github.com/dnshandle/dnshandle/verify"
)

// TestPagesAccessible renders the sign-in and the rejected-certificate
// pages and checks what assistive technology relies on (see htmltest.CheckAccessible).
func TestPagesAccessible(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		data  pageData
		title string
		want  []string
	}{
		{"sign-in", pageData{Title: "Sign in to continue", Message: "This site needs to know who you are.", SignIn: true, LoginConfigured: true, LoginPath: LoginPath, Return: "/"},
			"Sign in to continue", []string{`<label for="handle">`, `aria-describedby="handle-hint"`, "Continue to your provider", "Sign in with a device certificate"}},
		{"sign-in without OIDC", pageData{Title: "Sign in to continue", Message: "This site needs to know who you are.", SignIn: true, LoginPath: LoginPath},
			"Sign in to continue", []string{"OIDC sign-in is not configured"}},
		{"certificate rejected", pageData{Title: "Your device certificate was not accepted", Message: stepDescriptions[verify.StepTLSA], Handle: "alice.dhp.test", Step: "tlsa", SignIn: true, LoginConfigured: true, LoginPath: LoginPath, Return: "/"},
			"Your device certificate was not accepted", []string{"<dt>Check that failed</dt><dd><code>tlsa</code></dd>", "Sign in with your DNS handle instead"}},
		{"certificate rejected without OIDC", pageData{Title: "Your device certificate was not accepted", Message: "The certificate could not be verified.", Handle: "(not read)", Step: "unknown"},
			"Your device certificate was not accepted", []string{"<code>(not read)</code>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := pageTemplate.Execute(&buf, c.data); err != nil {
				t.Fatalf("render: %v", err)
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
