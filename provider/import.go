package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/dnsserver"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/records"
)

// importChunk is the number of identities ImportIdentities prepares (CSC,
// sealed key, records) before it writes them, so that preparing the next
// chunk runs while the store writes this one.
const importChunk = 2000

// ImportResult is the outcome of an ImportIdentities call.
type ImportResult struct {
	// Identities is the number of identities created.
	Identities int
	// Serials maps each zone that received records to its serial after
	// the import.
	Serials map[string]uint32
}

// ImportIdentities creates hosted identities for every handle of hs, as
// CreateIdentity would one by one, in a single store transaction: all are
// created or none. Their records go into the zones with one
// dnsserver.Import per zone, which builds the NSEC3 chain once for all of
// them instead of once per handle. progress, when not nil, is called after
// each chunk of identities is written, with the number written so far.
//
// Every handle must lie directly under a provider zone: own-domain
// identities need their owner to publish records, so they are created
// with CreateIdentity. A handle listed twice, or taken already, fails the
// whole import with an error wrapping store.ErrConflict.
//
// The transaction holds the store's single writer until it ends, so other
// changes wait, and a running `dnshandle serve` serves the new identities
// only after the commit. Each identity gets its own audit entry
// ("identity.import"). Memory grows by about 200 bytes a handle for the
// zone's name index, plus the records of one chunk.
func (s *Service) ImportIdentities(ctx context.Context, accountName string, hs []handle.Handle, opts IdentityOptions, progress func(done int)) (*ImportResult, error) {
	accountName = AccountName(accountName)
	acct, err := s.Store.AccountByName(ctx, accountName)
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", accountName, err)
	}
	oauth := ""
	if opts.OAuth != "" {
		if oauth, err = records.ParseOAuthIssuer(opts.OAuth); err != nil {
			return nil, err
		}
	}
	if err := s.checkImport(hs); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan importBatch, 1)
	go s.prepareImport(ctx, hs, opts, oauth, acct.ID, chunks)

	result := &ImportResult{Serials: map[string]uint32{}}
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		result.Identities = 0
		imports := map[string]*dnsserver.Import{}
		for batch := range chunks {
			if batch.err != nil {
				return batch.err
			}
			if err := s.writeImportBatch(ctx, tx, accountName, batch, imports); err != nil {
				return err
			}
			result.Identities += len(batch.identities)
			if progress != nil {
				progress(result.Identities)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for zone, imp := range imports {
			serial, err := imp.Finish()
			if err != nil {
				return err
			}
			result.Serials[zone] = serial
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("import: a handle is already taken: remove it from the list (%w)", err)
	}
	if err != nil {
		return nil, err
	}
	s.zonesChanged()
	return result, nil
}

// checkImport checks that each handle is hosted and listed once.
func (s *Service) checkImport(hs []handle.Handle) error {
	seen := make(map[handle.Handle]bool, len(hs))
	for _, h := range hs {
		if s.Config.ZoneFor(h.String()) == "" {
			return fmt.Errorf("import: handle %s is not directly under a provider zone: create own-domain identities one by one with CreateIdentity", h)
		}
		if seen[h] {
			return fmt.Errorf("import: handle %s is listed twice: %w", h, store.ErrConflict)
		}
		seen[h] = true
	}
	return nil
}

// importBatch is one chunk of prepared identities, or the error that
// stopped the preparation.
type importBatch struct {
	identities []*store.Identity
	zones      []string
	rrsets     []map[dnsserver.RRsetKey][]dns.RR
	err        error
}

// prepareImport makes the CSC, sealed key and records of each handle on
// every CPU, chunk by chunk, and sends the chunks in order. It closes out
// when done or when ctx ends.
func (s *Service) prepareImport(ctx context.Context, hs []handle.Handle, opts IdentityOptions, oauth string, accountID int64, out chan<- importBatch) {
	defer close(out)
	for start := 0; start < len(hs); start += importChunk {
		part := hs[start:min(start+importChunk, len(hs))]
		batch := importBatch{
			identities: make([]*store.Identity, len(part)),
			zones:      make([]string, len(part)),
			rrsets:     make([]map[dnsserver.RRsetKey][]dns.RR, len(part)),
		}
		errs := make([]error, len(part))
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(part); i += workers {
					batch.identities[i], batch.rrsets[i], errs[i] = s.prepareIdentity(part[i], opts, oauth, accountID)
					batch.zones[i] = s.Config.ZoneFor(part[i].String())
				}
			})
		}
		wg.Wait()
		batch.err = errors.Join(errs...)
		select {
		case out <- batch:
		case <-ctx.Done():
			return
		}
		if batch.err != nil {
			return
		}
	}
}

// prepareIdentity makes the identity row and the RRsets of one hosted
// handle, as CreateIdentity does.
func (s *Service) prepareIdentity(h handle.Handle, opts IdentityOptions, oauth string, accountID int64) (*store.Identity, map[dnsserver.RRsetKey][]dns.RR, error) {
	csc, err := pki.NewCSC(rand.Reader, h, pki.CSCOptions{KeyType: opts.KeyType, Now: s.Now})
	if err != nil {
		return nil, nil, fmt.Errorf("import %s: %w", h, err)
	}
	keyPEM, err := pki.EncodePrivateKey(csc.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("import %s: %w", h, err)
	}
	sealed, err := s.Sealer.Seal(keyPEM, "csc:"+h.String())
	if err != nil {
		return nil, nil, fmt.Errorf("import %s: %w", h, err)
	}
	set := records.HandleRecords{Handle: h, TTL: RecordTTL, OAuth: oauth, DID: csc.DID.String()}
	set.TLSA = []records.TLSA{records.CSCRecord(csc.Certificate)}
	rrsets, err := rrsetsOf(set)
	if err != nil {
		return nil, nil, err
	}
	id := &store.Identity{
		AccountID: accountID, Handle: h.String(), DID: set.DID,
		Hosted: true, Verified: true,
		CSCCert: csc.Certificate.Raw, CSCKey: sealed, CreatedAt: s.now(),
	}
	return id, rrsets, nil
}

// writeImportBatch stores the identities of batch with their audit
// entries and adds their records to the Import of their zone, which it
// opens on first use.
func (s *Service) writeImportBatch(ctx context.Context, tx store.Tx, accountName string, batch importBatch, imports map[string]*dnsserver.Import) error {
	byZone := map[string]map[dnsserver.RRsetKey][]dns.RR{}
	for i, id := range batch.identities {
		if err := tx.CreateIdentity(ctx, id); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("handle %s is already taken: %w", id.Handle, err)
			}
			return err
		}
		err := tx.AppendAudit(ctx, store.AuditEntry{At: s.now(), Actor: accountName, Action: "identity.import", Subject: id.Handle, Detail: id.DID})
		if err != nil {
			return err
		}
		zone := batch.zones[i]
		if byZone[zone] == nil {
			byZone[zone] = map[dnsserver.RRsetKey][]dns.RR{}
		}
		for k, v := range batch.rrsets[i] {
			byZone[zone][k] = v
		}
	}
	for zone, sets := range byZone {
		imp := imports[zone]
		if imp == nil {
			var err error
			if imp, err = s.Signer.NewImport(ctx, tx, zone); err != nil {
				return err
			}
			imports[zone] = imp
		}
		if err := imp.Add(sets); err != nil {
			return err
		}
	}
	return nil
}
