package verify

import (
	"errors"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
)

func TestPolicyCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		policy Policy
		handle handle.Handle
		rule   string // "" means accepted
	}{
		{"zero policy", Policy{}, "alice.dhp.test", ""},
		{"allow exact suffix", Policy{Allow: []string{"dhp.test"}}, "dhp.test", ""},
		{"allow subdomain", Policy{Allow: []string{"dhp.test"}}, "alice.dhp.test", ""},
		{"allow is label-aligned", Policy{Allow: []string{"dhp.test"}}, "alice.xdhp.test", "allow"},
		{"wildcard excludes apex", Policy{Allow: []string{"*.dhp.test"}}, "dhp.test", "allow"},
		{"wildcard includes subdomain", Policy{Allow: []string{"*.dhp.test"}}, "a.b.dhp.test", ""},
		{"entry case and dot", Policy{Deny: []string{" DHP.Test. "}}, "alice.dhp.test", "deny"},
		{"single-label suffix", Policy{Deny: []string{"test"}}, "alice.dhp.test", "deny"},
		{"deny wins", Policy{Allow: []string{"dhp.test"}, Deny: []string{"alice.dhp.test"}}, "alice.dhp.test", "deny"},
		{"deny other name", Policy{Deny: []string{"bob.dhp.test"}}, "alice.dhp.test", ""},
		{"empty entry", Policy{Allow: []string{""}}, "alice.dhp.test", "invalid"},
		{"bare star", Policy{Deny: []string{"*"}}, "alice.dhp.test", "invalid"},
		{"inner star", Policy{Allow: []string{"a.*.test"}}, "alice.dhp.test", "invalid"},
		{"invalid entry after a match", Policy{Allow: []string{"dhp.test", "bad entry"}}, "alice.dhp.test", "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.policy.check(tc.handle)
			if tc.rule == "" {
				if err != nil {
					t.Errorf("check(%s) = %v, want accepted", tc.handle, err)
				}
				return
			}
			var perr *PolicyError
			if !errors.As(err, &perr) {
				t.Fatalf("check(%s) = %v, want a *PolicyError", tc.handle, err)
			}
			if perr.Rule != tc.rule {
				t.Errorf("rule = %q, want %q", perr.Rule, tc.rule)
			}
		})
	}
}
