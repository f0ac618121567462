// Package verify is `stocksys verify`: the invariant checker of a settled
// chaos run (package chaos). It reads the run's manifest and fault events,
// every node's audit trail (package audit), ZooKeeper (terms/, the epoch
// znode, assignments and status), Cassandra and Kafka, and reports each
// violation with the records that prove it.
//
// # Checks
//
//  1. Terms (CheckTerms): one term_start per epoch, epochs in time order,
//     terms/ agrees, and no fenced write of a deposed master was accepted
//     (acting intervals never overlap: a write took effect within
//     [t_sent, t_done]).
//  2. Ownership (CheckOwners): no task had two running owners at once;
//     runs end at task_stop, at their process's SIGKILL, and do not run
//     while it is SIGSTOPped (a short tail after SIGCONT is reported, not
//     counted); at the end every task has one live owner.
//  3. Data (CheckData): per symbol and day the stored quotes or ticks equal
//     the replayed source (read with package quote), and the stored bars
//     equal store.ComputeBars of it.
//  4. Commits (CheckCommits, CheckStoredTokens): no Cassandra commit (offset
//     or checkpoint) with a stale task token was accepted, from the
//     trails' commit records; each task's committed row carries at least
//     the highest token accepted.
//  5. Records (CheckRecords): read_committed, a task's token never goes
//     down along its partition of the quotes and checkpoint topics: no
//     record of a fenced producer is visible after its successor's. Without
//     --fetch-transactions nothing fences a plain produce, so the records of
//     a node that was SIGSTOPped (its producer's buffer, sent at SIGCONT) are
//     counted as tails instead, as CheckOwners counts its runs' tails; with
//     transactions none is tolerated.
//  6. Failover timings (Failovers): detection -> elected -> first fenced
//     write -> every task running, per change of master.
//
// # Guarantees
//
// Read-only: it writes nothing to any server. A check that cannot read its
// input returns an error (the run is not judged), never a pass. Clock
// comparisons across processes use wall time, which all processes of a
// local run share.
package verify
