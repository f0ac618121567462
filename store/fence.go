package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// fencedRow describes one row of a fenced table: its key and the value
// columns written with the epoch.
type fencedRow struct {
	table   string
	keyCols []string
	keyVals []any
	setCols []string
	setVals []any
	what    string // for messages: "offset quotes/3"
}

// fencedAttempts bounds the UPDATE / INSERT IF NOT EXISTS loop; each lost
// round means another writer changed the row in between.
const fencedAttempts = 5

// commitFenced writes r with epoch and node if the stored epoch is <= epoch:
// UPDATE ... IF epoch <= ?, and when the row does not exist INSERT ... IF NOT
// EXISTS; when that loses to a concurrent insert, the UPDATE is tried again,
// so the condition is always decided against the winner's epoch. Both are
// lightweight transactions at the configured serial consistency. Both are
// safe to retry (marked idempotent): re-applying the caller's own values
// with the same epoch satisfies the condition again, and a lost INSERT falls
// through to the UPDATE.
func (s *Store) commitFenced(ctx context.Context, r fencedRow, epoch int64, node string) error {
	now := s.now().UTC()
	where := strings.Join(r.keyCols, " = ? AND ") + " = ?"
	sets := strings.Join(r.setCols, " = ?, ") + " = ?, epoch = ?, node = ?, updated = ?"
	upd := "UPDATE " + r.table + " SET " + sets + " WHERE " + where + " IF epoch <= ?"
	cols := append(append([]string{}, r.keyCols...), r.setCols...)
	cols = append(cols, "epoch", "node", "updated")
	ins := "INSERT INTO " + r.table + " (" + strings.Join(cols, ", ") + ") VALUES (?" +
		strings.Repeat(", ?", len(cols)-1) + ") IF NOT EXISTS"

	updArgs := append(append(append([]any{}, r.setVals...), epoch, node, now), r.keyVals...)
	updArgs = append(updArgs, epoch)
	insArgs := append(append(append([]any{}, r.keyVals...), r.setVals...), epoch, node, now)
	for range fencedAttempts {
		var cur *int64
		applied, err := s.query(ctx, true, upd, updArgs...).SerialConsistency(s.serial).ScanCAS(&cur)
		if err != nil {
			return fmt.Errorf("store: commit %s epoch %d: %w", r.what, epoch, err)
		}
		if applied {
			return nil
		}
		if cur != nil {
			return s.fencedError(ctx, r, epoch, *cur)
		}
		// No row yet: create it, unless someone else just did.
		m := map[string]any{}
		applied, err = s.query(ctx, true, ins, insArgs...).SerialConsistency(s.serial).MapScanCAS(m)
		if err != nil {
			return fmt.Errorf("store: commit %s epoch %d: %w", r.what, epoch, err)
		}
		if applied {
			return nil
		}
	}
	return fmt.Errorf("%w: commit %s epoch %d: %d rounds lost", ErrContention, r.what, epoch, fencedAttempts)
}

// fencedError builds the ErrFenced error, naming the current holder (read
// back for the message only; the epoch is the one the transaction saw).
func (s *Store) fencedError(ctx context.Context, r fencedRow, epoch, cur int64) error {
	where := strings.Join(r.keyCols, " = ? AND ") + " = ?"
	var node string
	if err := s.query(ctx, true, "SELECT node FROM "+r.table+" WHERE "+where, r.keyVals...).
		Consistency(gocql.Consistency(s.serial)).Scan(&node); err != nil {
		node = "?"
	}
	return fmt.Errorf("%w: commit %s with token %d refused: stored token %d, node %q", ErrFenced, r.what, epoch, cur, node)
}

// CommitOffset records next (the next offset to consume) of topic/partition
// for the run with fencing token token (worker.Run.Token) on node. It
// succeeds only if the stored token is at most token (a lightweight
// transaction, see doc.go); otherwise it returns an error wrapping ErrFenced
// that names the stored token and node, and the stored row is unchanged.
// Concurrent first commits resolve to one row, the highest token's. Offsets
// may move backwards within a token (a rewind is the owner's decision). Safe for concurrent use; blocks for up to four
// Paxos round trips.
func (s *Store) CommitOffset(ctx context.Context, topic string, partition int32, next int64, token int64, node string) error {
	return s.commitFenced(ctx, fencedRow{
		table: "@ingest_offsets", keyCols: []string{"topic", `"partition"`}, keyVals: []any{topic, partition},
		setCols: []string{`"offset"`}, setVals: []any{next},
		what: fmt.Sprintf("offset %s/%d", topic, partition),
	}, token, node)
}

// LoadOffset returns the committed next offset of topic/partition and the
// epoch that committed it; found is false (and the rest zero) if none was
// committed. It reads at the serial consistency, so it sees every commit
// that succeeded before it. Safe for concurrent use.
func (s *Store) LoadOffset(ctx context.Context, topic string, partition int32) (next int64, epoch int64, found bool, err error) {
	err = s.query(ctx, true, `SELECT "offset", epoch FROM @ingest_offsets WHERE topic = ? AND "partition" = ?`, topic, partition).
		Consistency(gocql.Consistency(s.serial)).Scan(&next, &epoch)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("store: load offset %s/%d: %w", topic, partition, err)
	}
	return next, epoch, true, nil
}

// CommitCheckpoint records ts, the time of the last quote produced for
// symbol, for the run with fencing token token on node, fenced exactly as
// CommitOffset (ErrFenced when a higher token holds the row).
func (s *Store) CommitCheckpoint(ctx context.Context, symbol string, ts time.Time, token int64, node string) error {
	return s.commitFenced(ctx, fencedRow{
		table: "@fetch_checkpoints", keyCols: []string{"symbol"}, keyVals: []any{symbol},
		setCols: []string{"ts"}, setVals: []any{ts.UTC()},
		what: "checkpoint " + symbol,
	}, token, node)
}

// LoadCheckpoint returns symbol's checkpoint time (UTC, millisecond
// precision) and the epoch that wrote it; found is false if there is none.
// Reads at the serial consistency, as LoadOffset.
func (s *Store) LoadCheckpoint(ctx context.Context, symbol string) (ts time.Time, epoch int64, found bool, err error) {
	err = s.query(ctx, true, `SELECT ts, epoch FROM @fetch_checkpoints WHERE symbol = ?`, symbol).
		Consistency(gocql.Consistency(s.serial)).Scan(&ts, &epoch)
	if errors.Is(err, gocql.ErrNotFound) {
		return time.Time{}, 0, false, nil
	}
	if err != nil {
		return time.Time{}, 0, false, fmt.Errorf("store: load checkpoint %s: %w", symbol, err)
	}
	return ts.UTC(), epoch, true, nil
}
