package web_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/web"
)

func TestCertificateSignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	owner := w.browser()
	owner.signUp("alice", testPassword)
	h := owner.createHosted("alice")
	file := downloadBrowserFile(t, owner, h, "browser", "file password")

	// A device certificate the provider never recorded: signed by the
	// right CSC, so DANE accepts it, but not a device of the identity.
	csc, err := w.svc.LoadCSC(ctx, handle.Handle(h))
	if err != nil {
		t.Fatal(err)
	}
	strayKey, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := pki.CreateCSR(rand.Reader, strayKey, handle.Handle(h))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	strayLeaf, err := pki.IssueDevice(rand.Reader, csc, csr, pki.DeviceOptions{Label: "stray"})
	if err != nil {
		t.Fatal(err)
	}
	stray := tls.Certificate{Certificate: [][]byte{strayLeaf.Raw, csc.Certificate.Raw}, PrivateKey: strayKey}

	signIn := func(t *testing.T, b *browser, next string) *response {
		t.Helper()
		return b.submit("/signin?next="+url.QueryEscape(next), "/signin/certificate", url.Values{"next": {next}})
	}

	t.Run("device certificate", func(t *testing.T) {
		b := w.browser(file.tlsCertificate())
		resp := signIn(t, b, "/devices/"+h)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/devices/"+h {
			t.Fatalf("certificate sign-in: %s to %q, want 303 to the next page:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
		}
		page := b.get("/devices/" + h)
		if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Signed in as <strong>alice</strong>") {
			t.Errorf("device page after certificate sign-in: %s", page.Status)
		}
		d, err := w.svc.Store.DeviceBySerial(ctx, file.leaf.SerialNumber.Text(16))
		if err != nil {
			t.Fatal(err)
		}
		if d.LastSeen.IsZero() {
			t.Errorf("the device's last-seen time was not recorded")
		}
	})

	failures := []struct {
		name    string
		certs   []tls.Certificate
		message string
	}{
		{"no certificate", nil, "Your browser sent no device certificate."},
		{"unrecorded device", []tls.Certificate{stray}, "is not a device of @" + h},
	}
	for _, c := range failures {
		t.Run(c.name, func(t *testing.T) {
			b := w.browser(c.certs...)
			resp := signIn(t, b, "/")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Body, c.message) {
				t.Errorf("certificate sign-in: %s, want 403 with %q:\n%s", resp.Status, c.message, resp.Body)
			}
			if b.sessionCookie() != "" {
				t.Errorf("a failed certificate sign-in set a session cookie")
			}
		})
	}

	t.Run("revoked device", func(t *testing.T) {
		serial := file.leaf.SerialNumber.Text(16)
		resp := owner.submit("/devices/"+h, "/devices/"+h+"/revoke", url.Values{"serial": {serial}, "confirm": {"yes"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %s", resp.Status)
		}
		b := w.browser(file.tlsCertificate())
		resp = signIn(t, b, "/")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Body, "was revoked") {
			t.Errorf("sign-in with a revoked device: %s:\n%s", resp.Status, resp.Body)
		}
	})
}

func TestCertificateSignInOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(c *web.Config) { c.Verifier = nil })
	b := w.browser()
	if page := b.get("/signin"); strings.Contains(page.Body, "/signin/certificate") {
		t.Errorf("the sign-in page offers certificate sign-in while it is off")
	}
	resp := b.submit("/signin", "/signin/certificate", url.Values{})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /signin/certificate while off: %s, want 404", resp.Status)
	}
}

func TestTLSClientAuth(t *testing.T) {
	t.Parallel()
	base := &tls.Config{}
	inner := &tls.Config{ServerName: "inner"}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return inner, nil }
	web.TLSClientAuth(base)

	forClient, err := base.GetConfigForClient(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*tls.Config{"base": base, "per client": forClient} {
		if c.ClientAuth != tls.RequestClientCert {
			t.Errorf("%s: ClientAuth %v, want RequestClientCert", name, c.ClientAuth)
		}
		if c.ClientCAs == nil {
			t.Fatalf("%s: no ClientCAs", name)
		}
		// crypto/tls sends the subjects of ClientCAs as
		// certificate_authorities; the deprecation concerns system pools.
		subjects := c.ClientCAs.Subjects() //nolint:staticcheck // see above

		if len(subjects) != 1 || string(subjects[0]) != string(pki.MarkerName()) {
			t.Errorf("%s: ClientCAs subjects %x, want the marker DN alone", name, subjects)
		}
	}
	if inner.ClientAuth != tls.NoClientCert {
		t.Errorf("TLSClientAuth changed the configuration GetConfigForClient returned instead of a copy")
	}
}
