package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/dnsserver"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// RecordTTL is the TTL, in seconds, of the records the provider publishes
// for a handle. It bounds how long relying parties cache a change.
const RecordTTL = 300

// Service carries out the provider's operations on accounts, identities
// and zones. Each operation that changes state is one store transaction
// with its audit entry, so a crash leaves either all of it or none.
type Service struct {
	Store  store.Store
	Sealer *store.Sealer
	Signer *dnsserver.Signer
	Config *Config
	// Resolver checks the records of handles under the user's own domain;
	// nil disables CheckIdentity.
	Resolver *resolve.Resolver
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	// issuer is the OpenID provider's issuer once Serve listens.
	issuer string

	// zoneChange wakes Serve's zone watcher after this process changed a
	// zone, so that NOTIFY goes out without waiting for the next poll.
	zoneChangeOnce sync.Once
	zoneChange     chan struct{}
	// notifyPoll replaces NotifyPollInterval when set, for tests.
	notifyPoll time.Duration
}

// zoneChanges returns the channel of zoneChange, made at the first call.
func (s *Service) zoneChanges() chan struct{} {
	s.zoneChangeOnce.Do(func() { s.zoneChange = make(chan struct{}, 1) })
	return s.zoneChange
}

// zonesChanged signals a running Serve that this process changed a zone. It
// never blocks: a signal that is already pending covers this change too.
func (s *Service) zonesChanged() {
	select {
	case s.zoneChanges() <- struct{}{}:
	default:
	}
}

// AccountName returns the stored form of an account name: without
// surrounding white space, in lowercase.
func AccountName(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// EnsureZones creates the configured zones that the store does not have
// yet, with their keys, SOA, NS and DNSSEC records, and returns their
// names. In every configured zone, new or not, it sets the NS RRset and
// the SOA's name server and email from the configuration. It also sets
// the signed A and AAAA records of the name servers inside the zone that
// have nameserver_addresses. So a zone follows a configuration that
// changed after its creation. Each zone is one transaction, and a zone
// whose records are already as configured is not written.
func (s *Service) EnsureZones(ctx context.Context) ([]string, error) {
	existing, err := s.Store.Zones(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, z := range existing {
		have[z.Name] = true
	}
	var created []string
	for _, z := range s.Config.DNS.Zones {
		glue, err := glueRRsets(z)
		if err != nil {
			return created, err
		}
		err = s.Store.InTx(ctx, func(tx store.Tx) error {
			if !have[z.Name] {
				if err := s.createZone(ctx, tx, z); err != nil {
					return err
				}
			} else if err := s.updateApex(ctx, tx, z); err != nil {
				return err
			}
			if len(glue) == 0 {
				return nil
			}
			_, err := s.publishGlue(ctx, tx, z, glue)
			return err
		})
		if err != nil {
			return created, fmt.Errorf("zone %s: %w", z.Name, err)
		}
		if !have[z.Name] {
			created = append(created, z.Name)
		}
	}
	return created, nil
}

// updateApex sets the NS RRset and the SOA names of the existing zone z to
// its configured nameservers and email within tx, with an audit entry when
// they changed.
func (s *Service) updateApex(ctx context.Context, tx store.Tx, z ZoneConfig) error {
	before, err := tx.ZoneSerial(ctx, z.Name)
	if err != nil {
		return err
	}
	dropped, err := droppedNameservers(ctx, tx, z)
	if err != nil {
		return err
	}
	after, err := s.Signer.SetApex(ctx, tx, z.Name, z.Nameservers, z.Email)
	if err != nil {
		return fmt.Errorf("update the name servers: %w", err)
	}
	if len(dropped) > 0 {
		// The addresses of a name server that left the NS RRset are
		// glue no more.
		sets := map[dnsserver.RRsetKey][]dns.RR{}
		for _, name := range dropped {
			sets[dnsserver.RRsetKey{Name: name, Type: dns.TypeA}] = nil
			sets[dnsserver.RRsetKey{Name: name, Type: dns.TypeAAAA}] = nil
		}
		if after, err = s.Signer.ReplaceRRsets(ctx, tx, z.Name, sets); err != nil {
			return fmt.Errorf("remove the addresses of former name servers: %w", err)
		}
	}
	if after == before {
		return nil
	}
	return tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: "system", Action: "zone.apex",
		Subject: z.Name, Detail: "nameservers " + strings.Join(z.Nameservers, " ") + ", email " + z.Email})
}

// droppedNameservers returns the name servers inside zone z that its
// stored NS RRset names and its configuration no longer does.
func droppedNameservers(ctx context.Context, tx store.Tx, z ZoneConfig) ([]string, error) {
	rows, err := tx.LookupName(ctx, z.Name, z.Name)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, row := range rows {
		if row.Type != dns.TypeNS {
			continue
		}
		host := dns.CanonicalName(strings.TrimSpace(row.Data))
		if dns.IsSubDomain(z.Name, host) && !slices.Contains(z.Nameservers, host) && !slices.Contains(dropped, host) {
			dropped = append(dropped, host)
		}
	}
	return dropped, nil
}

// createZone creates the zone z within tx, with its audit entry.
func (s *Service) createZone(ctx context.Context, tx store.Tx, z ZoneConfig) error {
	if err := s.Signer.CreateZone(ctx, tx, z.Name, z.Nameservers, z.Email); err != nil {
		return fmt.Errorf("create the zone: %w", err)
	}
	return tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: "system", Action: "zone.create", Subject: z.Name})
}

// CreateAccount stores a new account with an argon2id hash of password.
// The name is stored in lowercase, as the web pages sign in with it.
func (s *Service) CreateAccount(ctx context.Context, name, password string) (*store.Account, error) {
	name = AccountName(name)
	if name == "" {
		return nil, errors.New("account name is empty")
	}
	if len(password) < 12 {
		return nil, errors.New("password is shorter than 12 characters: choose a longer one")
	}
	hash, err := store.HashPassword(password)
	if err != nil {
		return nil, err
	}
	acct := &store.Account{Name: name, PasswordHash: hash, CreatedAt: s.now()}
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, acct); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: name, Action: "account.create", Subject: name})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, &TakenError{Message: fmt.Sprintf("account %q already exists: choose another name", name)}
	}
	return acct, err
}

// IdentityOptions are the optional attributes of a new identity.
type IdentityOptions struct {
	// OAuth is the issuer published as oauth= (host or https URL).
	OAuth string
	// KeyType is the CSC key type; empty means P-256.
	KeyType pki.KeyType
}

// NewIdentity is a created identity with the records to publish.
type NewIdentity struct {
	Identity *store.Identity
	// Records are the handle's records. For a hosted handle they are
	// already in the provider's zone. For an own domain the user publishes
	// them, then CheckIdentity marks the identity verified.
	Records records.HandleRecords
	// Serial is the zone serial after the change; 0 for own domains.
	Serial uint32
}

// CreateIdentity creates the identity h for the account: its CSC and key
// (sealed at rest), its did:key, and, for a handle directly under a
// provider zone, its TLSA and TXT records, signed and in the zone. All of
// it is one transaction: an identity never exists without its records.
func (s *Service) CreateIdentity(ctx context.Context, accountName string, h handle.Handle, opts IdentityOptions) (*NewIdentity, error) {
	accountName = AccountName(accountName)
	acct, err := s.Store.AccountByName(ctx, accountName)
	if err != nil {
		return nil, lookupError(fmt.Sprintf("account %q", accountName), err)
	}
	set := records.HandleRecords{Handle: h, TTL: RecordTTL}
	if opts.OAuth != "" {
		if set.OAuth, err = records.ParseOAuthIssuer(opts.OAuth); err != nil {
			return nil, err
		}
	}

	csc, err := pki.NewCSC(rand.Reader, h, pki.CSCOptions{KeyType: opts.KeyType, Now: s.Now})
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.EncodePrivateKey(csc.Key)
	if err != nil {
		return nil, err
	}
	sealed, err := s.Sealer.Seal(keyPEM, "csc:"+h.String())
	if err != nil {
		return nil, err
	}
	set.DID = csc.DID.String()
	set.TLSA = []records.TLSA{records.CSCRecord(csc.Certificate)}

	zone := s.Config.ZoneFor(h.String())
	if zone != "" {
		if _, err := s.Store.ZoneSerial(ctx, zone); errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("zone %s is configured but not created yet: start dnshandle serve, or run dnshandle admin zone create, then create the identity: %w", zone, err)
		}
	}
	id := &store.Identity{
		AccountID: acct.ID, Handle: h.String(), DID: set.DID,
		Hosted: zone != "", Verified: zone != "",
		CSCCert: csc.Certificate.Raw, CSCKey: sealed, CreatedAt: s.now(),
	}
	out := &NewIdentity{Identity: id, Records: set}
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdentity(ctx, id); err != nil {
			return err
		}
		if zone != "" {
			rrsets, err := rrsetsOf(set)
			if err != nil {
				return err
			}
			if out.Serial, err = s.Signer.ReplaceRRsets(ctx, tx, zone, rrsets); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: accountName, Action: "identity.create", Subject: h.String(), Detail: set.DID})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, &TakenError{Message: fmt.Sprintf("handle %s is already taken: choose another handle", h)}
	}
	if err != nil {
		return nil, err
	}
	if zone != "" {
		s.zonesChanged()
	}
	return out, nil
}

// rrsetsOf turns a handle's records into the RRsets the signer replaces.
func rrsetsOf(set records.HandleRecords) (map[dnsserver.RRsetKey][]dns.RR, error) {
	rrsets := map[dnsserver.RRsetKey][]dns.RR{}
	zp := dns.NewZoneParser(strings.NewReader(set.ZoneText()), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		key := dnsserver.RRsetKey{Name: strings.ToLower(rr.Header().Name), Type: rr.Header().Rrtype}
		rrsets[key] = append(rrsets[key], rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("records of %s: %w", set.Handle, err)
	}
	return rrsets, nil
}

// CheckIdentity resolves a handle under the user's own domain and marks
// it verified when its TLSA record accredits the identity's CSC and its
// did= record names the identity's DID. It returns the problems found.
func (s *Service) CheckIdentity(ctx context.Context, h handle.Handle) ([]string, error) {
	if s.Resolver == nil {
		return nil, errors.New("no resolver configured to check own-domain handles")
	}
	id, err := s.Store.IdentityByHandle(ctx, h.String())
	if err != nil {
		return nil, lookupError("identity "+h.String(), err)
	}
	res, err := s.Resolver.Resolve(ctx, h)
	problems := resolve.Diagnose(res, err)
	if res != nil && err == nil {
		problems = append(problems, checkPublished(id, res)...)
	}
	verified := len(problems) == 0
	if verified != id.Verified {
		err := s.Store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.SetIdentityVerified(ctx, id.ID, verified); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: "system", Action: "identity.verify", Subject: h.String(), Detail: fmt.Sprint(verified)})
		})
		if err != nil {
			return problems, err
		}
	}
	return problems, nil
}

// checkPublished compares the resolved records with the identity.
func checkPublished(id *store.Identity, res *resolve.Result) []string {
	var problems []string
	if res.ATProto.DID != id.DID {
		problems = append(problems, fmt.Sprintf("did= at %s is %q, want %q", res.ATProtoInfo.Name, res.ATProto.DID, id.DID))
	}
	cert, err := parseCertificate(id.CSCCert)
	if err != nil {
		return append(problems, err.Error())
	}
	want := records.CSCRecord(cert).String()
	for _, t := range res.TLSA {
		if t.String() == want {
			return problems
		}
	}
	return append(problems, fmt.Sprintf("no TLSA record at %s accredits this identity's CSC: publish %q", res.TLSAInfo.Name, res.TLSAInfo.Name+" IN TLSA "+want))
}

// LoadCSC returns the CSC of the identity h with its private key unsealed,
// for issuing device certificates and CRLs.
func (s *Service) LoadCSC(ctx context.Context, h handle.Handle) (*pki.CSC, error) {
	id, err := s.Store.IdentityByHandle(ctx, h.String())
	if err != nil {
		return nil, lookupError("identity "+h.String(), err)
	}
	cert, err := parseCertificate(id.CSCCert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := s.Sealer.Open(id.CSCKey, "csc:"+id.Handle)
	if err != nil {
		return nil, fmt.Errorf("unseal the CSC key of %s: %w", h, err)
	}
	key, err := pki.DecodePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CSC key of %s: %w", h, err)
	}
	return pki.LoadCSC(cert, key)
}

// TakenError reports a name that another account or identity has. It
// wraps store.ErrConflict.
type TakenError struct {
	Message string
}

func (e *TakenError) Error() string { return e.Message }

// Unwrap returns store.ErrConflict.
func (e *TakenError) Unwrap() error { return store.ErrConflict }
