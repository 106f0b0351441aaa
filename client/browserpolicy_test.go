package client

import (
	"encoding/json"
	"testing"
)

func TestChromiumPolicyContent(t *testing.T) {
	t.Parallel()
	got, err := ChromiumPolicy([]SiteChoice{
		{Origin: "https://127.0.0.1:8443", Handle: "alice.dhp.test"},
		{Origin: "https://rp.example", Handle: "xn--caf-dma.dhp.test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "AutoSelectCertificateForUrls": [
    "{\"pattern\":\"https://127.0.0.1:8443\",\"filter\":{\"ISSUER\":{\"CN\":\"alice.dhp.test\"}}}",
    "{\"pattern\":\"https://rp.example\",\"filter\":{\"ISSUER\":{\"CN\":\"xn--caf-dma.dhp.test\"}}}"
  ]
}
`
	if string(got) != want {
		t.Errorf("policy:\n%s\nwant:\n%s", got, want)
	}
}

func TestChromiumPolicyEmpty(t *testing.T) {
	t.Parallel()
	got, err := ChromiumPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"AutoSelectCertificateForUrls\": []\n}\n"; string(got) != want {
		t.Errorf("policy %q, want %q", got, want)
	}
}

// TestChromiumPolicyMatchesDeviceIssuer checks the filter against a device
// certificate made by package pki: its issuer CN is the handle, because the
// issuer is the CSC, whose subject is CN=<handle>.
func TestChromiumPolicyMatchesDeviceIssuer(t *testing.T) {
	t.Parallel()
	id := newTestIdentity(t, "alice.dhp.test")
	_, leaf := id.issue(t, "laptop")

	data, err := ChromiumPolicy([]SiteChoice{{Origin: "https://rp.example", Handle: id.h}})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ AutoSelectCertificateForUrls []string }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var entry certificateFilter
	if err := json.Unmarshal([]byte(doc.AutoSelectCertificateForUrls[0]), &entry); err != nil {
		t.Fatal(err)
	}
	if entry.Filter.Issuer.CN != leaf.Issuer.CommonName {
		t.Errorf("filter CN %q, device certificate issuer CN %q", entry.Filter.Issuer.CN, leaf.Issuer.CommonName)
	}
	if leaf.Issuer.String() != "CN="+string(id.h) {
		t.Errorf("device certificate issuer %q, want exactly CN=%s", leaf.Issuer, id.h)
	}
	if leaf.Subject.String() == leaf.Issuer.String() {
		t.Errorf("device subject %q equals its issuer: Chromium would not offer it", leaf.Subject)
	}
}
