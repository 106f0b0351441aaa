package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// insertBatch is the number of records UpdateZone adds per INSERT statement.
// 128 rows of 8 parameters stay far below the parameter limits of SQLite
// (32766) and PostgreSQL (65535).
const insertBatch = 128

// CreateZone implements Tx.
func (t *txn) CreateZone(ctx context.Context, zone string, serial uint32) error {
	zone, err := normalizeName(zone)
	if err != nil {
		return fmt.Errorf("create zone: %w", err)
	}
	n, err := t.q.exec(ctx, `INSERT INTO zones (name, serial, journal_seq, journal_weight) VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING`,
		zone, int64(serial))
	return insertError(n, err, "create zone %s", zone)
}

// PutZoneKey implements Tx.
func (t *txn) PutZoneKey(ctx context.Context, k ZoneKey) error {
	zone, err := normalizeName(k.Zone)
	if err != nil {
		return fmt.Errorf("store zone key: %w", err)
	}
	n, err := t.q.exec(ctx, `INSERT INTO zone_keys (zone, flags, algorithm, dnskey, private_key, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		zone, int64(k.Flags), int64(k.Algorithm), k.DNSKEY, k.PrivateKey, nowOr(k.CreatedAt))
	if errors.Is(err, errForeignKey) {
		return fmt.Errorf("store key of zone %s: %w", zone, ErrNotFound)
	}
	return insertError(n, err, "store key %q of zone %s", k.DNSKEY, zone)
}

// storedRR is an RR checked for UpdateZone, with its owner key.
type storedRR struct {
	RR
	key []byte
}

// UpdateZone implements Tx.
func (t *txn) UpdateZone(ctx context.Context, zone string, deleted, added []RR) (uint32, error) {
	zone, err := normalizeName(zone)
	if err != nil {
		return 0, fmt.Errorf("update zone: %w", err)
	}
	del, err := checkRecords(zone, deleted)
	if err != nil {
		return 0, err
	}
	add, err := checkRecords(zone, added)
	if err != nil {
		return 0, err
	}

	// RFC 1982 serial arithmetic: adding 1 to 4294967295 gives 0.
	var serial, seq, weight int64
	err = t.q.queryRow(ctx, `UPDATE zones SET serial = (serial + 1) % 4294967296, journal_seq = journal_seq + 1
		WHERE name = $1 RETURNING serial, journal_seq, journal_weight`, zone).Scan(&serial, &seq, &weight)
	if err != nil {
		return 0, lookupError(err, "zone %s", zone)
	}

	gone, err := t.deleteRecords(ctx, zone, del)
	if err != nil {
		return 0, err
	}
	if err := t.insertRecords(ctx, zone, add); err != nil {
		return 0, err
	}

	step := Diff{FromSerial: uint32(serial) - 1, ToSerial: uint32(serial), Deleted: gone, Added: make([]RR, len(add))}
	for i := range add {
		step.Added[i] = add[i].RR
	}
	if err := t.appendJournal(ctx, zone, seq, weight, step); err != nil {
		return 0, err
	}
	return uint32(serial), nil
}

// checkRecords checks records given to UpdateZone and normalizes their
// names. It returns an *InvalidRecordError for the first bad record.
func checkRecords(zone string, records []RR) ([]storedRR, error) {
	zoneKey, err := ownerKey(zone)
	if err != nil {
		return nil, err
	}
	out := make([]storedRR, len(records))
	for i, rr := range records {
		bad := func(reason string) error { return &InvalidRecordError{RR: rr, Reason: reason} }
		if rr.Zone == "" {
			rr.Zone = zone
		}
		if asciiLower(rr.Zone) != zone {
			return nil, bad("the record names another zone than " + zone)
		}
		rr.Zone = zone
		if rr.Name, err = normalizeName(rr.Name); err != nil {
			return nil, bad(err.Error())
		}
		key, err := ownerKey(rr.Name)
		if err != nil {
			return nil, bad(err.Error())
		}
		if !inSubtree(zoneKey, key) {
			return nil, bad("the owner is outside the zone")
		}
		if reason := checkTypes(&rr); reason != "" {
			return nil, bad(reason)
		}
		out[i] = storedRR{RR: rr, key: key}
	}
	return out, nil
}

// checkTypes checks Type, Covered and Hash of rr and fills in the Hash of an
// NSEC3 record. It returns what is wrong, or "".
func checkTypes(rr *RR) string {
	switch {
	case rr.Type == 0:
		return "the type is 0"
	case rr.Type == dns.TypeRRSIG && rr.Covered == 0:
		return "an RRSIG needs the type it covers in Covered"
	case rr.Type != dns.TypeRRSIG && rr.Covered != 0:
		return "Covered is only for RRSIG records"
	case rr.Type != dns.TypeNSEC3 && rr.Hash != "":
		return "Hash is only for NSEC3 records"
	}
	if rr.Type != dns.TypeNSEC3 {
		return ""
	}
	// RFC 5155, section 3: the owner's first label is the hash in base32hex.
	first, _, _ := strings.Cut(rr.Name, ".")
	if rr.Hash == "" {
		rr.Hash = first
	}
	if rr.Hash = asciiLower(rr.Hash); rr.Hash != first {
		return "Hash " + strconv.Quote(rr.Hash) + " differs from the owner's first label"
	}
	return ""
}

// deleteRecords deletes records and returns them as they were stored, with
// their stored TTL.
func (t *txn) deleteRecords(ctx context.Context, zone string, del []storedRR) ([]RR, error) {
	gone := make([]RR, 0, len(del))
	for _, rr := range del {
		var ttl int64
		err := t.q.queryRow(ctx, `DELETE FROM records WHERE zone = $1 AND owner_key = $2 AND type = $3 AND covered = $4 AND data = $5
			RETURNING ttl`, zone, rr.key, int64(rr.Type), int64(rr.Covered), rr.Data).Scan(&ttl)
		if errors.Is(err, errNoRows) {
			return nil, fmt.Errorf("update zone %s: delete %s %s %q: %w", zone, rr.Name, dns.TypeToString[rr.Type], rr.Data, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("update zone %s: delete %s %s: %w", zone, rr.Name, dns.TypeToString[rr.Type], err)
		}
		stored := rr.RR
		stored.TTL = uint32(ttl)
		gone = append(gone, stored)
	}
	return gone, nil
}

// insertRecords adds records in batches of insertBatch rows. A record that
// exists already is skipped by the database and reported as ErrConflict.
func (t *txn) insertRecords(ctx context.Context, zone string, add []storedRR) error {
	// Inserting in key order writes neighboring index pages one after the
	// other, instead of all over the index.
	add = slices.Clone(add)
	slices.SortFunc(add, func(a, b storedRR) int { return bytes.Compare(a.key, b.key) })

	for start := 0; start < len(add); start += insertBatch {
		batch := add[start:min(start+insertBatch, len(add))]

		var sql strings.Builder
		sql.WriteString(`INSERT INTO records (zone, owner_key, name, type, covered, ttl, data, hash) VALUES `)
		args := make([]any, 0, 8*len(batch))
		for i, rr := range batch {
			if i > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString("(")
			for j, v := range []any{zone, rr.key, rr.Name, int64(rr.Type), int64(rr.Covered), int64(rr.TTL), rr.Data, rr.Hash} {
				if j > 0 {
					sql.WriteString(", ")
				}
				args = append(args, v)
				sql.WriteString(t.q.placeholder(len(args)))
			}
			sql.WriteString(")")
		}
		sql.WriteString(` ON CONFLICT DO NOTHING RETURNING owner_key, type, covered, data`)

		inserted, err := collect(ctx, t.q, scanIdentityOfRR, sql.String(), args...)
		if err != nil {
			return fmt.Errorf("update zone %s: add records: %w", zone, err)
		}
		if len(inserted) == len(batch) {
			continue
		}
		return conflictingRecord(zone, batch, inserted)
	}
	return nil
}

// rrIdentity is the part of a record that identifies it: owner key, type,
// covered type and data, but not the TTL.
type rrIdentity struct {
	key          string
	typ, covered int64
	data         string
}

func scanIdentityOfRR(r row) (rrIdentity, error) {
	var id rrIdentity
	var key []byte
	err := r.Scan(&key, &id.typ, &id.covered, &id.data)
	id.key = string(key)
	return id, err
}

// conflictingRecord returns the ErrConflict error for the first record of
// batch that the INSERT did not add.
func conflictingRecord(zone string, batch []storedRR, inserted []rrIdentity) error {
	added := make(map[rrIdentity]bool, len(inserted))
	for _, id := range inserted {
		added[id] = true
	}
	for _, rr := range batch {
		id := rrIdentity{key: string(rr.key), typ: int64(rr.Type), covered: int64(rr.Covered), data: rr.Data}
		if !added[id] {
			return fmt.Errorf("update zone %s: add %s %s %q: exists already: %w", zone, rr.Name, dns.TypeToString[rr.Type], rr.Data, ErrConflict)
		}
		// A record given twice in one batch is added once.
		delete(added, id)
	}
	return fmt.Errorf("update zone %s: the database added fewer records than given: %w", zone, ErrConflict)
}
