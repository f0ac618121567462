// Package worker runs the tasks the master assigns to this node.
//
// # Recipe
//
// A Worker belongs to one ZooKeeper session (session.Session). It watches its
// own assignment znode, assignments/<node-id> (tasks.AssignmentDoc), and
// starts and stops task runners so that the set of running tasks equals the
// assignment exactly:
//
//   - A document written for another session (an earlier incarnation of this
//     node id) assigns nothing: the master has not yet seen this session.
//   - A document whose epoch is lower than the highest epoch this worker has
//     seen is ignored: it was written by a deposed master.
//   - A task id whose type has no runner (for instance an unknown type) is
//     refused and reported in status; the other tasks run.
//   - A task revoked and then assigned again is started again only after its
//     previous runner has returned.
//
// The worker publishes status/<node-id> (ephemeral, tasks.StatusDoc) at most
// once per Config.StatusInterval: per task its state (starting, running,
// stopping, failed), epoch, start time, last progress and last error, and for
// a failed task its consecutive failures and next retry time. A failed task
// that stays assigned is started again with exponential backoff (cenkalti/
// backoff): Config.RetryDelay (2 s) after its first failure, doubled after
// each further one up to Config.RetryMaxDelay (1 min), each wait ±20%; a run
// that lasted RetryMaxDelay before failing starts the sequence over. A task is
// listed from the moment its runner starts until the runner has returned; the
// master moves a task to another node only after it has disappeared from this
// list, or after this node's session is gone.
//
// # Guarantees
//
// The worker stops every task when its session's safe deadline passes
// (session.Session.Unsafe) or the session ends, and starts tasks again only
// from an assignment read afresh after the session is safe again. Because the
// safe deadline comes before the server can expire the session (see package
// session), a worker cut off from ZooKeeper has stopped its tasks before the
// master can see its member znode vanish and give them to another node. Task
// runners must return promptly when their context is cancelled; Run waits up
// to Config.StopTimeout for them.
//
// # Znodes
//
// Reads assignments/<node-id> (and its parts under assignment-parts/); owns
// the ephemeral status/<node-id> and, for a status over tasks.PartBytes, its
// immutable ephemeral parts status-parts/<node-id>.<gen>.<i> (created before
// the head that names them, deleted after the next head; see
// tasks.EncodeStatus). A status in parts refreshes progress and rates every
// ProgressInterval × parts/8, so that a state change rewrites only the parts
// whose tasks changed; a task's last error is cut to 1 KiB.
package worker
