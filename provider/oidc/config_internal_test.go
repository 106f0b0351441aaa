package oidc

import (
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/provider/store"
)

// nobodySessions is a Sessions without anyone signed in.
type nobodySessions struct{}

func (nobodySessions) Account(*http.Request) (*store.Account, bool) { return nil, false }
func (nobodySessions) SignedInAt(*http.Request) (time.Time, bool)   { return time.Time{}, false }
func (nobodySessions) SignInURL(next string) string                 { return "/signin?next=" + next }
func (nobodySessions) ReauthenticateURL(next string) string         { return "/signin?reauth=1&next=" + next }
func (nobodySessions) CSRFToken(*http.Request) string               { return "" }
func (nobodySessions) CheckCSRF(*http.Request) error                { return errors.New("no session") }
func (nobodySessions) SignOut(http.ResponseWriter, *http.Request) error {
	return nil
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "config.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := store.NewSealer(make([]byte, store.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	base := func() Config {
		return Config{Issuer: "https://dhp.test", Store: st, Sealer: sealer, Sessions: nobodySessions{}, CleanupInterval: -1}
	}
	client := func(cc ClientConfig) func(*Config) {
		return func(c *Config) { c.StaticClients = []ClientConfig{cc} }
	}
	good := ClientConfig{ID: "app", Secret: "0123456789abcdef", RedirectURIs: []string{"https://app.test/cb"}}

	tests := []struct {
		name   string
		change func(*Config)
		field  string
	}{
		{"NoStore", func(c *Config) { c.Store = nil }, "Store"},
		{"NoSealer", func(c *Config) { c.Sealer = nil }, "Sealer"},
		{"NoSessions", func(c *Config) { c.Sessions = nil }, "Sessions"},
		{"NoIssuer", func(c *Config) { c.Issuer = "" }, "Issuer"},
		{"HTTPIssuer", func(c *Config) { c.Issuer = "http://dhp.test" }, "Issuer"},
		{"IssuerWithPath", func(c *Config) { c.Issuer = "https://dhp.test/oidc" }, "Issuer"},
		{"IssuerWithQuery", func(c *Config) { c.Issuer = "https://dhp.test?x=1" }, "Issuer"},
		{"ClientWithoutID", client(ClientConfig{Secret: good.Secret, RedirectURIs: good.RedirectURIs}), "StaticClients[0].ID"},
		{"ClientIDWithSpace", client(ClientConfig{ID: "my app", Secret: good.Secret, RedirectURIs: good.RedirectURIs}), "StaticClients[0].ID"},
		{"ShortSecret", client(ClientConfig{ID: "app", Secret: "short", RedirectURIs: good.RedirectURIs}), "StaticClients[0].Secret"},
		{"PublicWithSecret", client(ClientConfig{ID: "app", Public: true, Secret: good.Secret, RedirectURIs: good.RedirectURIs}), "StaticClients[0].Secret"},
		{"NoRedirect", client(ClientConfig{ID: "app", Secret: good.Secret}), "StaticClients[0].RedirectURIs"},
		{"HTTPRedirect", client(ClientConfig{ID: "app", Secret: good.Secret, RedirectURIs: []string{"http://app.test/cb"}}), "StaticClients[0].RedirectURIs"},
		{"HTTPPostLogoutRedirect", client(ClientConfig{ID: "app", Secret: good.Secret, RedirectURIs: good.RedirectURIs,
			PostLogoutRedirectURIs: []string{"http://app.test/bye"}}), "StaticClients[0].PostLogoutRedirectURIs"},
		{"PostLogoutRedirectWithFragment", client(ClientConfig{ID: "app", Secret: good.Secret, RedirectURIs: good.RedirectURIs,
			PostLogoutRedirectURIs: []string{"https://app.test/bye#top"}}), "StaticClients[0].PostLogoutRedirectURIs"},
		{"DuplicateID", func(c *Config) { c.StaticClients = []ClientConfig{good, good} }, "StaticClients[1].ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := base()
			tc.change(&cfg)
			_, err := New(t.Context(), cfg)
			var cfgErr *ConfigError
			if !errors.As(err, &cfgErr) || cfgErr.Field != tc.field {
				t.Fatalf("New: %v, want a *ConfigError on %s", err, tc.field)
			}
		})
	}

	t.Run("LoopbackHTTPIssuer", func(t *testing.T) {
		t.Parallel()
		cfg := base()
		cfg.Issuer = "http://127.0.0.1:8080/"
		cfg.StaticClients = []ClientConfig{good}
		p, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if p.Issuer() != "http://127.0.0.1:8080" {
			t.Errorf("Issuer() = %q, want the issuer without the trailing slash", p.Issuer())
		}
	})
}
