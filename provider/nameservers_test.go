package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/resolve/dnssec"
)

func TestValidateNameservers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		listen string
		zone   ZoneConfig
		// want lists a part of each error message, in order; none means
		// the configuration is valid.
		want []string
	}{
		{"default ns1 on loopback", "127.0.0.1:5353", ZoneConfig{Name: "dhp.test"}, nil},
		{"default ns1 on localhost", "localhost:5353", ZoneConfig{Name: "dhp.test"}, nil},
		{"default ns1 on IPv6 loopback", "[::1]:53", ZoneConfig{Name: "dhp.test"}, nil},
		{"default ns1 on all addresses", ":53", ZoneConfig{Name: "dhp.test"},
			[]string{`name server ns1.dhp.test. is inside the zone but has no addresses`}},
		{"default ns1 on a public address", "192.0.2.53:53", ZoneConfig{Name: "dhp.test"},
			[]string{`nameserver_addresses = {"ns1.dhp.test" = ["192.0.2.1", "2001:db8::1"]}`}},
		{"ns1 with addresses on a public address", "192.0.2.53:53",
			ZoneConfig{Name: "dhp.test", NameserverAddresses: map[string][]string{"ns1.dhp.test": {"192.0.2.1"}}}, nil},
		{"in-zone ns2 without addresses on loopback", "127.0.0.1:5353",
			ZoneConfig{Name: "dhp.test", Nameservers: []string{"ns1.dhp.test", "ns2.dhp.test"}},
			[]string{`name server ns2.dhp.test. is inside the zone but has no addresses`}},
		{"out-of-zone name servers need none", "192.0.2.53:53",
			ZoneConfig{Name: "dhp.test", Nameservers: []string{"ns1.example.net", "ns2.example.org."}}, nil},
		{"apex as name server", "192.0.2.53:53",
			ZoneConfig{Name: "dhp.test", Nameservers: []string{"dhp.test"}, NameserverAddresses: map[string][]string{"dhp.test": {"192.0.2.1"}}}, nil},
		{"names normalized", "192.0.2.53:53",
			ZoneConfig{Name: "DHP.test", Nameservers: []string{"NS1.dhp.TEST."}, NameserverAddresses: map[string][]string{"ns1.DHP.test": {"192.0.2.1"}}}, nil},
		{"addresses of a name server not listed", "127.0.0.1:5353",
			ZoneConfig{Name: "dhp.test", NameserverAddresses: map[string][]string{"ns9.dhp.test": {"192.0.2.9"}}},
			[]string{"ns9.dhp.test. has addresses in nameserver_addresses but is not in nameservers"}},
		{"addresses of an out-of-zone name server", "127.0.0.1:5353",
			ZoneConfig{Name: "dhp.test", Nameservers: []string{"ns1.example.net"}, NameserverAddresses: map[string][]string{"ns1.example.net": {"192.0.2.1"}}},
			[]string{"ns1.example.net. is outside the zone"}},
		{"empty address list", "127.0.0.1:5353",
			ZoneConfig{Name: "dhp.test", NameserverAddresses: map[string][]string{"ns1.dhp.test": {}}},
			[]string{"has an empty list in nameserver_addresses"}},
		{"bad addresses", "127.0.0.1:5353",
			ZoneConfig{Name: "dhp.test", NameserverAddresses: map[string][]string{"ns1.dhp.test": {"ns.example.net", "0.0.0.0", "ff02::1", "fe80::1%eth0", "169.254.1.1"}}},
			[]string{`address "ns.example.net" is not an IP address`, `address "0.0.0.0" is not a unicast address`,
				`address "ff02::1" is not a unicast address`, `address "fe80::1%eth0" has an interface zone`, `address "169.254.1.1" is a link-local address`}},
		{"invalid name server name", "127.0.0.1:5353",
			ZoneConfig{Name: "dhp.test", Nameservers: []string{"ns1..dhp.test"}},
			[]string{"is not a valid domain name"}},
		{"name server given as an address", "127.0.0.1:5353",
			ZoneConfig{Name: "dhp.test", Nameservers: []string{"192.0.2.1"}},
			[]string{"is an IP address: give the name server's host name here"}},
		{"name server with a space", "127.0.0.1:5353",
			ZoneConfig{Name: "dhp.test", Nameservers: []string{"ns a.example.net"}},
			[]string{`name server "ns a.example.net." is not a host name: use letters, digits and inner hyphens in each label`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &Config{DNS: DNSConfig{Listen: tc.listen, Zones: []ZoneConfig{tc.zone}}}
			err := cfg.Normalize()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Normalize: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Normalize succeeded, want errors containing %q", tc.want)
			}
			var nsErr *NameserverError
			if !errors.As(err, &nsErr) {
				t.Errorf("Normalize = %v, want a *NameserverError", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("Normalize returned %d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, want := range tc.want {
				if !strings.Contains(lines[i], want) {
					t.Errorf("error %d = %q, want it to contain %q", i, lines[i], want)
				}
			}
		})
	}
}

func TestLoadConfigNameserverAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text string }{
		{"inline table", `[[dns.zones]]
name = "dhp.test"
nameservers = ["ns1.dhp.test", "ns2.example.net"]
nameserver_addresses = {"ns1.dhp.test" = ["192.0.2.1", "2001:db8::1"]}
`},
		{"sub-table", `[[dns.zones]]
name = "dhp.test"
nameservers = ["ns1.dhp.test", "ns2.example.net"]
[dns.zones.nameserver_addresses]
"NS1.dhp.test." = ["192.0.2.1", "2001:db8::1"]
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(writeConfig(t, tc.text))
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.DNS.Zones[0].NameserverAddresses
			if len(got) != 1 || !slices.Equal(got["ns1.dhp.test."], []string{"192.0.2.1", "2001:db8::1"}) {
				t.Errorf("nameserver_addresses = %v, want ns1.dhp.test. with 192.0.2.1 and 2001:db8::1", got)
			}
		})
	}
}

// openTestService opens a provider for cfg on a fresh SQLite store, with
// the key-encryption key in a file, so tests may run in parallel.
func openTestService(t *testing.T, cfg *Config) *Service {
	t.Helper()
	dir := t.TempDir()
	kek := make([]byte, store.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	cfg.KEKFile = filepath.Join(dir, "kek.hex")
	if err := os.WriteFile(cfg.KEKFile, []byte(hex.EncodeToString(kek)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = filepath.Join(dir, "data")
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	svc, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// dnsExchanger sends queries with the DO bit to one server, over TCP so
// that large answers are not truncated.
type dnsExchanger struct{ addr string }

func (e dnsExchanger) Exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, e.addr)
	return r, err
}

// zoneClient queries and validates the answers of one provider zone.
type zoneClient struct {
	t         *testing.T
	exchanger dnsExchanger
	validator *dnssec.Validator
}

func newZoneClient(t *testing.T, svc *Service, zone string) *zoneClient {
	t.Helper()
	ds, err := svc.Signer.DS(t.Context(), zone)
	if err != nil {
		t.Fatal(err)
	}
	anchors := make([]dns.RR, len(ds))
	for i, d := range ds {
		anchors[i] = d
	}
	ex := dnsExchanger{addr: startDNS(t, svc)}
	return &zoneClient{t: t, exchanger: ex, validator: &dnssec.Validator{Anchors: anchors, Exchanger: ex}}
}

// query returns the response to name and qtype after checking that it
// validates as secure.
func (c *zoneClient) query(name string, qtype uint16) *dns.Msg {
	c.t.Helper()
	r, err := c.exchanger.Exchange(c.t.Context(), name, qtype)
	if err != nil {
		c.t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	if res := c.validator.Validate(c.t.Context(), name, qtype, r); res.Status != dnssec.Secure {
		c.t.Errorf("%s %s: DNSSEC status %s, want secure", name, dns.TypeToString[qtype], res)
	}
	return r
}

// answerData returns the data of the answer records of type qtype.
func answerData(r *dns.Msg, qtype uint16) []string {
	var out []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype != qtype {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}

func TestEnsureZonesPublishesNameserverAddresses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := &Config{DNS: DNSConfig{Listen: "127.0.0.1:0", Zones: []ZoneConfig{{
		Name:        "dhp.test",
		Nameservers: []string{"ns1.dhp.test", "ns2.example.net"},
		NameserverAddresses: map[string][]string{
			"ns1.dhp.test": {"192.0.2.1", "2001:db8::1"},
		},
	}}}}
	svc := openTestService(t, cfg)
	created, err := svc.EnsureZones(ctx)
	if err != nil {
		t.Fatalf("EnsureZones: %v", err)
	}
	if !slices.Equal(created, []string{"dhp.test."}) {
		t.Errorf("EnsureZones created %v, want [dhp.test.]", created)
	}

	c := newZoneClient(t, svc, "dhp.test.")
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"ns1.dhp.test.", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.1"}},
		{"ns1.dhp.test.", dns.TypeAAAA, dns.RcodeSuccess, []string{"2001:db8::1"}},
		{"ns1.dhp.test.", dns.TypeTXT, dns.RcodeSuccess, nil},
		{"nobody.dhp.test.", dns.TypeA, dns.RcodeNameError, nil},
		{"www.ns1.dhp.test.", dns.TypeA, dns.RcodeNameError, nil},
		{"ns2.dhp.test.", dns.TypeAAAA, dns.RcodeNameError, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			r := c.query(tc.name, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got := answerData(r, tc.qtype); !slices.Equal(got, tc.want) {
				t.Errorf("answer %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEnsureZonesUpdatesAddressesOfExistingZone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := &Config{DNS: DNSConfig{Listen: "127.0.0.1:0", Zones: []ZoneConfig{{Name: "dhp.test"}}}}
	svc := openTestService(t, cfg)
	if _, err := svc.EnsureZones(ctx); err != nil {
		t.Fatal(err)
	}
	serial := func() uint32 {
		t.Helper()
		s, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	steps := []struct {
		name      string
		addresses []string
		wantA     []string
		wantAAAA  []string
		changes   bool
	}{
		{"no addresses on loopback", nil, nil, nil, false},
		{"addresses added", []string{"2001:db8::1", "192.0.2.1"}, []string{"192.0.2.1"}, []string{"2001:db8::1"}, true},
		{"same addresses again", []string{"192.0.2.1", "2001:db8::1"}, []string{"192.0.2.1"}, []string{"2001:db8::1"}, false},
		{"IPv6 dropped, IPv4 changed", []string{"192.0.2.7", "198.51.100.7"}, []string{"192.0.2.7", "198.51.100.7"}, nil, true},
	}
	for _, step := range steps {
		before := serial()
		z := &svc.Config.DNS.Zones[0]
		z.NameserverAddresses = nil
		if step.addresses != nil {
			z.NameserverAddresses = map[string][]string{"ns1.dhp.test": step.addresses}
		}
		if err := svc.Config.Normalize(); err != nil {
			t.Fatalf("%s: Normalize: %v", step.name, err)
		}
		created, err := svc.EnsureZones(ctx)
		if err != nil || len(created) != 0 {
			t.Fatalf("%s: EnsureZones = %v, %v; want no zone created and no error", step.name, created, err)
		}
		if changed := serial() != before; changed != step.changes {
			t.Errorf("%s: zone changed = %v, want %v", step.name, changed, step.changes)
		}

		c := newZoneClient(t, svc, "dhp.test.")
		if got := answerData(c.query("ns1.dhp.test.", dns.TypeA), dns.TypeA); !slices.Equal(got, step.wantA) {
			t.Errorf("%s: A of ns1.dhp.test. = %v, want %v", step.name, got, step.wantA)
		}
		if got := answerData(c.query("ns1.dhp.test.", dns.TypeAAAA), dns.TypeAAAA); !slices.Equal(got, step.wantAAAA) {
			t.Errorf("%s: AAAA of ns1.dhp.test. = %v, want %v", step.name, got, step.wantAAAA)
		}
		c.query("nobody.dhp.test.", dns.TypeA)
	}

	audit, err := svc.Store.Audit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var updates int
	for _, e := range audit {
		if e.Action == "zone.nameserver-addresses" && e.Subject == "dhp.test." && e.Detail == "ns1.dhp.test." {
			updates++
		}
	}
	if updates != 2 {
		t.Errorf("audit log has %d entries zone.nameserver-addresses for ns1.dhp.test., want 2:\n%+v", updates, audit)
	}
}

// A zone created with one name server follows a configuration that names
// others: the NS RRset and the SOA change on the next start, once.
func TestEnsureZonesUpdatesNameserversOfExistingZone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := &Config{DNS: DNSConfig{Listen: "127.0.0.1:0", Zones: []ZoneConfig{{Name: "dhp.test"}}}}
	svc := openTestService(t, cfg)
	if _, err := svc.EnsureZones(ctx); err != nil {
		t.Fatal(err)
	}

	z := &svc.Config.DNS.Zones[0]
	z.Nameservers = []string{"ns1.example.net", "ns2.example.org"}
	z.Email = "dns@example.net"
	if err := svc.Config.Normalize(); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	before, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureZones(ctx); err != nil {
		t.Fatalf("EnsureZones: %v", err)
	}
	after, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatal("the zone kept its serial after its name servers changed")
	}

	c := newZoneClient(t, svc, "dhp.test.")
	var ns []string
	for _, rr := range c.query("dhp.test.", dns.TypeNS).Answer {
		if v, ok := rr.(*dns.NS); ok {
			ns = append(ns, v.Ns)
		}
	}
	slices.Sort(ns)
	if want := []string{"ns1.example.net.", "ns2.example.org."}; !slices.Equal(ns, want) {
		t.Errorf("NS answer = %v, want %v", ns, want)
	}
	var soa *dns.SOA
	for _, rr := range c.query("dhp.test.", dns.TypeSOA).Answer {
		if v, ok := rr.(*dns.SOA); ok {
			soa = v
		}
	}
	if soa == nil || soa.Ns != "ns1.example.net." || soa.Mbox != "dns.example.net." {
		t.Errorf("SOA = %v, want MNAME ns1.example.net. and RNAME dns.example.net.", soa)
	}

	if _, err := svc.EnsureZones(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := svc.Store.ZoneSerial(ctx, "dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	if again != after {
		t.Errorf("an unchanged configuration moved the serial from %d to %d", after, again)
	}
	audit, err := svc.Store.Audit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var updates int
	for _, e := range audit {
		if e.Action == "zone.apex" && e.Subject == "dhp.test." {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("audit log has %d zone.apex entries, want 1", updates)
	}
}

// A name server inside the zone that leaves the configuration takes its
// addresses with it.
func TestEnsureZonesDropsFormerNameserverAddresses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := &Config{DNS: DNSConfig{Listen: "192.0.2.53:53", Zones: []ZoneConfig{{
		Name:                "dhp.test",
		Nameservers:         []string{"ns-a.dhp.test", "ns.example.net"},
		NameserverAddresses: map[string][]string{"ns-a.dhp.test": {"192.0.2.10", "2001:db8::10"}},
	}}}}
	svc := openTestService(t, cfg)
	if _, err := svc.EnsureZones(ctx); err != nil {
		t.Fatal(err)
	}
	if rows, err := svc.Store.LookupName(ctx, "dhp.test.", "ns-a.dhp.test."); err != nil || len(rows) == 0 {
		t.Fatalf("addresses of ns-a.dhp.test. after creation: %d rows, %v", len(rows), err)
	}

	z := &svc.Config.DNS.Zones[0]
	z.Nameservers = []string{"ns.example.net"}
	z.NameserverAddresses = nil
	if err := svc.Config.Normalize(); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	if _, err := svc.EnsureZones(ctx); err != nil {
		t.Fatalf("EnsureZones: %v", err)
	}
	rows, err := svc.Store.LookupName(ctx, "dhp.test.", "ns-a.dhp.test.")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 {
		t.Errorf("ns-a.dhp.test. keeps %d rows after it left the name servers", len(rows))
	}
	c := newZoneClient(t, svc, "dhp.test.")
	if r := c.query("ns-a.dhp.test.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("A of ns-a.dhp.test.: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}
