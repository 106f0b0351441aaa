package dnsserver

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/provider/store"
)

// ImportStepRows is the number of rows an Import writes with one
// store.Tx.UpdateZone call. Each call is one journal step, so the bound
// keeps a step to a few tens of megabytes of journal.
const ImportStepRows = 50000

// Import adds many new RRsets to a zone in one transaction and builds the
// NSEC3 chain once for all of them, where ReplaceRRsets would update the
// chain name by name. Make one with Signer.NewImport, call Add as often as
// needed, then Finish; the caller commits the transaction afterwards.
//
// Add signs the new RRsets and writes them at once, in journal steps of
// at most ImportStepRows rows; Finish writes the NSEC3 records that
// change and, last, the SOA with the final serial. The steps in between
// are never visible to readers, which read the transaction only once it
// commits. A secondary that requests IXFR from a serial before the import
// gets a full transfer once the journal limit drops the early steps.
//
// An Import keeps the type list of every owner name of the zone and the
// stored NSEC3 records in memory: about 100 bytes a name, plus the rows
// of one step. It is not safe for concurrent use.
type Import struct {
	signer                *Signer
	ctx                   context.Context
	tx                    store.Tx
	zone                  string
	keys                  *zoneKeys
	inception, expiration time.Time

	types    map[string][]uint16     // types of every owner name, NSEC3 owners excluded
	oldChain map[string]*storedNSEC3 // stored NSEC3 records by hash
	soa      []store.RR              // the stored SOA and its RRSIGs
	pending  []store.RR
	stepRows int // rows per UpdateZone call; ImportStepRows but in tests
	added    int
	finished bool
}

// storedNSEC3 is an NSEC3 record as stored, with its signatures.
type storedNSEC3 struct {
	record store.RR
	sigs   []store.RR
}

// NewImport reads the zone within tx (the type list of each owner name and
// the NSEC3 chain) and returns an Import that adds RRsets to it. It
// returns a *ZoneError for a zone that does not exist or lacks its SOA,
// and a *KeyError when the zone keys cannot be opened.
func (s *Signer) NewImport(ctx context.Context, tx store.Tx, zone string) (*Import, error) {
	if s.Sealer == nil {
		return nil, &ZoneError{Zone: zone, Reason: "Signer.Sealer is nil: the zone keys cannot be opened"}
	}
	zone, err := canonicalZone(zone)
	if err != nil {
		return nil, err
	}
	keys, err := s.loadKeys(ctx, tx, zone)
	if err != nil {
		return nil, err
	}
	inception, expiration := s.window()
	imp := &Import{
		signer: s, ctx: ctx, tx: tx, zone: zone, keys: keys,
		inception: inception, expiration: expiration,
		types:    map[string][]uint16{},
		oldChain: map[string]*storedNSEC3{},
		stepRows: ImportStepRows,
	}
	err = tx.WalkZone(ctx, zone, imp.readRow)
	if err != nil {
		return nil, &ZoneError{Zone: zone, Reason: "reading the zone failed", Err: err}
	}
	if soas, _ := rrsetRows(imp.soa, dns.TypeSOA); len(soas) != 1 {
		return nil, &ZoneError{Zone: zone, Reason: fmt.Sprintf("apex holds %d SOA records, want 1", len(soas))}
	}
	return imp, nil
}

// readRow files one stored row of the zone.
func (imp *Import) readRow(r store.RR) error {
	switch {
	case r.Type == dns.TypeNSEC3:
		imp.chainEntry(r.Hash).record = r
	case r.Type == dns.TypeRRSIG && r.Covered == dns.TypeNSEC3:
		hash, _, _ := strings.Cut(r.Name, ".")
		e := imp.chainEntry(hash)
		e.sigs = append(e.sigs, r)
	case r.Type == dns.TypeSOA || (r.Type == dns.TypeRRSIG && r.Covered == dns.TypeSOA):
		imp.soa = append(imp.soa, r)
		if r.Type == dns.TypeSOA {
			imp.addType(r.Name, r.Type)
		}
	case r.Type != dns.TypeRRSIG:
		imp.addType(r.Name, r.Type)
	}
	return nil
}

func (imp *Import) chainEntry(hash string) *storedNSEC3 {
	e := imp.oldChain[hash]
	if e == nil {
		e = &storedNSEC3{}
		imp.oldChain[hash] = e
	}
	return e
}

func (imp *Import) addType(name string, t uint16) {
	if !slices.Contains(imp.types[name], t) {
		imp.types[name] = append(imp.types[name], t)
	}
}

// Add signs the given RRsets and writes them to the zone. Each must be new
// at its name: Add returns a *RecordError for an RRset that exists (use
// ReplaceRRsets to change one), for a CNAME beside other data (RFC 2181,
// section 10.1) and for every record ReplaceRRsets rejects. An empty
// RRset is an error too, since Import only adds.
func (imp *Import) Add(rrsets map[RRsetKey][]dns.RR) error {
	if imp.finished {
		return &ZoneError{Zone: imp.zone, Reason: "Import.Add called after Finish"}
	}
	sets, err := normalizeRRsets(imp.zone, rrsets)
	if err != nil {
		return err
	}
	keys := make([]RRsetKey, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b RRsetKey) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type))
	})
	for _, k := range keys {
		if err := imp.checkNew(k, sets[k]); err != nil {
			return err
		}
	}
	for _, k := range keys {
		imp.addType(k.Name, k.Type)
	}

	ordered := make([][]dns.RR, len(keys))
	for i, k := range keys {
		ordered[i] = sets[k]
	}
	rows, err := imp.signAll(ordered)
	if err != nil {
		return err
	}
	imp.pending = append(imp.pending, rows...)
	imp.added += len(keys)
	return imp.flush(false)
}

// checkNew checks that the RRset key with records set may be added.
func (imp *Import) checkNew(k RRsetKey, set []dns.RR) error {
	bad := func(reason string) error {
		return &RecordError{Zone: imp.zone, Name: k.Name, Type: k.Type, Reason: reason}
	}
	have := imp.types[k.Name]
	switch {
	case len(set) == 0:
		return bad("empty RRset: Import only adds RRsets; delete with ReplaceRRsets")
	case slices.Contains(have, k.Type):
		return bad("the RRset exists already: Import only adds RRsets; change it with ReplaceRRsets")
	case k.Type == dns.TypeCNAME && len(have) > 0, k.Type != dns.TypeCNAME && slices.Contains(have, dns.TypeCNAME):
		// RFC 2181, section 10.1: a CNAME owner owns no other data.
		return bad("a CNAME cannot share its owner with other RRsets")
	}
	return nil
}

// signAll signs each RRset on every CPU and returns the rows of all of
// them, records and RRSIGs, in the order of sets.
func (imp *Import) signAll(sets [][]dns.RR) ([]store.RR, error) {
	out := make([][]store.RR, len(sets))
	errs := make([]error, len(sets))
	var next sync.Mutex
	i := 0
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= len(sets) {
					return
				}
				out[j], errs[j] = signSet(imp.zone, imp.keys, sets[j], imp.inception, imp.expiration)
			}
		})
	}
	workers.Wait()

	var rows []store.RR
	for j := range sets {
		if errs[j] != nil {
			return nil, errs[j]
		}
		rows = append(rows, out[j]...)
	}
	return rows, nil
}

// flush writes the pending rows in steps of imp.stepRows rows. It keeps
// a last, shorter part for later unless all is set.
func (imp *Import) flush(all bool) error {
	for len(imp.pending) >= imp.stepRows || (all && len(imp.pending) > 0) {
		n := min(len(imp.pending), imp.stepRows)
		if _, err := imp.tx.UpdateZone(imp.ctx, imp.zone, nil, imp.pending[:n]); err != nil {
			return &ZoneError{Zone: imp.zone, Reason: "storing imported records failed", Err: err}
		}
		imp.pending = imp.pending[n:]
	}
	if len(imp.pending) == 0 {
		imp.pending = nil
	}
	return nil
}

// Finish writes the rows Add left pending, the NSEC3 records that change
// and the SOA with the final serial, and returns that serial. The chain
// is built over every owner name of the zone, empty non-terminals
// included (RFC 5155, section 7.1). Without any Add it writes
// nothing and returns the current serial.
func (imp *Import) Finish() (uint32, error) {
	if imp.finished {
		return 0, &ZoneError{Zone: imp.zone, Reason: "Import.Finish called twice"}
	}
	imp.finished = true
	if imp.added == 0 {
		serial, err := imp.tx.ZoneSerial(imp.ctx, imp.zone)
		if err != nil {
			return 0, &ZoneError{Zone: imp.zone, Reason: "reading the zone serial failed", Err: err}
		}
		return serial, nil
	}
	if err := imp.flush(true); err != nil {
		return 0, err
	}
	if err := imp.writeChain(); err != nil {
		return 0, err
	}
	return imp.writeSOA()
}

// importLink is one name of the new chain: its hash and types.
type importLink struct {
	hash  string
	types []uint16
}

// writeChain builds the NSEC3 chain over every name and writes the
// records that differ from the stored ones, deleting those replaced.
func (imp *Import) writeChain() error {
	ttl, err := imp.nsec3TTL()
	if err != nil {
		return err
	}
	links := imp.links()

	var deleted []store.RR
	var changed [][]dns.RR
	write := func() error {
		rows, err := imp.signAll(changed)
		if err != nil {
			return err
		}
		if _, err := imp.tx.UpdateZone(imp.ctx, imp.zone, deleted, rows); err != nil {
			return &ZoneError{Zone: imp.zone, Reason: "storing the NSEC3 chain failed", Err: err}
		}
		deleted, changed = nil, nil
		return nil
	}
	for i, l := range links {
		next := links[(i+1)%len(links)].hash
		rec := newNSEC3(imp.zone, l.hash, next, typeBitmap(l.types), ttl)
		old := imp.oldChain[l.hash]
		delete(imp.oldChain, l.hash)
		if old != nil && old.record.Data == rdataText(rec) && old.record.TTL == ttl {
			continue
		}
		if old != nil {
			deleted = append(deleted, old.rows()...)
		}
		changed = append(changed, []dns.RR{rec})
		// Each NSEC3 record makes two rows, itself and its RRSIG.
		if 2*len(changed)+len(deleted) >= imp.stepRows {
			if err := write(); err != nil {
				return err
			}
		}
	}
	// Stored records whose hash no name has any more.
	for _, old := range imp.oldChain {
		deleted = append(deleted, old.rows()...)
	}
	if len(changed) == 0 && len(deleted) == 0 {
		return nil
	}
	return write()
}

func (s *storedNSEC3) rows() []store.RR {
	var out []store.RR
	if s.record.Name != "" {
		out = append(out, s.record)
	}
	return append(out, s.sigs...)
}

// links returns every name of the chain, with its types, in hash order:
// the owner names, the empty non-terminals above them and the apex.
func (imp *Import) links() []importLink {
	for name := range imp.types {
		for _, a := range ancestorsBelow(imp.zone, name) {
			if _, ok := imp.types[a]; !ok {
				imp.types[a] = nil
			}
		}
	}
	names := make([]string, 0, len(imp.types))
	for name := range imp.types {
		names = append(names, name)
	}
	links := make([]importLink, len(names))
	parallel(len(names), func(i int) {
		links[i] = importLink{hash: hashName(names[i]), types: imp.types[names[i]]}
	})
	slices.SortFunc(links, func(a, b importLink) int { return strings.Compare(a.hash, b.hash) })
	return links
}

// parallel calls fn(i) for i in [0, n) on every CPU.
func parallel(n int, fn func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// nsec3TTL returns the TTL of NSEC3 records from the stored SOA.
func (imp *Import) nsec3TTL() (uint32, error) {
	soa, err := imp.storedSOA()
	if err != nil {
		return 0, err
	}
	return nsec3TTL(soa), nil
}

func (imp *Import) storedSOA() (*dns.SOA, error) {
	soas, _ := rrsetRows(imp.soa, dns.TypeSOA)
	rr, err := fromStoreRR(soas[0])
	if err != nil {
		return nil, err
	}
	return rr.(*dns.SOA), nil
}

// writeSOA replaces the SOA with one carrying the serial of the step that
// writes it, signed, and returns that serial.
func (imp *Import) writeSOA() (uint32, error) {
	serial, err := imp.tx.ZoneSerial(imp.ctx, imp.zone)
	if err != nil {
		return 0, &ZoneError{Zone: imp.zone, Reason: "reading the zone serial failed", Err: err}
	}
	soa, err := imp.storedSOA()
	if err != nil {
		return 0, err
	}
	// UpdateZone adds 1 in RFC 1982 serial arithmetic, wrapping at 2^32.
	soa.Serial = serial + 1
	signed, err := signSet(imp.zone, imp.keys, []dns.RR{soa}, imp.inception, imp.expiration)
	if err != nil {
		return 0, err
	}
	got, err := imp.tx.UpdateZone(imp.ctx, imp.zone, imp.soa, signed)
	if err != nil {
		return 0, &ZoneError{Zone: imp.zone, Reason: "storing the SOA failed", Err: err}
	}
	if got != soa.Serial {
		return 0, &ZoneError{Zone: imp.zone, Reason: fmt.Sprintf("store chose serial %d but the SOA was signed with serial %d", got, soa.Serial)}
	}
	return got, nil
}
