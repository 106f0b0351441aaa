package client

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
)

func TestParseOrigin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
	}{
		{"default port", "https://RP.Example/path?q=1#f", "https://rp.example"},
		{"explicit 443", "https://rp.example:443/", "https://rp.example"},
		{"other port", "https://127.0.0.1:8443/x", "https://127.0.0.1:8443"},
		{"ipv6", "https://[::1]:8443", "https://[::1]:8443"},
		{"ipv6 long form", "https://[0:0:0:0:0:0:0:1]", "https://[::1]"},
		{"trailing dot", "https://rp.example./", "https://rp.example"},
		{"uppercase scheme", "HTTPS://rp.example", "https://rp.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseOrigin(tc.in)
			if err != nil {
				t.Fatalf("ParseOrigin(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseOrigin(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseOriginRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
	}{
		{"http", "http://rp.example", "scheme must be https"},
		{"no scheme", "rp.example", "scheme must be https"},
		{"no host", "https:///path", "host is missing"},
		{"user info", "https://alice@rp.example", "user information"},
		{"port zero", "https://rp.example:0", "port \"0\""},
		{"port too large", "https://rp.example:65536", "port \"65536\""},
		{"port leading zero", "https://rp.example:0443", "port \"0443\""},
		{"empty port", "https://rp.example:", "port after ':' is empty"},
		{"bad ipv6", "https://[fe80::1%25eth0]", "not a DNS name or IP address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseOrigin(tc.in)
			var oe *OriginError
			if !errors.As(err, &oe) {
				t.Fatalf("ParseOrigin(%q) = %v, want *OriginError", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestSitesPersisted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sites, err := LoadSites(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites.List()) != 0 {
		t.Fatalf("a new directory has choices: %v", sites.List())
	}

	if err := sites.Set("https://rp.example", "alice.dhp.test"); err != nil {
		t.Fatal(err)
	}
	if err := sites.Set("https://127.0.0.1:8443", "bob.dhp.test"); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(filepath.Join(dir, SitesFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", SitesFile, info.Mode().Perm())
	}

	again, err := LoadSites(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []SiteChoice{{"https://127.0.0.1:8443", "bob.dhp.test"}, {"https://rp.example", "alice.dhp.test"}}
	if got := again.List(); !slices.Equal(got, want) {
		t.Errorf("reloaded choices %v, want %v", got, want)
	}

	if err := again.Forget("https://rp.example"); err != nil {
		t.Fatal(err)
	}
	third, err := LoadSites(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := third.Get("https://rp.example"); ok {
		t.Error("a forgotten choice is still stored")
	}
}

func TestSitesSetRejects(t *testing.T) {
	t.Parallel()
	sites, err := LoadSites(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		origin string
		h      handle.Handle
	}{
		{"origin with path", "https://rp.example/x", "alice.dhp.test"},
		{"origin with port 443", "https://rp.example:443", "alice.dhp.test"},
		{"handle with @", "https://rp.example", "@alice.dhp.test"},
		{"handle in upper case", "https://rp.example", "Alice.dhp.test"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := sites.Set(tc.origin, tc.h); err == nil {
				t.Errorf("Set(%q, %q) succeeded", tc.origin, tc.h)
			}
		})
	}
	if n := len(sites.List()); n != 0 {
		t.Errorf("rejected choices were kept: %v", sites.List())
	}
}

func TestSitesChooseAsksOncePerOrigin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	enrolled := []handle.Handle{"alice.dhp.test", "bob.dhp.test"}
	var asked []string
	ask := func(origin string, offered []handle.Handle) (handle.Handle, error) {
		asked = append(asked, origin)
		if !slices.Equal(offered, enrolled) {
			t.Errorf("asked with %v, want %v", offered, enrolled)
		}
		if origin == "https://a.example" {
			return "alice.dhp.test", nil
		}
		return "bob.dhp.test", nil
	}

	sites, err := LoadSites(dir)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h, err := sites.Choose("https://a.example", enrolled, ask)
		if err != nil || h != "alice.dhp.test" {
			t.Fatalf("Choose(a) = %q, %v; want alice.dhp.test", h, err)
		}
	}
	h, err := sites.Choose("https://a.example:8443", enrolled, ask)
	if err != nil || h != "bob.dhp.test" {
		t.Fatalf("Choose(a:8443) = %q, %v; want bob.dhp.test", h, err)
	}
	if want := []string{"https://a.example", "https://a.example:8443"}; !slices.Equal(asked, want) {
		t.Errorf("asked for %v, want once for each of %v", asked, want)
	}

	// Another process reads the stored choice without asking.
	reloaded, err := LoadSites(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err = reloaded.Choose("https://a.example", enrolled, nil)
	if err != nil || h != "alice.dhp.test" {
		t.Errorf("Choose after reload = %q, %v; want alice.dhp.test without asking", h, err)
	}
}

func TestSitesChooseErrors(t *testing.T) {
	t.Parallel()
	sites, err := LoadSites(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	enrolled := []handle.Handle{"alice.dhp.test"}

	t.Run("nobody to ask", func(t *testing.T) {
		_, err := sites.Choose("https://a.example", enrolled, nil)
		var nc *NoChoiceError
		if !errors.As(err, &nc) {
			t.Fatalf("Choose without Asker = %v, want *NoChoiceError", err)
		}
		if !strings.Contains(err.Error(), "--handle") || !strings.Contains(err.Error(), "@alice.dhp.test") {
			t.Errorf("error %q does not say how to choose", err)
		}
	})

	t.Run("answer not enrolled", func(t *testing.T) {
		_, err := sites.Choose("https://a.example", enrolled, func(string, []handle.Handle) (handle.Handle, error) {
			return "mallory.dhp.test", nil
		})
		var ce *ChoiceError
		if !errors.As(err, &ce) || ce.Handle != "mallory.dhp.test" {
			t.Fatalf("Choose with a foreign answer = %v, want *ChoiceError", err)
		}
		if _, ok := sites.Get("https://a.example"); ok {
			t.Error("a handle that is not enrolled was stored")
		}
	})

	t.Run("stored handle no longer enrolled", func(t *testing.T) {
		if err := sites.Set("https://b.example", "bob.dhp.test"); err != nil {
			t.Fatal(err)
		}
		_, err := sites.Choose("https://b.example", enrolled, nil)
		var ce *ChoiceError
		if !errors.As(err, &ce) || ce.Handle != "bob.dhp.test" {
			t.Fatalf("Choose with a stale choice = %v, want *ChoiceError", err)
		}
	})
}

func TestLoadSitesRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, content, want string
	}{
		{"not json", "origin=handle", "not a valid JSON object"},
		{"version 2", `{"version":2,"sites":{}}`, "version 2 is not supported"},
		{"unknown field", `{"version":1,"sites":{},"extra":1}`, "unknown field"},
		{"trailing object", `{"version":1,"sites":{}} {}`, "data follows"},
		{"http origin", `{"version":1,"sites":{"http://a.example":"alice.dhp.test"}}`, "scheme must be https"},
		{"origin not normal", `{"version":1,"sites":{"https://A.example":"alice.dhp.test"}}`, `write "https://a.example"`},
		{"handle not normal", `{"version":1,"sites":{"https://a.example":"Alice.dhp.test"}}`, `write "alice.dhp.test"`},
		{"reserved handle", `{"version":1,"sites":{"https://a.example":"alice.example"}}`, "invalid handle"},
		{"handle not a string", `{"version":1,"sites":{"https://a.example":7}}`, "not a valid JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, SitesFile)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSites(dir)
			var se *SitesError
			if !errors.As(err, &se) {
				t.Fatalf("LoadSites = %v, want *SitesError", err)
			}
			if se.Path != path {
				t.Errorf("error names %q, want the file %q", se.Path, path)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func FuzzParseSites(f *testing.F) {
	f.Add([]byte(`{"version":1,"sites":{"https://rp.example":"alice.dhp.test","https://127.0.0.1:8443":"bob.dhp.test"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		choices, err := ParseSites(data)
		if err != nil {
			var se *SitesError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SitesError", err)
			}
			return
		}
		// Whatever parses is in normal form and survives a write and a
		// read unchanged.
		for origin, h := range choices {
			if canonical, err := ParseOrigin(origin); err != nil || canonical != origin {
				t.Fatalf("accepted origin %q is not in normal form (%q, %v)", origin, canonical, err)
			}
			if parsed, err := handle.Parse(string(h)); err != nil || parsed != h {
				t.Fatalf("accepted handle %q is not in normal form (%q, %v)", h, parsed, err)
			}
		}
		encoded, err := encodeSites(choices)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSites(encoded)
		if err != nil {
			t.Fatalf("parsing the encoded choices: %v\n%s", err, encoded)
		}
		if len(again) != len(choices) {
			t.Fatalf("read back %d choices, wrote %d", len(again), len(choices))
		}
		for origin, h := range choices {
			if again[origin] != h {
				t.Fatalf("choice of %s read back as %q, wrote %q", origin, again[origin], h)
			}
		}
	})
}
