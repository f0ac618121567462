// Package pipeline has the task runners of the data path, run by package
// worker on the node the master assigned the task to:
//
//   - Fetch (task fetch/<SYMBOL>): reads the symbol's quote source after the
//     symbol's checkpoint, validates every quote (rejects are counted by reason
//     and logged with the offending values; nothing invalid is produced),
//     produces the valid ones to Kafka (key = symbol; headers carry the epoch,
//     node and task), and then commits the checkpoint (the position of the
//     last produced quote: its time, plus its Seq for ticks) fenced by epoch,
//     in the background while the next batch goes out (one commit at a time,
//     always the newest). A fetch task that moves to another
//     worker resumes from the checkpoint: no quote is skipped. A runner that
//     stops while its session is safe (revoked, or its node stopping) commits
//     its last checkpoint before it returns, so after a handover nothing is
//     produced twice; after a crash or past the safe deadline the few
//     produced after the last commit are produced again (harmless: every
//     write downstream is idempotent).
//   - Ingest (task ingest/<partition>): consumes the partition from the
//     committed offset, writes each batch to Cassandra (quotes and ticks,
//     then the bars, latest and alerts the task's store.Writer keeps up to
//     date from its in-memory state), and only then hands the offset after
//     the batch to the background committer (one fenced commit at a time,
//     always the newest: group commit), so the next batch is written while
//     the last offset is committed. A committed offset is therefore never
//     ahead of what Cassandra acknowledged. Like fetch, a runner stopping on
//     a safe session commits its last stored offset before it returns.
//
// # Fencing
//
// A runner runs only while its worker holds the task (the worker cancels it on
// revocation and at its session's safe deadline). Checkpoints and offsets are
// committed with Cassandra lightweight transactions that succeed only if the
// stored fencing token is not higher than the runner's (worker.Run.Token: the
// zxid of the assignment write it started from; store.CommitOffset,
// store.CommitCheckpoint): once the task's next owner has committed, a
// deposed owner can no longer move them, even when the task moved within one
// master term, and its runner stops with store.ErrFenced.
package pipeline
