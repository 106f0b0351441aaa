package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// walkBatch is the number of rows WalkZone reads per query. WalkZone reads a
// zone in batches so that fn may run queries on the same transaction between
// batches, which a PostgreSQL connection cannot do while a result is open.
const walkBatch = 1024

const rrColumns = `name, type, covered, ttl, data, hash`

func scanRR(zone string) func(r row) (RR, error) {
	return func(r row) (RR, error) {
		rr := RR{Zone: zone}
		var typ, covered, ttl int64
		if err := r.Scan(&rr.Name, &typ, &covered, &ttl, &rr.Data, &rr.Hash); err != nil {
			return RR{}, err
		}
		rr.Type, rr.Covered, rr.TTL = uint16(typ), uint16(covered), uint32(ttl)
		return rr, nil
	}
}

// Zones implements Reader.
func (r *reader) Zones(ctx context.Context) ([]Zone, error) {
	scan := func(r row) (Zone, error) {
		var z Zone
		var serial int64
		err := r.Scan(&z.Name, &serial)
		z.Serial = uint32(serial)
		return z, err
	}
	list, err := collect(ctx, r.q, scan, `SELECT name, serial FROM zones ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list zones: %w", err)
	}
	return list, nil
}

// ZoneSerial implements Reader.
func (r *reader) ZoneSerial(ctx context.Context, zone string) (uint32, error) {
	zone = asciiLower(zone)
	var serial int64
	err := r.q.queryRow(ctx, `SELECT serial FROM zones WHERE name = $1`, zone).Scan(&serial)
	if err != nil {
		return 0, lookupError(err, "zone %s", zone)
	}
	return uint32(serial), nil
}

// LookupName implements Reader.
func (r *reader) LookupName(ctx context.Context, zone, name string) ([]RR, error) {
	zone = asciiLower(zone)
	key, err := lookupKey(name)
	if err != nil {
		return nil, err
	}
	list, err := collect(ctx, r.q, scanRR(zone),
		`SELECT `+rrColumns+` FROM records WHERE zone = $1 AND owner_key = $2 ORDER BY type, covered, data`, zone, key)
	if err != nil {
		return nil, fmt.Errorf("look up %s in zone %s: %w", name, zone, err)
	}
	return list, nil
}

// NSEC3 lookups, each one seek in the partial index records_nsec3: the
// record with the greatest hash not above $2, and the one with the greatest
// hash overall for when the chain wraps around.
const (
	nsec3AtOrBeforeQuery = `SELECT ` + rrColumns + ` FROM records WHERE zone = $1 AND type = 50 AND hash <= $2 ORDER BY hash DESC LIMIT 1`
	nsec3LastQuery       = `SELECT ` + rrColumns + ` FROM records WHERE zone = $1 AND type = 50 ORDER BY hash DESC LIMIT 1`
)

// LookupNSEC3 implements Reader.
func (r *reader) LookupNSEC3(ctx context.Context, zone, hash string) (RR, error) {
	zone = asciiLower(zone)
	rr, err := scanRR(zone)(r.q.queryRow(ctx, nsec3AtOrBeforeQuery, zone, asciiLower(hash)))
	if errors.Is(err, errNoRows) {
		// Every hash is greater: the last record covers hash.
		rr, err = scanRR(zone)(r.q.queryRow(ctx, nsec3LastQuery, zone))
	}
	if err != nil {
		return RR{}, lookupError(err, "NSEC3 record for hash %q in zone %s", hash, zone)
	}
	return rr, nil
}

// NameExistsBelow implements Reader.
func (r *reader) NameExistsBelow(ctx context.Context, zone, name string) (bool, error) {
	zone = asciiLower(zone)
	key, err := lookupKey(name)
	if err != nil {
		return false, err
	}

	query := `SELECT 1 FROM records WHERE zone = $1 AND owner_key > $2 AND owner_key < $3 LIMIT 1`
	args := []any{zone, key, subtreeEnd(key)}
	if len(key) == 0 {
		query = `SELECT 1 FROM records WHERE zone = $1 AND owner_key > $2 LIMIT 1`
		args = args[:2]
	}
	var one int64
	err = r.q.queryRow(ctx, query, args...).Scan(&one)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, errNoRows) {
		return false, nil
	}
	return false, fmt.Errorf("look for names below %s in zone %s: %w", name, zone, err)
}

// NamesBelow implements Reader.
func (r *reader) NamesBelow(ctx context.Context, zone, name string, limit int) ([]string, error) {
	zone = asciiLower(zone)
	key, err := lookupKey(name)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}

	// Type 50 is NSEC3: its owners are hash labels of the chain.
	const filter = ` AND type <> 50 AND covered <> 50 GROUP BY owner_key ORDER BY owner_key LIMIT `
	query := `SELECT MIN(name) FROM records WHERE zone = $1 AND owner_key > $2 AND owner_key < $3` + filter + `$4`
	args := []any{zone, key, subtreeEnd(key), limit}
	if len(key) == 0 {
		query = `SELECT MIN(name) FROM records WHERE zone = $1 AND owner_key > $2` + filter + `$3`
		args = []any{zone, key, limit}
	}
	names, err := collect(ctx, r.q, func(r row) (string, error) {
		var n string
		err := r.Scan(&n)
		return n, err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list names below %s in zone %s: %w", name, zone, err)
	}
	return names, nil
}

// WalkZone implements Reader.
func (r *reader) WalkZone(ctx context.Context, zone string, fn func(RR) error) error {
	zone = asciiLower(zone)
	return r.q.readTx(ctx, func(q querier) error {
		if _, err := (&reader{q: q}).ZoneSerial(ctx, zone); err != nil {
			return err
		}
		return walkRecords(ctx, q, zone, fn)
	})
}

// walkRecords reads the records of zone in batches of walkBatch rows. A
// batch ends at the last owner name it holds whole, and the next batch starts
// after that name, so every query is a range of the index on
// (zone, owner_key, ...).
func walkRecords(ctx context.Context, q querier, zone string, fn func(RR) error) error {
	var after []byte
	for {
		batch, err := recordBatch(ctx, q, zone, after)
		if err != nil {
			return err
		}
		if len(batch) < walkBatch {
			return emitRecords(batch, fn)
		}

		// The last name of a full batch may go on in the next rows: leave it
		// to the next batch, or read it alone when it fills the batch.
		last := lastNameStart(batch)
		if last == 0 {
			batch, err = nameRecords(ctx, q, zone, batch[0].key)
			if err != nil {
				return err
			}
			last = len(batch)
		}
		if err := emitRecords(batch[:last], fn); err != nil {
			return err
		}
		after = batch[last-1].key
	}
}

func emitRecords(batch []keyedRR, fn func(RR) error) error {
	for _, rec := range batch {
		if err := fn(rec.RR); err != nil {
			return err
		}
	}
	return nil
}

// keyedRR is an RR with the owner key it was read with.
type keyedRR struct {
	RR
	key []byte
}

const keyedColumns = `owner_key, ` + rrColumns

// recordBatch reads up to walkBatch records of zone in the order of
// WalkZone, after the owner key after, or from the start when after is nil.
func recordBatch(ctx context.Context, q querier, zone string, after []byte) ([]keyedRR, error) {
	query := `SELECT ` + keyedColumns + ` FROM records WHERE zone = $1 AND owner_key > $2 ORDER BY owner_key, type, covered, data LIMIT $3`
	args := []any{zone, after, walkBatch}
	if after == nil {
		query = `SELECT ` + keyedColumns + ` FROM records WHERE zone = $1 ORDER BY owner_key, type, covered, data LIMIT $2`
		args = []any{zone, walkBatch}
	}
	batch, err := collect(ctx, q, scanKeyedRR(zone), query, args...)
	if err != nil {
		return nil, fmt.Errorf("read records of zone %s: %w", zone, err)
	}
	return batch, nil
}

// nameRecords reads every record of one owner key in zone.
func nameRecords(ctx context.Context, q querier, zone string, key []byte) ([]keyedRR, error) {
	batch, err := collect(ctx, q, scanKeyedRR(zone),
		`SELECT `+keyedColumns+` FROM records WHERE zone = $1 AND owner_key = $2 ORDER BY type, covered, data`, zone, key)
	if err != nil {
		return nil, fmt.Errorf("read records of zone %s: %w", zone, err)
	}
	return batch, nil
}

func scanKeyedRR(zone string) func(r row) (keyedRR, error) {
	return func(r row) (keyedRR, error) {
		rec := keyedRR{RR: RR{Zone: zone}}
		var typ, covered, ttl int64
		err := r.Scan(&rec.key, &rec.Name, &typ, &covered, &ttl, &rec.Data, &rec.Hash)
		rec.Type, rec.Covered, rec.TTL = uint16(typ), uint16(covered), uint32(ttl)
		return rec, err
	}
}

// lastNameStart returns the index of the first record of the last owner name
// in batch.
func lastNameStart(batch []keyedRR) int {
	i := len(batch) - 1
	for i > 0 && bytes.Equal(batch[i-1].key, batch[i].key) {
		i--
	}
	return i
}

// ZoneKeys implements Reader.
func (r *reader) ZoneKeys(ctx context.Context, zone string) ([]ZoneKey, error) {
	zone = asciiLower(zone)
	scan := func(r row) (ZoneKey, error) {
		var k ZoneKey
		var flags, algorithm int64
		err := r.Scan(&k.Zone, &flags, &algorithm, &k.DNSKEY, &k.PrivateKey, nullTime{&k.CreatedAt})
		k.Flags, k.Algorithm = uint16(flags), uint8(algorithm)
		return k, err
	}
	// The SEP bit (value 1) marks key signing keys (RFC 4034, section 2.1.1).
	list, err := collect(ctx, r.q, scan,
		`SELECT zone, flags, algorithm, dnskey, private_key, created_at FROM zone_keys WHERE zone = $1 ORDER BY flags % 2 DESC, id`, zone)
	if err != nil {
		return nil, fmt.Errorf("read keys of zone %s: %w", zone, err)
	}
	return list, nil
}

// lookupKey returns the owner key of a name given to a lookup.
func lookupKey(name string) ([]byte, error) {
	if !dns.IsFqdn(name) {
		return nil, &InvalidNameError{Name: name, Reason: `is not fully qualified: add the trailing "."`}
	}
	return ownerKey(name)
}
