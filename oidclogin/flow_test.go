package oidclogin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// The tests in this file run the whole flow against testOP. They are the
// only proof of the registration, PAR, DPoP and iss code paths until a
// full-flow test against the project's own provider exists, because
// zitadel's example OP implements none of them.

func TestPARAndDPoPLogin(t *testing.T) {
	t.Parallel()
	_, r, op := testOPWorld(t, testOPOptions{rotateNonce: true}, nil)

	resp, body := r.startLogin(t, newBrowser(t, r.srv), "@alice.dhp.test", "/inbox")
	view := decodeIdentity(t, resp, body)
	want := identityView{Path: "/inbox", Handle: "alice.dhp.test", DID: aliceDID, DNSSEC: "secure", Method: "oidc"}
	if view != want {
		t.Fatalf("identity = %+v, want %+v (last error %v)", view, want, r.lastError())
	}

	stats := op.snapshot()
	checks := []struct {
		name      string
		got, want int
	}{
		{"registrations", stats.registrations, 1},
		// The first PAR request carries no nonce and is rejected.
		{"PAR requests", stats.parRequests, 2},
		{"PAR requests accepted with DPoP", stats.parWithDPoP, 1},
		// The nonce changed after PAR, so the token request is retried.
		{"token requests", stats.tokenRequests, 2},
		{"token requests accepted with DPoP", stats.tokenWithDPoP, 1},
		{"use_dpop_nonce rejections", stats.nonceRejections, 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if !slices.Equal(stats.loginHints, []string{"alice.dhp.test"}) {
		t.Errorf("login_hint values = %q, want [alice.dhp.test]", stats.loginHints)
	}
	if len(stats.boundKeys) != 1 || stats.boundKeys[0] == "" {
		t.Errorf("the code is not bound to a DPoP key: %q", stats.boundKeys)
	}

	// A second login reuses the registered client and a new DPoP key.
	resp, body = r.startLogin(t, newBrowser(t, r.srv), "alice.dhp.test", "")
	if view := decodeIdentity(t, resp, body); view.DID != aliceDID {
		t.Fatalf("second login identity = %+v", view)
	}
	stats = op.snapshot()
	if stats.registrations != 1 {
		t.Errorf("registrations after two logins = %d, want 1", stats.registrations)
	}
	if len(stats.boundKeys) != 2 || stats.boundKeys[0] == stats.boundKeys[1] {
		t.Errorf("two logins share a DPoP key or have none: %q", stats.boundKeys)
	}
}

func TestLoginFeatureCombinations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		opts          testOPOptions
		wantPAR       int
		wantBound     bool
		wantTokenDPoP int
	}{
		{name: "DPoP without PAR uses dpop_jkt", opts: testOPOptions{noPAR: true}, wantPAR: 0, wantBound: true, wantTokenDPoP: 1},
		{name: "PAR without DPoP", opts: testOPOptions{noDPoP: true}, wantPAR: 1, wantBound: false, wantTokenDPoP: 0},
		{name: "neither PAR nor DPoP nor iss", opts: testOPOptions{noPAR: true, noDPoP: true, noIss: true}, wantPAR: 0, wantBound: false, wantTokenDPoP: 0},
		{name: "no handle claim", opts: testOPOptions{noHandleClaim: true}, wantPAR: 2, wantBound: true, wantTokenDPoP: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, r, op := testOPWorld(t, tc.opts, nil)
			resp, body := r.startLogin(t, newBrowser(t, r.srv), "alice.dhp.test", "")
			if view := decodeIdentity(t, resp, body); view.DID != aliceDID || view.Method != MethodOIDC {
				t.Fatalf("identity = %+v (last error %v)", view, r.lastError())
			}
			stats := op.snapshot()
			if stats.parRequests != tc.wantPAR {
				t.Errorf("PAR requests = %d, want %d", stats.parRequests, tc.wantPAR)
			}
			if bound := len(stats.boundKeys) == 1 && stats.boundKeys[0] != ""; bound != tc.wantBound {
				t.Errorf("code bound to a DPoP key = %v, want %v", bound, tc.wantBound)
			}
			if stats.tokenWithDPoP != tc.wantTokenDPoP {
				t.Errorf("token requests with DPoP = %d, want %d", stats.tokenWithDPoP, tc.wantTokenDPoP)
			}
		})
	}
}

func TestRegistrationFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registrations.json")
	w, r, op := testOPWorld(t, testOPOptions{}, func(cfg *Config) { cfg.RegistrationFile = path })
	resp, body := r.startLogin(t, newBrowser(t, r.srv), "alice.dhp.test", "")
	decodeIdentity(t, resp, body)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("registration file mode = %04o, want 0600", mode)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file registryFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	saved, ok := file.Clients[op.issuer]
	if !ok || saved.ID == "" || saved.Secret == "" || saved.RedirectURI != r.base+CallbackPath {
		t.Fatalf("registration file holds %+v, want the client of %s", file.Clients, op.issuer)
	}

	// A second Login at the same base URL (a restart) uses the saved
	// client and does not register again.
	restarted, err := New(rpConfigWith(w, r.base, tlsClient(op.srv), func(cfg *Config) { cfg.RegistrationFile = path }))
	if err != nil {
		t.Fatal(err)
	}
	p, err := restarted.provider(context.Background(), op.issuer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := restarted.client(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != saved.ID {
		t.Errorf("client after restart = %s, want the saved %s", c.ID, saved.ID)
	}
	if n := op.snapshot().registrations; n != 1 {
		t.Errorf("registrations = %d, want 1", n)
	}

	// A file other users can read is rejected.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New(rpConfigWith(w, r.base, nil, func(cfg *Config) { cfg.RegistrationFile = path }))
	if cfgErr := asConfigError(err); cfgErr == nil || cfgErr.Field != "RegistrationFile" {
		t.Errorf("New with a 0644 registration file: %v, want a RegistrationFile *ConfigError", err)
	}
}

func rpConfigWith(w *world, base string, httpClient *http.Client, mod func(*Config)) Config {
	cfg := rpConfig(w, base, httpClient)
	mod(&cfg)
	return cfg
}

func TestInsecureHandle(t *testing.T) {
	t.Parallel()
	op := startTestOP(t, testOPOptions{})
	w := newWorld(t, nil, []string{txt("dave.insecure.test", "did="+aliceDID, "oauth="+op.issuer)})

	t.Run("rejected by default", func(t *testing.T) {
		t.Parallel()
		r := newRP(t, w, tlsClient(op.srv), nil)
		resp, body := r.startLogin(t, newBrowser(t, r.srv), "dave.insecure.test", "")
		err := expectFailure(t, r, resp, body, http.StatusBadRequest, StepResolve)
		var dnssecErr *DNSSECError
		if !errors.As(err, &dnssecErr) || dnssecErr.Status.String() != "insecure" {
			t.Fatalf("error = %v, want an insecure *DNSSECError", err)
		}
		if !strings.Contains(body, "sign the zone with DNSSEC") {
			t.Errorf("the page does not say what to do:\n%s", body)
		}
	})
	t.Run("accepted with AllowInsecure", func(t *testing.T) {
		t.Parallel()
		r := newRP(t, w, tlsClient(op.srv), func(cfg *Config) { cfg.MinDNSSEC = AllowInsecure })
		resp, body := r.startLogin(t, newBrowser(t, r.srv), "dave.insecure.test", "")
		view := decodeIdentity(t, resp, body)
		if view.Handle != "dave.insecure.test" || view.DNSSEC != "insecure" {
			t.Fatalf("identity = %+v, want dave.insecure.test with DNSSEC insecure", view)
		}
	})
}

// An OIDC login reads only the _atproto TXT RRset, so a TLSA RRset that
// fails validation beside it does not stop the login.
func TestLoginIgnoresBogusTLSA(t *testing.T) {
	t.Parallel()
	op := startTestOP(t, testOPOptions{})
	w := newWorld(t, []string{
		txt("alice.dhp.test", "did="+aliceDID, "oauth="+op.issuer),
		"alice.dhp.test. 300 IN TLSA 2 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6",
	}, nil)
	// Changing the signed TLSA record without signing it again makes it
	// bogus.
	if err := w.dhp.Tamper("alice.dhp.test.", dns.TypeTLSA, func(rr dns.RR) { rr.(*dns.TLSA).Selector = 0 }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.resolver.Resolve(context.Background(), "alice.dhp.test"); err == nil {
		t.Fatal("the tampered TLSA RRset still validates")
	}

	r := newRP(t, w, tlsClient(op.srv), nil)
	resp, body := r.startLogin(t, newBrowser(t, r.srv), "alice.dhp.test", "/")
	view := decodeIdentity(t, resp, body)
	if view.DID != aliceDID || view.DNSSEC != "secure" {
		t.Fatalf("identity = %+v, want %s with secure DNSSEC (last error %v)", view, aliceDID, r.lastError())
	}
}
