// Package master is the master loop: while this node holds a master term
// (election.Term), it assigns every task to a live worker.
//
// # Recipe
//
// The loop reads members/ (live nodes: their ephemeral znodes, whose
// ephemeralOwner is the member's session), symbols/ (one fetch task each),
// the partitions of the quotes topic (one ingest task each), assignments/ and
// status/, with watches on members/, symbols/, status/ and every status
// document (read through a zkapi.Watched, the one watched-read type that the
// standby view and the console's feed use too). The reads of one round go out together, so that a round costs a
// few round trips rather than one per znode: members/, symbols/ (and the
// partition list), assignments/, assignment-parts/, status/ and the control
// znodes at once, each folder's documents up to 16 at a time; then the
// status documents (a status is taken only from a live member's session,
// read after the assignments it acknowledges; a status created after the
// listing counts as not yet reported, so its member is lagging until the
// next round). Any watch event, or the
// periodic resync (Config.Resync, default
// 10 s), triggers a plan; plans are at least Config.MinInterval apart
// (default 20 ms; under load twice the last plan's duration), so a burst of
// changes is planned once.
//
// A new term's first round reads, besides, the newest terms/ records and
// whether failover and partitions exist, beside its other reads, so that its
// one-time writes need no read of their own. On a handover the would-be
// master plans before its winning Multi (Prefetch.Ops through
// election.Config.WinOps), and that first plan goes into the winning
// Multi: a handover costs one quorum write, not a write, reads queued
// behind it and a second write. The plan's view is the next in line's
// standby view (Standby: kept with a watch on every znode it read; used
// only if none fired but the master znode's deletion) or, if that went
// stale, a read after the predecessor went (Prefetch). A prefetch reads the
// master znode first and is void if one of another session remains (that
// master's last writes could still come); it sets no watches, so the
// term's first round reads again, with watches (and writes nothing new if
// nothing changed since).
//
// A plan is tasks.Plan(live members, tasks, current), where current is what
// the live members' assignment documents (written for their current session)
// say. It is balanced, sticky and minimal; see package tasks.
//
// # Handover without two owners
//
// A task moving from A to B is first revoked: A's document is rewritten
// without it, and lists it under Revoked (revoked, awaiting release). B is
// given the task only when no other live node may still run it: it is in no
// other live node's document, no other live node's status lists it (a
// worker lists a task until its runner has returned), and no other live node
// whose status lags its document (has not acknowledged its latest version)
// has it in that document's Tasks or Revoked. A lagging node blocks only the
// tasks it may run, not every grant in the cluster; and since Revoked is in
// the documents, a new master after a failover knows the same from the
// documents alone. A task leaves Revoked when the node's status reflects the
// document that revoked it and no longer lists it. A lagging node whose
// document was written by an older build (no Revoked field) may run
// anything, as before. A node whose
// session is gone holds nothing: its worker stopped every task at its safe
// deadline, before the server could expire the session (package session). So
// at no instant do two workers run the same task.
//
// # Move throttling
//
// The moves in flight (a task revoked from a live owner, not yet granted to
// its new one) and a round's new revocations stay within
// Config.MaxMovesInFlight (default a quarter of the tasks, at least 32): a
// plan that wants more keeps the rest on their owners for a later round, in
// task id order.
//
// # Flap damping
//
// The master counts each member's session losses (its members/ znode gone,
// or back under another session, between two rounds). A member with
// Config.FlapLosses losses within FlapWindow (default 3 in 5 min) is
// cordoned by the master itself (control.ByFlapDamping, the reason, and
// control.Cordon.Until = now + FlapCordon, default 10 min); the master lifts
// the cordon when its time is up. Losses while cordoned are not counted; a
// new master starts counting afresh.
//
// # Operator intents
//
// The loop also reads intents/ (with a watch) and the control state
// (package control). Pending intents are applied in sequence order by
// decide (control.Apply: each applied or rejected with the reason), and the
// plan honours the state: a cordoned member keeps what its document assigns
// and gets nothing new, a drained one gets nothing (its tasks are revoked
// through the gate above), a paused task takes no part in the plan (revoked
// from its owner, given to no one), a restarting one takes none until no
// node holds it and then goes back to the owner it had (the restart is then
// removed from the state), and in maintenance mode no assignment document is
// written or deleted. The new state (control), the audit list
// (control-history, the last 100) and the deletions of the applied intents
// go first in the round's fenced writes, in one Multi.
//
// # Fencing
//
// Every write (assignment documents, deletions of the documents of departed
// nodes, the failover document) goes through election.Term.Fenced and carries
// the term's epoch in the document. A deposed master's writes fail with
// election.ErrFenced, which ends the loop. A plan too large for one Multi
// (Config.MaxMultiBytes) is written in several, each fenced.
//
// # Znodes
//
// Reads members/, symbols/, status/ and status-parts/, terms/ (the newest
// three, in a first round), master (a prefetch). Writes
// assignments/<node-id> (tasks.AssignmentDoc; a large one as a head and
// immutable parts under assignment-parts/, created before the head and
// deleted after the head that no longer names them, all fenced: see
// tasks.EncodeAssignment) and failover (tasks.FailoverDoc: the previous
// term's end, this term's election and its first assignment write).
//
// # Limits
//
// Every znode is checked against tasks.MaxDocBytes before it is sent; a plan
// that cannot be written (*tasks.DocTooLargeError) is logged once and not
// retried until something changes. 100,000 tasks over 10 nodes are planned,
// written and running in the time BenchmarkIntegration_Assign100000x10
// reports.
package master
