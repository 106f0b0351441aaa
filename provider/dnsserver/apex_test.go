package dnsserver

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

func setApex(t *testing.T, st store.Store, signer *Signer, nameservers []string, email string) uint32 {
	t.Helper()
	var serial uint32
	err := st.InTx(context.Background(), func(tx store.Tx) error {
		var err error
		serial, err = signer.SetApex(context.Background(), tx, testZone, nameservers, email)
		return err
	})
	if err != nil {
		t.Fatalf("SetApex: %v", err)
	}
	return serial
}

func TestSetApexChangesNSAndSOA(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	before, err := st.ZoneSerial(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}

	same := setApex(t, st, signer, []string{"ns1.dhp.test."}, "hostmaster@dhp.test")
	if same != before {
		t.Errorf("an unchanged apex moved the serial from %d to %d", before, same)
	}

	after := setApex(t, st, signer, []string{"NS1.example.net", "ns2.example.net."}, "dns-admin@example.net")
	if after == before {
		t.Fatal("a changed apex kept the serial")
	}
	rrs := zoneRRs(t, st)
	var names []string
	for _, rr := range rrsOfType(rrs, dns.TypeNS) {
		names = append(names, rr.(*dns.NS).Ns)
	}
	if len(names) != 2 || names[0] != "ns1.example.net." || names[1] != "ns2.example.net." {
		t.Errorf("NS RRset = %v, want ns1.example.net. and ns2.example.net.", names)
	}
	soas := rrsOfType(rrs, dns.TypeSOA)
	if len(soas) != 1 {
		t.Fatalf("%d SOA records", len(soas))
	}
	soa := soas[0].(*dns.SOA)
	if soa.Ns != "ns1.example.net." {
		t.Errorf("SOA MNAME = %s, want ns1.example.net.", soa.Ns)
	}
	if soa.Mbox != "dns-admin.example.net." {
		t.Errorf("SOA RNAME = %s, want dns-admin.example.net.", soa.Mbox)
	}
	if soa.Serial != after {
		t.Errorf("SOA serial = %d, want %d", soa.Serial, after)
	}
	if problems := checkSignedZone(testZone, rrs, time.Now()); len(problems) > 0 {
		t.Errorf("signed zone problems after SetApex:\n%v", problems)
	}

	if again := setApex(t, st, signer, []string{"ns1.example.net.", "ns2.example.net."}, "dns-admin@example.net"); again != after {
		t.Errorf("setting the same apex again moved the serial from %d to %d", after, again)
	}
}

func TestSetApexRejectsNoNameservers(t *testing.T) {
	t.Parallel()
	st, signer := newStoreAndSigner(t)
	err := st.InTx(context.Background(), func(tx store.Tx) error {
		_, err := signer.SetApex(context.Background(), tx, testZone, nil, "hostmaster@dhp.test")
		return err
	})
	if err == nil {
		t.Fatal("SetApex without name servers succeeded")
	}
	if got := rrsOfType(zoneRRs(t, st), dns.TypeNS); len(got) != 1 {
		t.Errorf("the rejected call left %d NS records, want the original 1", len(got))
	}
}
