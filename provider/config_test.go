package provider

import (
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
