package web_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/web"
)

// browserFile is a downloaded PKCS #12 file, decoded.
type browserFile struct {
	key       crypto.Signer
	leaf, csc *x509.Certificate
}

// tlsCertificate returns the file's key and chain [leaf, CSC] for a TLS
// client.
func (f browserFile) tlsCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{f.leaf.Raw, f.csc.Raw}, PrivateKey: f.key, Leaf: f.leaf}
}

// downloadBrowserFile gets a PKCS #12 file for a browser of h and decodes
// it with password.
func downloadBrowserFile(t *testing.T, b *browser, h, label, password string) browserFile {
	t.Helper()
	resp := b.submit("/devices/"+h, "/devices/"+h+"/browser", url.Values{"browser_label": {label}, "password": {password}, "password_repeat": {password}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-pkcs12" {
		t.Fatalf("download for a browser: %s, %s:\n%s", resp.Status, resp.Header.Get("Content-Type"), resp.Body)
	}
	key, leaf, cas, err := pkcs12.DecodeChain([]byte(resp.Body), password)
	if err != nil {
		t.Fatalf("decode the PKCS #12 file: %v", err)
	}
	if len(cas) != 1 {
		t.Fatalf("the file holds %d CA certificates, want the CSC alone", len(cas))
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("the file's key is a %T, not a crypto.Signer", key)
	}
	return browserFile{key: signer, leaf: leaf, csc: cas[0]}
}

func TestBrowserCertificateDownload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	h := b.createHosted("alice")

	resp := b.submit("/devices/"+h, "/devices/"+h+"/browser", url.Values{"browser_label": {"work laptop"}, "password": {"file password"}, "password_repeat": {"file password"}})
	if got := resp.Header.Get("Content-Disposition"); got != `attachment; filename=alice.dhp.test-work-laptop.p12` {
		t.Errorf("Content-Disposition %q", got)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	if _, _, _, err := pkcs12.DecodeChain([]byte(resp.Body), "another password"); err == nil {
		t.Errorf("the file decodes with a wrong password")
	}
	key, leaf, cas, err := pkcs12.DecodeChain([]byte(resp.Body), "file password")
	if err != nil {
		t.Fatalf("decode the PKCS #12 file: %v", err)
	}

	csc, err := w.svc.LoadCSC(ctx, handle.Handle(h))
	if err != nil {
		t.Fatal(err)
	}
	if len(cas) != 1 || !cas[0].Equal(csc.Certificate) {
		t.Fatalf("the file's CA certificates are not exactly the identity's CSC")
	}
	if err := pki.VerifyPath(leaf, cas[0], time.Now()); err != nil {
		t.Errorf("the leaf does not verify under the CSC: %v", err)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != h || leaf.Subject.OrganizationalUnit[0] != "work laptop" {
		t.Errorf("leaf names %v, OU %v; want %s and the label", leaf.DNSNames, leaf.Subject.OrganizationalUnit, h)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("the file's key is a %T", key)
	}
	keyFP, err := pki.KeyFingerprint(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if keyFP != pki.SPKIFingerprint(leaf) {
		t.Errorf("the file's key does not belong to its certificate")
	}

	// The device is recorded like an enrolled one, and nothing stored
	// holds its key.
	d, err := w.svc.Store.DeviceBySerial(ctx, leaf.SerialNumber.Text(16))
	if err != nil {
		t.Fatalf("device of the downloaded certificate: %v", err)
	}
	if d.Label != "work laptop" || d.Status != store.DeviceActive || d.Fingerprint != keyFP {
		t.Errorf("device %+v, want label work laptop, active, fingerprint %s", d, keyFP)
	}
	list := b.get("/devices/" + h)
	for _, want := range []string{"work laptop", d.Serial, "Active", "never"} {
		if !strings.Contains(list.Body, want) {
			t.Errorf("device list lacks %q", want)
		}
	}

	t.Run("form errors", func(t *testing.T) {
		cases := []struct {
			name                    string
			label, password, repeat string
			field, message          string
		}{
			{"short password", "phone", "short", "short", "password", "Use at least 8 characters."},
			{"repeat differs", "phone", "file password", "file passwort", "password_repeat", "The two passwords differ."},
			{"empty label", " ", "file password", "file password", "browser_label", "Enter a device label."},
			{"control character", "pho\x01ne", "file password", "file password", "browser_label", "without control characters"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp := b.submit("/devices/"+h, "/devices/"+h+"/browser", url.Values{"browser_label": {c.label}, "password": {c.password}, "password_repeat": {c.repeat}})
				if resp.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("status %s, want 422", resp.Status)
				}
				m := regexp.MustCompile(`id="` + c.field + `-error" role="alert">([^<]*)<`).FindStringSubmatch(resp.Body)
				if m == nil || !strings.Contains(html.UnescapeString(m[1]), c.message) {
					t.Errorf("error next to %s is %q, want %q", c.field, m, c.message)
				}
				if strings.Contains(resp.Body, `value="`+c.password+`"`) {
					t.Errorf("the page shows the password back")
				}
			})
		}
	})
}

func TestEnrollmentCommandCA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		caFile  string
		command string // the text after the code
		note    bool
	}{
		{"trusted certificate", "", "</pre>", false},
		{"self-signed certificate", "/var/lib/dnshandle/acme/ca.pem", " --ca /var/lib/dnshandle/acme/ca.pem</pre>", true},
		{"path with a space", "/srv/my dhp/acme/ca.pem", ` --ca '/srv/my dhp/acme/ca.pem'</pre>`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, func(c *web.Config) { c.CAFile = tc.caFile })
			b := w.browser()
			b.signUp("alice", testPassword)
			h := b.createHosted("alice")

			resp := b.submit("/devices/"+h, "/devices/"+h+"/enroll", url.Values{"label": {"phone"}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("enroll: %s:\n%s", resp.Status, resp.Body)
			}
			page := html.UnescapeString(resp.Body)
			m := regexp.MustCompile(`<pre class="code"[^>]*>([^<]+)</pre>`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("the page shows no code:\n%s", resp.Body)
			}
			if want := "dnshandle device enroll --code " + m[1] + tc.command; !strings.Contains(page, want) {
				t.Errorf("the page lacks the command %q:\n%s", want, page)
			}
			if note := strings.Contains(page, "Copy its CA file <code>"+tc.caFile+"</code>"); note != tc.note {
				t.Errorf("the page tells to copy the CA file: %v, want %v", note, tc.note)
			}
		})
	}
}

func TestEnrollmentCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	h := b.createHosted("alice")

	resp := b.submit("/devices/"+h, "/devices/"+h+"/enroll", url.Values{"label": {"phone"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("enroll: %s:\n%s", resp.Status, resp.Body)
	}
	m := regexp.MustCompile(`<pre class="code"[^>]*>([^<]+)</pre>`).FindStringSubmatch(resp.Body)
	if m == nil {
		t.Fatalf("the page shows no code:\n%s", resp.Body)
	}
	code, err := client.ParseEnrollmentCode(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatalf("the code on the page does not parse: %v", err)
	}
	if code.Handle.String() != h || code.DirectoryURL != "https://dhp.test/acme/directory" {
		t.Errorf("code for %s at %s, want %s at the provider's directory", code.Handle, code.DirectoryURL, h)
	}
	if !strings.Contains(html.UnescapeString(resp.Body), "dnshandle device enroll --code "+html.UnescapeString(m[1])) {
		t.Errorf("the page lacks the enroll command with the code")
	}
	en, err := w.svc.Store.Enrollment(ctx, code.KeyID)
	if err != nil || en.Label != "phone" || !en.UsedAt.IsZero() {
		t.Errorf("stored enrollment %+v, %v; want an unused one labelled phone", en, err)
	}

	img := regexp.MustCompile(`<img class="qr" src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="[^"]+" width="(\d+)"`).FindStringSubmatch(html.UnescapeString(resp.Body))
	if img == nil {
		t.Fatalf("the page has no QR image with a data: URI and alt text:\n%s", resp.Body)
	}
	raw, err := base64.StdEncoding.DecodeString(img[1])
	if err != nil {
		t.Fatal(err)
	}
	pic, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the QR image is not a PNG: %v", err)
	}
	if size := pic.Bounds().Dx(); size < 100 || img[2] != strconv.Itoa(size) {
		t.Errorf("QR image of %d pixels, width attribute %s; want at least 100 and the same", size, img[2])
	}

	bad := b.submit("/devices/"+h, "/devices/"+h+"/enroll", url.Values{"label": {strings.Repeat("x", 65)}})
	if bad.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad.Body, `id="label-error"`) {
		t.Errorf("enroll with a 65-character label: %s, want 422 with an error next to the label", bad.Status)
	}
}

func TestRevokeDevice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	h := b.createHosted("alice")
	file := downloadBrowserFile(t, b, h, "laptop", "file password")
	serial := file.leaf.SerialNumber.Text(16)

	confirm := b.get("/devices/" + h + "/revoke?serial=" + serial)
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, "Revoke laptop") {
		t.Fatalf("confirmation page: %s:\n%s", confirm.Status, confirm.Body)
	}

	// Without the confirmation field the form only shows the question.
	resp := b.submit("/devices/"+h, "/devices/"+h+"/revoke", url.Values{"serial": {serial}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `name="confirm" value="yes"`) {
		t.Errorf("revoke without confirm: %s, want the confirmation page", resp.Status)
	}
	if d, _ := w.svc.Store.DeviceBySerial(ctx, serial); d.Status != store.DeviceActive {
		t.Fatalf("device revoked without confirmation")
	}

	resp = b.submit("/devices/"+h, "/devices/"+h+"/revoke", url.Values{"serial": {serial}, "confirm": {"yes"}, "reason": {"keyCompromise"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/devices/"+h+"?revoked="+serial {
		t.Fatalf("revoke: %s to %q:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
	}
	d, err := w.svc.Store.DeviceBySerial(ctx, serial)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.DeviceRevoked || d.RevocationReason != int(pki.ReasonKeyCompromise) {
		t.Errorf("device status %s reason %d, want revoked for keyCompromise", d.Status, d.RevocationReason)
	}
	list := b.get(resp.Header.Get("Location"))
	if !strings.Contains(list.Body, "The device with serial "+serial+" is revoked.") || !strings.Contains(list.Body, "Revoked 20") {
		t.Errorf("device list after revocation lacks the notice or the status:\n%s", list.Body)
	}

	cases := []struct {
		name   string
		form   url.Values
		status int
	}{
		{"again", url.Values{"serial": {serial}, "confirm": {"yes"}}, http.StatusConflict},
		{"unknown serial", url.Values{"serial": {"abcdef"}, "confirm": {"yes"}}, http.StatusNotFound},
		{"not hex", url.Values{"serial": {"xyz"}, "confirm": {"yes"}}, http.StatusBadRequest},
		{"unknown reason", url.Values{"serial": {serial}, "confirm": {"yes"}, "reason": {"boredom"}}, http.StatusUnprocessableEntity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if resp := b.submit("/devices/"+h, "/devices/"+h+"/revoke", c.form); resp.StatusCode != c.status {
				t.Errorf("status %s, want %d:\n%s", resp.Status, c.status, resp.Body)
			}
		})
	}
}
