package verify

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// plcDID is a syntactically valid did:plc that no test key backs.
const plcDID = "did:plc:abcdefghijklmnopqrstuvwx"

// eeDevice is a device accredited by a "3 1 1" record: a self-signed leaf
// whose did:key is its own key.
type eeDevice struct {
	h    handle.Handle
	key  crypto.Signer
	leaf *x509.Certificate
	did  string
}

func newEEDevice(tb testing.TB, h string, kt pki.KeyType) *eeDevice {
	tb.Helper()
	key := newKey(tb, kt)
	did := didKey(tb, key.Public())
	return &eeDevice{h: handle.Handle(h), key: key, leaf: selfSigned(tb, leafTemplate(h, did), key), did: did}
}

func (d *eeDevice) zoneText() string {
	return records.HandleRecords{
		Handle: d.h,
		TTL:    300,
		TLSA:   []records.TLSA{records.DeviceRecord(d.leaf)},
		DID:    d.did,
	}.ZoneText()
}

// pkixDevice is a device under a private PKIX root, accredited by a
// "1 1 1" record.
type pkixDevice struct {
	root *x509.Certificate
	leaf *x509.Certificate
}

// world is a loopback DNS tree ". -> test. -> dhp.test." signed with
// DNSSEC, plus the unsigned delegation insecure.test., holding the records
// of every identity the tests use, and a real resolver that validates from
// the root's DS.
type world struct {
	server   *dnstest.Server
	root     *dnstest.Zone
	dhp      *dnstest.Zone
	resolver *resolve.Resolver

	alice, bob, carol, edward, pol, pol2 *identity
	amb, notlsa, bogus, dm, dk, nodid    *identity
	plc, selfta, dave                    *identity
	eeP256, eeEd25519                    *eeDevice
	pkix                                 *pkixDevice
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	w := &world{
		alice:     newIdentity(tb, "alice.dhp.test", pki.KeyP256),
		bob:       newIdentity(tb, "bob.dhp.test", pki.KeyP256),
		carol:     newIdentity(tb, "carol.dhp.test", pki.KeyP256),
		edward:    newIdentity(tb, "edward.dhp.test", pki.KeyEd25519),
		pol:       newIdentity(tb, "pol.dhp.test", pki.KeyP256),
		pol2:      newIdentity(tb, "pol2.dhp.test", pki.KeyP256),
		amb:       newIdentity(tb, "amb.dhp.test", pki.KeyP256),
		notlsa:    newIdentity(tb, "notlsa.dhp.test", pki.KeyP256),
		bogus:     newIdentity(tb, "bogus.dhp.test", pki.KeyP256),
		dm:        newIdentity(tb, "dm.dhp.test", pki.KeyP256),
		nodid:     newIdentity(tb, "nodid.dhp.test", pki.KeyP256),
		selfta:    newIdentity(tb, "selfta.dhp.test", pki.KeyP256),
		dave:      newIdentity(tb, "dave.insecure.test", pki.KeyP256),
		eeP256:    newEEDevice(tb, "eep.dhp.test", pki.KeyP256),
		eeEd25519: newEEDevice(tb, "eee.dhp.test", pki.KeyEd25519),
	}
	otherDID, err := handle.ParseDID(didKey(tb, newKey(tb, pki.KeyP256).Public()))
	if err != nil {
		tb.Fatal(err)
	}
	w.dk = newIdentityWithDID(tb, "dk.dhp.test", pki.KeyP256, otherDID)
	plc, err := handle.ParseDID(plcDID)
	if err != nil {
		tb.Fatal(err)
	}
	w.plc = newIdentityWithDID(tb, "plc.dhp.test", pki.KeyP256, plc)
	w.pkix = newPKIXDevice(tb, "pkix.dhp.test")

	w.buildZones(tb)
	return w
}

func newPKIXDevice(tb testing.TB, h string) *pkixDevice {
	tb.Helper()
	rootKey := newKey(tb, pki.KeyP256)
	rootTemplate := cscTemplate("Test PKIX Root")
	rootTemplate.Subject = pkix.Name{CommonName: "Test PKIX Root"}
	rootTemplate.MaxPathLenZero = false
	rootTemplate.MaxPathLen = -1
	root := selfSigned(tb, rootTemplate, rootKey)

	leafKey := newKey(tb, pki.KeyP256)
	leaf := issueLeaf(tb, leafTemplate(h, didKey(tb, leafKey.Public())), root, leafKey.Public(), rootKey)
	return &pkixDevice{root: root, leaf: leaf}
}

func (w *world) buildZones(tb testing.TB) {
	tb.Helper()
	var text []string
	for _, id := range []*identity{w.alice, w.bob, w.carol, w.edward, w.pol, w.pol2, w.bogus, w.dk, w.plc} {
		text = append(text, id.zoneText())
	}
	for _, d := range []*eeDevice{w.eeP256, w.eeEd25519} {
		text = append(text, d.zoneText())
	}
	text = append(text, w.specialRecords(tb)...)

	w.dhp = dnstest.MustZone(tb, "dhp.test.", text...)
	tld := dnstest.MustZone(tb, "test.")
	w.root = dnstest.MustZone(tb, ".")
	insecure := dnstest.MustZone(tb, "insecure.test.", w.dave.zoneText())
	if err := tld.Delegate(insecure); err != nil {
		tb.Fatal(err)
	}
	if err := dnstest.SignChain(dnstest.SignOptions{}, w.root, tld, w.dhp); err != nil {
		tb.Fatal(err)
	}
	if err := w.dhp.RemoveRRSIGs("bogus.dhp.test.", dns.TypeTLSA); err != nil {
		tb.Fatal(err)
	}

	w.server = dnstest.Start(tb, w.root, tld, w.dhp, insecure)
	w.resolver = newResolver(tb, w.server, w.root, resolve.AcceptInsecure)
}

// specialRecords returns the records of the identities whose DNS data is
// deliberately wrong or incomplete.
func (w *world) specialRecords(tb testing.TB) []string {
	tb.Helper()
	lines := []string{
		// Two different did= values.
		records.HandleRecords{Handle: w.amb.h, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(w.amb.csc.Certificate)}, DID: w.amb.csc.DID.String()}.ZoneText(),
		fmt.Sprintf("_atproto.%s. 300 IN TXT \"did=%s\"", w.amb.h, plcDID),
		// did= only, no TLSA.
		records.HandleRecords{Handle: w.notlsa.h, TTL: 300, DID: w.notlsa.csc.DID.String()}.ZoneText(),
		// TLSA only, no did=.
		records.HandleRecords{Handle: w.nodid.h, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(w.nodid.csc.Certificate)}}.ZoneText(),
		// A did= that is not the certificate's DID.
		fmt.Sprintf("%s. 300 IN TLSA %s", w.dm.h, records.CSCRecord(w.dm.csc.Certificate)),
		fmt.Sprintf("_atproto.%s. 300 IN TXT \"did=%s\"", w.dm.h, plcDID),
	}

	// A DANE-TA record holding the leaf's key.
	selfTA, err := records.NewTLSA(records.DANETA, records.SelectorSPKI, records.MatchSHA256, w.selfta.leaf)
	if err != nil {
		tb.Fatal(err)
	}
	lines = append(lines, records.HandleRecords{Handle: w.selfta.h, TTL: 300, TLSA: []records.TLSA{selfTA}, DID: w.selfta.csc.DID.String()}.ZoneText())

	// A PKIX-EE record for a leaf under a private root.
	pkixEE, err := records.NewTLSA(records.PKIXEE, records.SelectorSPKI, records.MatchSHA256, w.pkix.leaf)
	if err != nil {
		tb.Fatal(err)
	}
	lines = append(lines, records.HandleRecords{Handle: "pkix.dhp.test", TTL: 300, TLSA: []records.TLSA{pkixEE}, DID: didKey(tb, w.pkix.leaf.PublicKey)}.ZoneText())
	return lines
}

// newResolver returns a validating resolver for the server's zones with
// the root's DS as trust anchor.
func newResolver(tb testing.TB, server *dnstest.Server, root *dnstest.Zone, policy resolve.Policy) *resolve.Resolver {
	tb.Helper()
	r, err := resolve.New(resolve.Config{
		Servers:      []string{server.Addr},
		TrustAnchors: root.DS(),
		Policy:       policy,
	})
	if err != nil {
		tb.Fatalf("resolve.New: %v", err)
	}
	return r
}

// verifier returns a Verifier on the world's resolver, changed by mods.
func (w *world) verifier(mods ...func(*Verifier)) *Verifier {
	v := &Verifier{Resolver: w.resolver, Timeout: 10 * time.Second}
	for _, mod := range mods {
		mod(v)
	}
	return v
}

// queriesFor returns the number of queries the server received for the
// handle's TLSA and TXT RRsets.
func (w *world) queriesFor(h string) int {
	h = strings.TrimSuffix(h, ".")
	return w.server.QueryCount(h+".", dns.TypeTLSA) + w.server.QueryCount("_atproto."+h+".", dns.TypeTXT)
}
