// Package store keeps quotes and what is derived from them in Apache
// Cassandra (through gocql): 1-minute quotes, 5m/1h/1d bars, a latest row per
// symbol with moving averages, alerts on implausible moves, and the
// epoch-fenced Kafka offsets and fetch checkpoints of the cluster's tasks.
//
// # Tables (keyspace Config.Keyspace, default "stocksys")
//
//	quotes            ((symbol, day), ts)     open high low close volume bid ask source flagged epoch
//	quote_days        ((symbol), day)         index of the days each symbol has quotes (for ranges
//	                                          and "previous trading day")
//	bars              ((symbol, interval, day), ts)  open high low close volume vwap count
//	latest            (symbol)                ts price prev_close day_change day_change_pct sma ema updated
//	alerts            ((day), ts, symbol)     prev_close close move_pct reason
//	ingest_offsets    ((topic), partition)    offset (next to consume) epoch node updated
//	fetch_checkpoints (symbol)                ts (last quote produced) epoch node updated
//
// day is the exchange trading date (US/Eastern) as a Cassandra date
// (quote.Quote.Day). Bars are aligned in Eastern time: 5m bars start at
// :00, :05, ..., 1h bars at whole Eastern hours, and a 1d bar's ts is
// midnight Eastern of its trading date converted to UTC (04:00 or 05:00 UTC),
// not its first quote's time (see WindowStart). Open creates the keyspace
// and tables if absent (CREATE ... IF NOT EXISTS); statements name tables in
// full (keyspace.table) and the session is bound to no keyspace.
//
// # Writing quotes: idempotent, order-independent
//
// WriteQuotes groups quotes by partition (symbol, day) and writes each group
// as UNLOGGED batches of that one partition, split so each batch's estimated
// size stays under Config.BatchMaxBytes (4 KiB by default, below Cassandra 5's
// batch_size_warn_threshold of 5 KiB; batch_size_fail_threshold is 50 KiB).
// Note that Cassandra (since 3.6, CASSANDRA-10876) applies those thresholds
// only to batches spanning several partitions, so single-partition batches
// would not be refused anyway; the split keeps mutations and request latency
// small. Every write is a plain upsert of fixed values, marked idempotent:
// duplicates and replays leave one row with the same values (except epoch,
// the last writer's epoch, which is informational). An absent bid/ask is
// bound as unset, so it reads as null without writing a tombstone.
//
// After the quotes, WriteQuotes recomputes, per touched symbol and day and
// from the quotes read back from Cassandra (not from the batch in hand):
//
//   - bars of the touched 5m and 1h windows and the day's 1d bar, with
//     ComputeBars;
//   - flags and alerts with DetectMoves: a quote is flagged (stored, never
//     rejected) when its close moved more than Config.MoveAlertPct percent
//     from the previous stored close, i.e. the close of the stored quote
//     just before it on the same day, or for a day's first quote the last
//     close of the latest earlier day in quote_days. Flags that a late quote
//     invalidates are cleared and their alerts deleted; the first quote of
//     the next stored day is re-checked when a day is backfilled;
//   - the latest row with ComputeLatest, when the latest stored day or its
//     previous trading day was touched (a late quote of an older day leaves
//     it alone). SMA and EMA are over the latest day's 1-minute closes in ts
//     order; EMA uses alpha = 2/(N+1), seeded with the SMA of the first N
//     closes; a window is absent until the day has N quotes.
//
// Because everything derived is recomputed from the stored quotes, the
// result equals an offline recomputation with the same pure functions,
// whatever the arrival order, duplication or replay. Analytics of one symbol
// are serialised within a Store; two Stores writing the same symbol
// concurrently (a deposed owner still running) converge once either writes
// again, since each recomputation reads everything stored before it.
//
// Cost per WriteQuotes call, per touched (symbol, day): one read of the day's
// quotes (up to ~1000 rows, ~100 KB), two small reads to find the previous
// close, one to find the next stored day, one read and one write of latest,
// bar batches for the touched windows (usually three rows), and one write
// per flag change or alert. Quotes are thus written once and read back once
// per batch; batch quotes per call (hundreds, not one) to amortise this.
//
// # Fenced offsets and checkpoints
//
// Each task (ingest of a Kafka partition, fetch of a symbol) is owned by one
// node per master epoch (package election). CommitOffset and
// CommitCheckpoint are lightweight transactions (Paxos, at
// Config.SerialConsistency, LOCAL_SERIAL by default):
//
//	UPDATE ... SET offset = ?, epoch = ?, node = ?, updated = ? WHERE ... IF epoch <= ?
//	INSERT ... IF NOT EXISTS      (only when the row does not exist yet)
//
// When the INSERT loses to a concurrent one, the UPDATE is tried again
// against the winner's epoch, so concurrent first commits end in one row held
// by the highest epoch. A deposed owner still running (paused past its
// session, partitioned away) carries its old epoch; as soon as the new owner
// (a higher epoch) has committed once, every commit of the old owner fails
// with ErrFenced, atomically with respect to all other commits, and it must
// stop. Its quote writes in the meantime are harmless: they are idempotent
// upserts of the same data, and the new owner resumes from the offset it
// committed. LoadOffset and LoadCheckpoint read at the serial consistency,
// so they see every commit that succeeded.
//
// # Consistency and retries
//
// Reads and writes use Config.Consistency (LOCAL_QUORUM by default; ONE on a
// single development node). The host policy is token-aware (over
// round-robin, or DC-aware round-robin when Config.LocalDC is set).
// Statements marked idempotent (all of this package's) are retried with
// exponential backoff, Config.Retries times; any other statement is never
// retried (gocql v1.7 would otherwise retry everything).
package store
