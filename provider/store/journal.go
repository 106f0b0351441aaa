package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// DefaultJournalLimit is the journal retention of a zone when none is set:
// the journal keeps the newest steps whose weight, the number of records
// they delete and add plus one per step, adds up to at most this much. The
// newest step is kept whatever its weight. 100000 records of a signed zone
// take roughly 20 MB (an estimate from the size of an RRSIG in JSON).
const DefaultJournalLimit = 100000

// JournalLimiter is implemented by stores whose journal retention can be
// set, as *SQLite and *Postgres can.
type JournalLimiter interface {
	// SetJournalLimit sets the journal retention of every zone in weight
	// units (see DefaultJournalLimit) for later UpdateZone calls. A limit of
	// 0 or less restores the default. It is safe for concurrent use.
	SetJournalLimit(weight int)
}

// journalRR is the JSON form of an RR in the journal. The zone is a column of
// the journal row.
type journalRR struct {
	Name    string `json:"n"`
	Type    uint16 `json:"t"`
	Covered uint16 `json:"c,omitempty"`
	TTL     uint32 `json:"l"`
	Data    string `json:"d"`
	Hash    string `json:"h,omitempty"`
}

func encodeJournal(list []RR) (string, error) {
	out := make([]journalRR, len(list))
	for i, rr := range list {
		out[i] = journalRR{Name: rr.Name, Type: rr.Type, Covered: rr.Covered, TTL: rr.TTL, Data: rr.Data, Hash: rr.Hash}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeJournal(zone, text string) ([]RR, error) {
	var in []journalRR
	if err := json.Unmarshal([]byte(text), &in); err != nil {
		return nil, err
	}
	list := make([]RR, len(in))
	for i, j := range in {
		list[i] = RR{Zone: zone, Name: j.Name, Type: j.Type, Covered: j.Covered, TTL: j.TTL, Data: j.Data, Hash: j.Hash}
	}
	return list, nil
}

// appendJournal writes step as journal step seq of zone and drops the oldest
// steps while the journal weighs more than the limit. weight is the weight
// of the journal before this step.
func (t *txn) appendJournal(ctx context.Context, zone string, seq, weight int64, step Diff) error {
	deleted, err := encodeJournal(step.Deleted)
	if err != nil {
		return fmt.Errorf("update zone %s: encode journal step: %w", zone, err)
	}
	added, err := encodeJournal(step.Added)
	if err != nil {
		return fmt.Errorf("update zone %s: encode journal step: %w", zone, err)
	}
	stepWeight := int64(len(step.Deleted) + len(step.Added) + 1)
	_, err = t.q.exec(ctx, `INSERT INTO zone_journal (zone, seq, from_serial, to_serial, weight, deleted, added)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		zone, seq, int64(step.FromSerial), int64(step.ToSerial), stepWeight, deleted, added)
	if err != nil {
		return fmt.Errorf("update zone %s: write journal step: %w", zone, err)
	}

	weight, err = t.pruneJournal(ctx, zone, seq, weight+stepWeight)
	if err != nil {
		return err
	}
	_, err = t.q.exec(ctx, `UPDATE zones SET journal_weight = $2 WHERE name = $1`, zone, weight)
	if err != nil {
		return fmt.Errorf("update zone %s: record journal weight: %w", zone, err)
	}
	return nil
}

// pruneJournal drops the oldest steps of zone, but never step newest, until
// the journal weighs at most the limit, and returns the weight left.
func (t *txn) pruneJournal(ctx context.Context, zone string, newest, weight int64) (int64, error) {
	limit := int64(t.journalLimit)
	if limit <= 0 {
		limit = DefaultJournalLimit
	}
	if weight <= limit {
		return weight, nil
	}

	rs, err := t.q.query(ctx, `SELECT seq, weight FROM zone_journal WHERE zone = $1 AND seq < $2 ORDER BY seq`, zone, newest)
	if err != nil {
		return 0, fmt.Errorf("update zone %s: read journal: %w", zone, err)
	}
	last := int64(-1)
	for weight > limit && rs.Next() {
		var seq, w int64
		if err := rs.Scan(&seq, &w); err != nil {
			rs.Close()
			return 0, fmt.Errorf("update zone %s: read journal: %w", zone, err)
		}
		last, weight = seq, weight-w
	}
	err = rs.Err()
	rs.Close()
	if err != nil {
		return 0, fmt.Errorf("update zone %s: read journal: %w", zone, err)
	}

	if last >= 0 {
		if _, err := t.q.exec(ctx, `DELETE FROM zone_journal WHERE zone = $1 AND seq <= $2`, zone, last); err != nil {
			return 0, fmt.Errorf("update zone %s: prune journal: %w", zone, err)
		}
	}
	return weight, nil
}

// Diffs implements Reader.
func (r *reader) Diffs(ctx context.Context, zone string, fromSerial uint32) ([]Diff, error) {
	zone = asciiLower(zone)
	var diffs []Diff
	err := r.q.readTx(ctx, func(q querier) error {
		var err error
		diffs, err = readDiffs(ctx, q, zone, fromSerial)
		return err
	})
	return diffs, err
}

func readDiffs(ctx context.Context, q querier, zone string, from uint32) ([]Diff, error) {
	current, err := (&reader{q: q}).ZoneSerial(ctx, zone)
	if err != nil {
		return nil, err
	}
	if from == current {
		return []Diff{}, nil
	}

	var start int64
	err = q.queryRow(ctx, `SELECT seq FROM zone_journal WHERE zone = $1 AND from_serial = $2 ORDER BY seq DESC LIMIT 1`,
		zone, int64(from)).Scan(&start)
	if errors.Is(err, errNoRows) {
		return nil, journalGap(ctx, q, zone, from, current)
	}
	if err != nil {
		return nil, fmt.Errorf("read journal of zone %s: %w", zone, err)
	}

	scan := func(r row) (Diff, error) {
		var d Diff
		var fromSerial, toSerial int64
		var deleted, added string
		if err := r.Scan(&fromSerial, &toSerial, &deleted, &added); err != nil {
			return d, err
		}
		d.FromSerial, d.ToSerial = uint32(fromSerial), uint32(toSerial)
		if d.Deleted, err = decodeJournal(zone, deleted); err != nil {
			return d, fmt.Errorf("decode journal step to serial %d: %w", toSerial, err)
		}
		if d.Added, err = decodeJournal(zone, added); err != nil {
			return d, fmt.Errorf("decode journal step to serial %d: %w", toSerial, err)
		}
		return d, nil
	}
	diffs, err := collect(ctx, q, scan,
		`SELECT from_serial, to_serial, deleted, added FROM zone_journal WHERE zone = $1 AND seq >= $2 ORDER BY seq`, zone, start)
	if err != nil {
		return nil, fmt.Errorf("read journal of zone %s: %w", zone, err)
	}
	if err := checkChain(zone, from, current, diffs); err != nil {
		return nil, err
	}
	return diffs, nil
}

// checkChain checks that diffs lead step by step from serial from to serial
// current, which UpdateZone guarantees unless the database was changed by
// other means.
func checkChain(zone string, from, current uint32, diffs []Diff) error {
	next := from
	for _, d := range diffs {
		if d.FromSerial != next {
			return fmt.Errorf("journal of zone %s is broken: a step starts at serial %d where %d was expected", zone, d.FromSerial, next)
		}
		next = d.ToSerial
	}
	if next != current {
		return fmt.Errorf("journal of zone %s is broken: it ends at serial %d but the zone is at %d", zone, next, current)
	}
	return nil
}

// journalGap returns the *JournalGapError for a request from serial from.
func journalGap(ctx context.Context, q querier, zone string, from, current uint32) error {
	gap := &JournalGapError{Zone: zone, From: from, Current: current, Oldest: current}
	var oldest int64
	err := q.queryRow(ctx, `SELECT from_serial FROM zone_journal WHERE zone = $1 ORDER BY seq LIMIT 1`, zone).Scan(&oldest)
	switch {
	case err == nil:
		gap.Oldest = uint32(oldest)
	case !errors.Is(err, errNoRows):
		return fmt.Errorf("read journal of zone %s: %w", zone, err)
	}
	return gap
}
