// Package audit is a node's append-only audit trail: one JSON object per line
// in a node-local file, written with a single write(2) per record (so a record
// is in the kernel once Write returns and survives kill -9 of the node; with
// Config.Sync it is also fsync'd and survives a machine crash).
//
// The trail records what the invariant checker (package verify) needs to
// prove that master terms never overlap, that no task had two running
// owners, and that no commit with a stale task token was accepted:
//
//	proc_start   {node, pid, t}                                  a node process started
//	term_start   {node, pid, epoch, session, t}                  this node won the term of epoch
//	term_end     {node, pid, epoch, cause, t}                    the term ended (cause: why)
//	fenced_write {node, pid, epoch, result, n_ops, t_sent, t_done, err?}
//	                                                             one Term.Fenced Multi sent to ZooKeeper;
//	                                                             result ok | fenced | unknown | error
//	task_start   {node, pid, task, epoch, session, t}            a runner started
//	task_stop    {node, pid, task, t, err?}                      that runner returned
//	commit       {node, pid, task, token, value, result, t_sent, t_done, err?}
//	                                                             one Cassandra commit fenced by the task's
//	                                                             token: an offset or a checkpoint;
//	                                                             result ok | fenced | error
//
// Times are wall-clock (all processes of a local cluster share one clock),
// RFC 3339 with nanoseconds; mono_ns is the process's monotonic clock since
// its proc_start, for ordering records of one process. Records of one process
// appear in the order they were written; several processes (restarts of the
// same node id) append to the same file one after the other, each starting
// with proc_start.
package audit
