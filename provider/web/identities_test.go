package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

func TestCreateHostedIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)

	resp := b.submit("/identities/new", "/identities", url.Values{"kind": {"hosted"}, "name": {" Alice "}, "zone": {"dhp.test"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/identities/alice.dhp.test" {
		t.Fatalf("create Alice under dhp.test: %s to %q, want 303 to the lowercase handle:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
	}
	id, err := w.svc.Store.IdentityByHandle(ctx, "alice.dhp.test")
	if err != nil {
		t.Fatalf("identity after creation: %v", err)
	}
	if !id.Hosted {
		t.Errorf("alice.dhp.test is not hosted")
	}
	page := b.get("/identities/alice.dhp.test")
	for _, want := range []string{"<h1>@alice.dhp.test</h1>", id.DID, "Hosted by the provider", "alice.dhp.test.\t300\tIN\tTLSA\t2 1 1 "} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("identity page lacks %q:\n%s", want, page.Body)
		}
	}
	if home := b.get("/"); !strings.Contains(home.Body, "@alice.dhp.test") {
		t.Errorf("home page does not list the new identity:\n%s", home.Body)
	}

	// The provider's DNS server publishes it, signed.
	res, err := w.verifier.Resolver.Resolve(ctx, handle.Handle("alice.dhp.test"))
	if err != nil {
		t.Fatalf("resolve the new handle: %v", err)
	}
	if res.ATProto.DID != id.DID {
		t.Errorf("published did=%q, want %q", res.ATProto.DID, id.DID)
	}
}

func TestCreateIdentityErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)
	b.createHosted("alice")

	cases := []struct {
		name           string
		form           url.Values
		field, message string
	}{
		{"taken", url.Values{"kind": {"hosted"}, "name": {"alice"}, "zone": {"dhp.test"}}, "name", "The handle alice.dhp.test is taken."},
		{"name with a dot", url.Values{"kind": {"hosted"}, "name": {"a.b"}, "zone": {"dhp.test"}}, "name", "Enter one name without dots"},
		{"unknown zone", url.Values{"kind": {"hosted"}, "name": {"bob"}, "zone": {"other.test"}}, "zone", "Choose one of the listed zones."},
		{"invalid label", url.Values{"kind": {"hosted"}, "name": {"-bob"}, "zone": {"dhp.test"}}, "name", "This name cannot be a handle"},
		{"no kind", url.Values{"name": {"bob"}}, "kind", "Choose a hosted handle"},
		{"own under provider zone", url.Values{"kind": {"own"}, "handle": {"x.bob.dhp.test"}}, "handle", "lies in the provider zone dhp.test"},
		{"own reserved", url.Values{"kind": {"own"}, "handle": {"bob.example"}}, "handle", "This is not a valid handle"},
		{"own invalid", url.Values{"kind": {"own"}, "handle": {"bob"}}, "handle", "This is not a valid handle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := b.submit("/identities/new", "/identities", c.form)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %s, want 422:\n%s", resp.Status, resp.Body)
			}
			m := regexp.MustCompile(`id="` + c.field + `-error" role="alert">([^<]*)<`).FindStringSubmatch(resp.Body)
			if m == nil || !strings.Contains(html.UnescapeString(m[1]), c.message) {
				t.Errorf("error next to %s is %q, want it to contain %q", c.field, m, c.message)
			}
			for _, k := range []string{"name", "handle"} {
				if v := c.form.Get(k); v != "" && !strings.Contains(resp.Body, `value="`+html.EscapeString(v)+`"`) {
					t.Errorf("the form lost the value %q of %s", v, k)
				}
			}
		})
	}
}

func TestOwnDomainIdentityCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	b := w.browser()
	b.signUp("alice", testPassword)

	resp := b.submit("/identities/new", "/identities", url.Values{"kind": {"own"}, "handle": {"@Alice.Example.com"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/identities/alice.example.com" {
		t.Fatalf("create own-domain identity: %s to %q:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
	}
	page := b.get("/identities/alice.example.com")
	zoneText := regexp.MustCompile(`(?s)<pre class="zone"[^>]*>(.*?)</pre>`).FindStringSubmatch(page.Body)
	if zoneText == nil {
		t.Fatalf("identity page shows no records:\n%s", page.Body)
	}
	records := html.UnescapeString(zoneText[1])
	id, err := w.svc.Store.IdentityByHandle(ctx, "alice.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"alice.example.com.\t300\tIN\tTLSA\t2 1 1 ", "_atproto.alice.example.com.\t300\tIN\tTXT\t\"did=" + id.DID + "\""} {
		if !strings.Contains(records, want) {
			t.Errorf("records to publish lack %q:\n%s", want, records)
		}
	}

	// Before the records exist, the check fails and names what is missing.
	check := b.submit("/identities/alice.example.com", "/identities/alice.example.com/check", url.Values{})
	if check.StatusCode != http.StatusOK || !strings.Contains(check.Body, "The check failed.") || !strings.Contains(check.Body, "TLSA") {
		t.Fatalf("check before publishing: %s, want the failure with its problems:\n%s", check.Status, check.Body)
	}
	if id, _ := w.svc.Store.IdentityByHandle(ctx, "alice.example.com"); id.Verified {
		t.Errorf("identity verified although nothing is published")
	}

	// Publish exactly what the page shows, then check again.
	var rrs []dns.RR
	for _, line := range strings.Split(strings.TrimSpace(records), "\n") {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("record %q from the page does not parse: %v", line, err)
		}
		rrs = append(rrs, rr)
	}
	w.ownZone.Edit(func(zone []dns.RR) []dns.RR { return append(zone, rrs...) })

	check = b.submit("/identities/alice.example.com", "/identities/alice.example.com/check", url.Values{})
	if !strings.Contains(check.Body, "The records are published and correct.") {
		t.Fatalf("check after publishing: %s, want success:\n%s", check.Status, check.Body)
	}
	if id, _ := w.svc.Store.IdentityByHandle(ctx, "alice.example.com"); !id.Verified {
		t.Errorf("identity not verified after a good check")
	}

	// A hosted identity has nothing to check.
	h := b.createHosted("alice")
	if resp := b.submit("/identities/"+h, "/identities/"+h+"/check", url.Values{}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("check of a hosted identity: %s, want 400", resp.Status)
	}
}

func TestIdentityOfAnotherAccountIsHidden(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.browser()
	alice.signUp("alice", testPassword)
	alice.createHosted("alice")

	mallory := w.browser()
	mallory.signUp("mallory", testPassword)
	for _, path := range []string{"/identities/alice.dhp.test", "/devices/alice.dhp.test", "/identities/nobody.dhp.test", "/identities/ALICE.dhp.test"} {
		resp := mallory.get(path)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Body, "Identity not found") {
			t.Errorf("GET %s as another account: %s, want 404", path, resp.Status)
		}
	}
	resp := mallory.submit("/", "/devices/alice.dhp.test/enroll", url.Values{"label": {"stolen"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("enroll a device on another account's identity: %s, want 404", resp.Status)
	}
}
