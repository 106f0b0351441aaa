package provider

import (
	"errors"
	"testing"
)

// FuzzDecodeConfig feeds configuration files to the decoder: every failure
// must be a *ConfigError with a message, and no input may panic.
func FuzzDecodeConfig(f *testing.F) {
	f.Add("[dns]\ncache_size = \"big\"\n")
	f.Add("[[dns.zones]]\nname = \"dhp.test\"\nnameserver_addresses = {\"ns1.dhp.test\" = [\"192.0.2.1\", 5]}\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg := &Config{}
		_, err := decodeConfig("fuzz.toml", text, cfg)
		if err == nil {
			return
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("decodeConfig returned %T %v, want a *ConfigError", err, err)
		}
		if ce.Problem == "" || ce.Err == nil {
			t.Fatalf("ConfigError without problem or cause: %+v", *ce)
		}
	})
}
