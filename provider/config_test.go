package provider

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "provider.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigExample(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "examples", "provider.toml"))
	if err != nil {
		t.Fatalf("LoadConfig(examples/provider.toml): %v", err)
	}
	if len(cfg.DNS.Zones) != 1 || cfg.DNS.Zones[0].Name != "dhp.test." {
		t.Errorf("zones = %+v, want dhp.test.", cfg.DNS.Zones)
	}
	if cfg.DNS.Zones[0].Nameservers[0] != "ns1.dhp.test." {
		t.Errorf("name servers = %v, want ns1.dhp.test.", cfg.DNS.Zones[0].Nameservers)
	}
}

func TestLoadConfigDefaultsAndEnvironment(t *testing.T) {
	t.Setenv("DNSHANDLE_DNS_LISTEN", "127.0.0.1:5399")
	cfg, err := LoadConfig(writeConfig(t, "[[dns.zones]]\nname = \"DHP.Test\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DNS.Listen != "127.0.0.1:5399" {
		t.Errorf("DNS listen = %q, want the environment's 127.0.0.1:5399", cfg.DNS.Listen)
	}
	if cfg.HTTP.Listen != DefaultHTTPListen || cfg.DataDir != DefaultDataDir || cfg.Log.Format != "text" || cfg.DNS.CacheSize != DefaultDNSCacheSize {
		t.Errorf("defaults not filled: %+v", cfg)
	}
	z := cfg.DNS.Zones[0]
	if z.Name != "dhp.test." || z.Email != "hostmaster@dhp.test" {
		t.Errorf("zone = %+v, want dhp.test. with hostmaster@dhp.test", z)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", "dta = \"x\"\n", "unknown keys dta"},
		{"bad log format", "[log]\nformat = \"xml\"\n", `log format "xml"`},
		{"mysql URL", "database = \"mysql://u:secret@h/db\"\n", "postgres://"},
		{"zone twice", "[[dns.zones]]\nname = \"a.test\"\n[[dns.zones]]\nname = \"A.test.\"\n", "listed twice"},
		{"secondary with unknown key", "[[dns.secondaries]]\naddr = \"127.0.0.1:53\"\ntsig = \"k\"\n", `TSIG key "k"`},
		{"secondary without key", "[[dns.secondaries]]\naddr = \"127.0.0.1:53\"\n", "needs a tsig key"},
		{"syntax", "[dns\n", "config"},
		{"zone under a reserved TLD", "[[dns.zones]]\nname = \"dhp.example\"\n", "reserved TLD .example"},
		{"email without @", "[[dns.zones]]\nname = \"dhp.test\"\nemail = \"not-an-email\"\n", `email "not-an-email" (the SOA contact) is not an email address: give one such as hostmaster@dhp.test`},
		{"zone name with a space", "[[dns.zones]]\nname = \"c test\"\n", `zone "c test." is not a valid domain name: use letters, digits and inner hyphens in each label`},
		{"email with a space", "[[dns.zones]]\nname = \"dhp.test\"\nemail = \"dns admin@dhp.test\"\n", "is not an email address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfig = %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the database password: %v", err)
			}
		})
	}
}

func TestZoneFor(t *testing.T) {
	cfg := &Config{DNS: DNSConfig{Zones: []ZoneConfig{{Name: "dhp.test"}}}}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		"alice.dhp.test":   "dhp.test.",
		"a.b.dhp.test":     "",
		"dhp.test":         "",
		"alice.other.test": "",
		"xdhp.test":        "",
	} {
		if got := cfg.ZoneFor(h); got != want {
			t.Errorf("ZoneFor(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestLoadConfigTOMLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       ConfigError
		// hint is a part of the Hint.
		hint string
	}{
		{"string for integer", "[dns]\ncache_size = \"big\"\n",
			ConfigError{Line: 2, Key: "dns.cache_size", Found: "a string", Expected: "an integer"}, "whole number without quotes"},
		{"quoted integer", "[dns]\ncache_size = \"5000\"\n",
			ConfigError{Line: 2, Key: "dns.cache_size", Found: "a string", Expected: "an integer"}, "remove the quotes: cache_size = 5000"},
		{"integer for string", "[dns]\nlisten = 5353\n",
			ConfigError{Line: 2, Key: "dns.listen", Found: "an integer", Expected: "a string"}, `put it in double quotes: listen = "5353"`},
		{"quoted boolean", "[http]\npprof = \"true\"\n",
			ConfigError{Line: 2, Key: "http.pprof", Found: "a string", Expected: "a boolean (true or false)"}, "remove the quotes: pprof = true"},
		{"word for boolean", "[http]\n\npprof = \"yes\"\n",
			ConfigError{Line: 3, Key: "http.pprof", Found: "a string", Expected: "a boolean (true or false)"}, "pprof = true or pprof = false"},
		{"string for array", "[[dns.zones]]\nname = \"dhp.test\"\nnameservers = \"ns1.dhp.test\"\n",
			ConfigError{Line: 3, Key: "dns.zones.nameservers", Found: "a string", Expected: "an array of strings"}, `nameservers = ["ns1.dhp.test"]`},
		{"integer in array", "[[dns.zones]]\nname = \"dhp.test\"\nnameservers = [\"ns1.dhp.test\", 5]\n",
			ConfigError{Line: 3, Key: "dns.zones.nameservers", Found: "an integer", Expected: "a string", Problem: "element 2 of nameservers is an integer 5, but it must be a string"},
			`write every element in double quotes: nameservers = ["ns1.dhp.test", "5"]`},
		{"table for array of tables", "[dns.zones]\nname = \"dhp.test\"\n",
			ConfigError{Line: 1, Key: "dns.zones", Found: "a table", Expected: "an array of tables"}, "[[dns.zones]]"},
		{"value for table", "dns = 5\n",
			ConfigError{Line: 1, Key: "dns", Found: "an integer", Expected: "a table"}, "[dns]"},
		{"unquoted dotted name", "[[dns.zones]]\nname = \"dhp.test\"\nnameserver_addresses = {ns1.dhp.test = [\"192.0.2.1\"]}\n",
			ConfigError{Key: "dns.zones.nameserver_addresses.ns1", Found: "a table", Expected: "an array of strings"}, `must be quoted, as in "ns1.dhp.test"`},
		{"string for address list", "[[dns.zones]]\nname = \"dhp.test\"\n[dns.zones.nameserver_addresses]\n\"ns1.dhp.test\" = \"192.0.2.1\"\n",
			ConfigError{Line: 4, Key: `dns.zones.nameserver_addresses."ns1.dhp.test"`, Found: "a string", Expected: "an array of strings"}, `["192.0.2.1"]`},
		{"mismatch in the last zone", "[[dns.zones]]\nname = \"a.test\"\n[[dns.zones]]\nname = 5\n",
			ConfigError{Line: 4, Key: "dns.zones.name", Found: "an integer", Expected: "a string"}, `name = "5"`},
		// The toml library has only the line of the last zone's name,
		// so the message names the zone by its place instead.
		{"mismatch in an earlier zone", "[[dns.zones]]\nname = 5\n[[dns.zones]]\nname = \"b.test\"\n",
			ConfigError{Key: "dns.zones.name", Found: "an integer", Expected: "a string", Problem: "in the 1st [[dns.zones]] table, name is an integer 5, but it must be a string"}, `name = "5"`},
		{"unterminated table header", "data = \"x\"\n[dns\n",
			ConfigError{Line: 2, Column: 5, Problem: "invalid TOML: expected '.' or ']' to end table name, but got '\\n' instead"}, ""},
		{"invalid escape", "data = \"C:\\dnshandle\"\n",
			ConfigError{Line: 1, Column: 9, Key: "data", Problem: `invalid TOML: invalid escape in string '\d'`, Usage: "escape sequences are supported"}, ""},
		{"duplicate key", "data = \"a\"\ndata = \"b\"\n",
			ConfigError{Line: 2, Column: 1, Key: "data", Problem: "invalid TOML: Key 'data' has already been defined."}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tc.text)
			_, err := LoadConfig(path)
			var got *ConfigError
			if !errors.As(err, &got) {
				t.Fatalf("LoadConfig = %v, want a *ConfigError", err)
			}
			if got.File != path || got.Line != tc.want.Line || got.Key != tc.want.Key || got.Found != tc.want.Found || got.Expected != tc.want.Expected {
				t.Errorf("error at file %s line %d key %q, found %q, expected %q; want %s line %d key %q, found %q, expected %q",
					got.File, got.Line, got.Key, got.Found, got.Expected, path, tc.want.Line, tc.want.Key, tc.want.Found, tc.want.Expected)
			}
			if tc.want.Column != 0 && got.Column != tc.want.Column {
				t.Errorf("column %d, want %d", got.Column, tc.want.Column)
			}
			if tc.want.Problem != "" && got.Problem != tc.want.Problem {
				t.Errorf("problem %q, want %q", got.Problem, tc.want.Problem)
			}
			if !strings.Contains(got.Hint, tc.hint) {
				t.Errorf("hint %q, want it to contain %q", got.Hint, tc.hint)
			}
			if !strings.Contains(got.Usage, tc.want.Usage) {
				t.Errorf("usage %q, want it to contain %q", got.Usage, tc.want.Usage)
			}
			if got.Err == nil {
				t.Error("the error of the toml library is missing")
			}

			msg := err.Error()
			for _, part := range []string{"config " + path, tc.want.Key, tc.want.Found, tc.want.Expected} {
				if !strings.Contains(msg, part) {
					t.Errorf("message %q lacks %q", msg, part)
				}
			}
			if tc.want.Line > 0 && !strings.Contains(msg, fmt.Sprintf("line %d", tc.want.Line)) {
				t.Errorf("message %q lacks line %d", msg, tc.want.Line)
			}
			if strings.Contains(msg, "toml:") || strings.Contains(msg, "destination has type") {
				t.Errorf("message %q shows the toml library's raw error", msg)
			}
		})
	}
}

func TestLoadConfigOIDCClient(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(writeConfig(t, `[[dns.zones]]
name = "dhp.test"

[[oidc.clients]]
id = "wiki"
secret = "a long random secret, 16 characters or more"
redirect_uris = ["https://wiki.example/callback"]
post_logout_redirect_uris = ["https://wiki.example/signed-out"]
`))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if len(cfg.OIDC.Clients) != 1 {
		t.Fatalf("%d clients, want 1", len(cfg.OIDC.Clients))
	}
	c := cfg.OIDC.Clients[0]
	if len(c.PostLogoutRedirectURIs) != 1 || c.PostLogoutRedirectURIs[0] != "https://wiki.example/signed-out" {
		t.Errorf("post_logout_redirect_uris = %v", c.PostLogoutRedirectURIs)
	}
}
