// Package store keeps quotes, ticks and what is derived from them in Apache
// Cassandra (through gocql): 1-minute quotes, trade ticks, 1m/5m/1h/1d bars,
// a latest row per symbol with moving averages, alerts on implausible moves,
// and the epoch-fenced Kafka offsets and fetch checkpoints of the cluster's
// tasks.
//
// # Tables (keyspace Config.Keyspace, default "stocksys")
//
//	quotes            ((symbol, day), ts)       open high low close volume bid ask source flagged epoch
//	ticks             ((symbol, day), ts, seq)  price size exchange condition bid ask flag source epoch
//	quote_days        ((symbol), day)           index of the days each symbol has rows (for ranges
//	                                            and "previous trading day"); static tz: the
//	                                            symbol's exchange zone (IANA name, see Zone)
//	bars              ((symbol, interval, day), ts)  open high low close volume vwap count
//	                                            + for 1m: pv sum_close last_ts hwm flagged has_bar daily
//	latest            (symbol)                  ts price prev_close day_change day_change_pct sma ema updated
//	alerts            ((day), ts, symbol)       prev_close close move_pct reason
//	ingest_offsets    ((topic), partition)      offset (next to consume) epoch node updated
//	fetch_checkpoints (symbol)                  ts (position of the last quote produced) epoch node updated
//
// day is the exchange trading date as a Cassandra date (quote.Quote.Day):
// the quote's calendar date in its exchange time zone (quote.Quote.TZ,
// US/Eastern when it names none, so US symbols are as before; Asia/Jakarta
// for a Jakarta stock, UTC for Yahoo's crypto currencies, whose 24/7 trading
// day is the UTC calendar day). Bars are aligned in that zone: 5m bars start
// at :00, :05, ... of the local hour, 1h bars at whole local hours (at :30 UTC
// in Asia/Kolkata), and a 1d bar's ts is local midnight of its trading date
// converted to UTC (US/Eastern: 04:00 or 05:00 UTC; Asia/Jakarta: 17:00 UTC
// the day before), not its first quote's time (see WindowStartIn). The Writer
// takes a symbol's zone from its quotes and records it with each new day
// (quote_days.tz); Zone reads it back (US/Eastern when null: keyspaces and
// days from before it), so UpdateAnalytics and the readers reckon in it, and
// Rows and Ticks return rows with that TZ. Readers taking an instant range
// look at the stored days from the day before the range's US/Eastern dates to
// the day after (every zone's date lies within a day of the Eastern date).
// Changing a symbol's zone after rows are stored leaves those rows on their
// old days. Open creates the keyspace
// and tables if absent (CREATE ... IF NOT EXISTS, and ALTER TABLE ... ADD IF
// NOT EXISTS for the 1m state columns of older keyspaces: 1m rows written
// before the daily column read as minute bars until rewritten, e.g. by
// UpdateAnalytics); statements name
// tables in full (keyspace.table) and the session is bound to no keyspace.
//
// # Ticks
//
// A trade tick (quote.KindTrade) is keyed by (symbol, day, ts, seq): seq
// numbers the ticks of one millisecond in source order (assigned by the
// source), so every trade of a busy millisecond is kept (SPY on 2013-10-07:
// 170,996 of 250,601 trades share a millisecond) and a replay or failover
// rewrites the same rows. A tick flagged by the source (quote.Quote.Flag:
// the vendor's suspicious mark, or an implausible print) is stored with its
// flag and left out of every bar, latest row and alert.
//
// # What is derived, and its specification
//
// The pure functions ComputeBars, ComputeLatest and DetectMoves define the
// derived rows. Bars of every interval are formed from 1-minute aggregates
// (each minute from its quotes or ticks in Position order, then minutes
// merged in time order), so their floating-point sums have one fixed order.
// VWAP is sum(price*size)/sum(size) (for minute bars the closes stand in for
// the price). Move alerts are over the 1-minute closes: a minute is flagged
// when its close moved more than Config.MoveAlertPct percent from the
// previous minute's close, or, for a day's first minute, from the last close
// of the latest earlier day in quote_days. For a minute file (one bar per
// minute) this is the bar's own close, and the quotes row carries the flag
// too.
//
// # Moving averages follow the series' own interval
//
// The SMA and EMA windows of latest (Config.SMAWindows, Config.EMAWindows)
// count closes of the series' own interval (see Latest, ComputeSeriesLatest):
//
//   - An intraday series (minute bars or ticks): the latest day's 1-minute
//     closes, as always. SMA N is the mean of the day's last N; EMA N runs
//     over all of the day's closes, seeded with the SMA of its first N.
//     Earlier days do not count.
//   - A daily series (its latest day holds daily bars only; IsDailyBar tells
//     them by their source, as quote.Quote carries no interval: a daily
//     CSV's replay, "replay:daily-csv", a Lean daily zip's,
//     "replay:lean-daily", or Alpha Vantage's GLOBAL_QUOTE): the daily
//     closes, one per stored trading day (its 1d bar's close), across days
//     up to the latest day's. SMA N is the mean of the last N; EMA N runs
//     over the last DailyEMALookback*N (4N), seeded with the SMA of the
//     first N of those, so it depends on recent days only (over a full
//     lookback the seed weighs under 0.25%). A window is absent while fewer
//     than N days have a close. With the defaults, SMA 5/20 and EMA 12/26
//     are 5-, 20-, 12- and 26-day averages.
//
// Bars (a daily bar is its day's one minute and its 1d bar) and alerts
// (each day's close against the day before) are formed the same way for
// both.
//
// # Writing: idempotent, order-independent, incremental
//
// Writer.Write (one Writer per ingest task; Store.WriteQuotes uses a fresh
// one per call) first writes the rows: per partition, UNLOGGED batches of that
// one partition, split so each batch's estimated size stays under
// Config.BatchMaxBytes (4 KiB by default, below Cassandra 5's
// batch_size_warn_threshold of 5 KiB; batch_size_fail_threshold is 50 KiB).
// Note that Cassandra (since 3.6, CASSANDRA-10876) applies those thresholds
// only to batches spanning several partitions, so single-partition batches
// would not be refused anyway; the split keeps mutations and request latency
// small. Every write is a plain upsert of fixed values, marked idempotent:
// duplicates and replays leave one row with the same values (except epoch,
// the last writer's epoch, which is informational). An absent bid/ask is
// bound as unset, so it reads as null without writing a tombstone.
//
// Then it updates the derived rows from state it keeps in memory (the
// Kafka Streams / Flink model: state beside the partition the task owns): per
// symbol and day, the day's 1-minute aggregates with each minute's hwm (the
// highest Position counted). The state of a day is rebuilt with one read of
// its stored 1m bars the first time a Writer touches it; a row above its
// minute's hwm is added in place, and a row at or below it (a duplicate, a
// replay from an older offset, a late row) makes the Writer recompute that
// minute from the stored rows. It then writes the bars of the windows that
// changed, the alert changes of the day, the latest row when the day is the
// symbol's latest, and, when a day's last close changed, re-checks the next
// stored day's alerts (a backfill). For a daily series the Writer also keeps
// the daily closes of its last stored days (the longest SMA window, or 4
// times the longest EMA window, plus 4: 108 with the defaults), read once per
// Writer from quote_days and the 1d bars of those days (50 days a request),
// then updated from each Write; a backfilled or corrected day among them
// rewrites the latest row. Intraday series read and keep none of it. Nothing
// just written is read back. The
// result equals the pure functions applied to the stored rows, bit for bit
// (tested with random permutations, duplicates, replays, late days and task
// moves), and UpdateAnalytics recomputes a day from its rows to repair.
//
// Cost per Write: the rows; per touched (symbol, day) the changed bar rows
// (typically one per interval), the latest row, an alert row per changed
// alert; reads only when a day is first touched (its 1m bars, the previous
// close, the latest row), for minutes that got a row at or below their hwm
// (one read of that minute), and, once per Writer and symbol, the daily
// closes of a daily series (and the latest day, when a Writer's first
// change is to an earlier day's close). A Writer holds at most 4 days per
// symbol, and a daily series' recent daily closes.
//
// # Fenced offsets and checkpoints
//
// Each task (ingest of a Kafka partition, fetch of a symbol) has one owner
// at a time, and each run of it a fencing token that only grows for the
// task, across owners and master terms: the zxid of the assignment write it
// was started from (worker.Run.Token gives the argument). The column is
// still named epoch: rows written before per-task tokens hold a master
// epoch, which is below any zxid of the same ZooKeeper (every epoch bump is
// one of its writes), so they keep working and are taken over by the first
// token commit. CommitOffset and CommitCheckpoint are lightweight
// transactions (Paxos, at Config.SerialConsistency, LOCAL_SERIAL by
// default):
//
//	UPDATE ... SET offset = ?, epoch = <token>, node = ?, updated = ? WHERE ... IF epoch <= <token>
//	INSERT ... IF NOT EXISTS      (only when the row does not exist yet)
//
// When the INSERT loses to a concurrent one, the UPDATE is tried again
// against the winner's token, so concurrent first commits end in one row held
// by the highest token. A deposed owner still running (paused past its
// session, partitioned away, its task moved within one term) carries its
// lower token; as soon as the new owner has committed once, every commit of
// the old owner fails with ErrFenced, atomically with respect to all other
// commits, and it must stop. Its quote writes in the meantime are harmless: they are idempotent
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
