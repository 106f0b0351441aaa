package provider

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/dnshandle/dnshandle/records"
)

// OIDCConfig configures the OpenID provider and the provider's web pages
// (sign-up, sign-in, identities, devices), which Serve runs on the HTTPS
// listener beside ACME.
type OIDCConfig struct {
	// Disabled turns the OpenID provider and the web pages off; the HTTPS
	// listener then serves ACME alone.
	Disabled bool `toml:"disabled"`
	// Issuer is the issuer identifier, an https URL without query or
	// fragment. Empty means the origin of acme.base_url, or
	// https://<acme.listen>. Hosted handles publish it as oauth= in their
	// _atproto TXT record.
	Issuer string `toml:"issuer"`
	// ClosedRegistration turns off dynamic client registration (RFC 7591),
	// so that only the clients listed here can sign people in.
	ClosedRegistration bool `toml:"closed_registration"`
	// Clients are the pre-registered relying parties.
	Clients []OIDCClientConfig `toml:"clients"`
}

// OIDCClientConfig is one pre-registered relying party.
type OIDCClientConfig struct {
	// ID is the client_id.
	ID string `toml:"id"`
	// Secret is the client secret of a confidential client (at least 16
	// characters). Empty with Public set.
	Secret string `toml:"secret"`
	// RedirectURIs are the exact redirect URIs the client may use.
	RedirectURIs []string `toml:"redirect_uris"`
	// PostLogoutRedirectURIs are the exact URIs to which the provider's
	// end-session endpoint may send the browser back after the client
	// signs the person out (OpenID Connect RP-Initiated Logout 1.0).
	// Empty means the logout ends on the provider's page.
	PostLogoutRedirectURIs []string `toml:"post_logout_redirect_uris"`
	// Public marks a client without a secret; it must use PKCE, as every
	// client must.
	Public bool `toml:"public"`
	// Name is shown on the consent page.
	Name string `toml:"name"`
}

// OIDCIssuer returns the configured issuer, or the one derived from the
// ACME listener's base URL or address. It is "" when the issuer depends
// on a port that is chosen only when Serve listens (listen port 0).
func (c *Config) OIDCIssuer() string {
	if c.OIDC.Disabled {
		return ""
	}
	if c.OIDC.Issuer != "" {
		return c.OIDC.Issuer
	}
	if c.ACME.BaseURL != "" {
		if u, err := url.Parse(c.ACME.BaseURL); err == nil {
			return "https://" + u.Host
		}
		return ""
	}
	if _, port, err := net.SplitHostPort(c.ACME.Listen); err != nil || port == "0" {
		return ""
	}
	return "https://" + c.ACME.Listen
}

// validateOIDC checks the OIDC section.
func (c *Config) validateOIDC() []error {
	var errs []error
	if c.OIDC.Issuer != "" {
		issuer, err := records.ParseOAuthIssuer(c.OIDC.Issuer)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("oidc issuer: %w", err))
		case !strings.Contains(c.OIDC.Issuer, "://"):
			errs = append(errs, fmt.Errorf("oidc issuer %q: write the whole URL, such as %s", c.OIDC.Issuer, issuer))
		}
	}
	seen := map[string]bool{}
	for i, cl := range c.OIDC.Clients {
		switch {
		case cl.ID == "":
			errs = append(errs, fmt.Errorf("oidc client %d: id is missing", i+1))
		case seen[cl.ID]:
			errs = append(errs, fmt.Errorf("oidc client %q is listed twice", cl.ID))
		case len(cl.RedirectURIs) == 0:
			errs = append(errs, fmt.Errorf("oidc client %q: redirect_uris is missing", cl.ID))
		case cl.Public && cl.Secret != "":
			errs = append(errs, fmt.Errorf("oidc client %q: a public client has no secret: remove secret or public", cl.ID))
		case !cl.Public && len(cl.Secret) < 16:
			errs = append(errs, fmt.Errorf("oidc client %q: the secret is shorter than 16 characters: set a longer secret, or public = true", cl.ID))
		}
		seen[cl.ID] = true
	}
	return errs
}

// DefaultIdentityOptions returns the options CreateHandle uses: oauth=
// names this provider's issuer when the OpenID provider is on and its
// issuer is known.
func (s *Service) DefaultIdentityOptions() IdentityOptions {
	s.mu.Lock()
	issuer := s.issuer
	s.mu.Unlock()
	if issuer == "" {
		issuer = s.Config.OIDCIssuer()
	}
	return IdentityOptions{OAuth: issuer}
}
