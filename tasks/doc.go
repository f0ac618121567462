// Package tasks is the pure model and planning part of task assignment: what
// a task is, how it is named, and how the elected master spreads tasks over
// live workers, and the typed JSON documents of the cluster's znodes
// (store.go: the znode layout under a cluster root, the symbol, assignment,
// status, failover and partitions documents; chunk.go: large documents as a
// head and immutable parts, read with Paths.ReadAssignment and
// Paths.ReadStatus; docs.go: the members/, master and terms/ documents that
// the membership and election recipes write). Only the operators' intents
// and the control state are typed elsewhere (package control, with their
// rules). The
// planning starts no goroutines and does no I/O; every function is safe for
// concurrent use.
//
// # Model
//
// There are two task types (Type): one TypeFetch task per configured stock
// symbol, which polls quotes and publishes them to Kafka, and one TypeIngest
// task per Kafka partition of the quotes topic, which consumes it into the
// store.
//
// A Symbol is validated by ParseSymbol before it reaches a znode path or a
// Kafka key: 1 to 20 characters of A-Z 0-9 . - ^ = with at least one letter or
// digit ("BRK-B", "^GSPC", "EURUSD=X"); ASCII lower case is upper-cased and
// everything else ("", "a/b", ".", "..", spaces, NUL, non-ASCII) is refused
// with ErrInvalidSymbol.
//
// A Task is identified by its canonical ID, "fetch/<SYMBOL>" or
// "ingest/<partition>" (e.g. "fetch/BRK-B", "ingest/3"). ParseID refuses a
// well-formed ID of a type it does not know with ErrUnknownType, so a worker
// running an older build can refuse such an assignment and report it. Since
// an ID contains '/', znodes use Task.ZNodeName instead: the same string with
// '.' for '/' ("fetch.BRK-B", "fetch.BF.B", "ingest.3"). Type names contain
// neither '/' nor '.', so the first separator always ends the type and both
// encodings are unambiguous and reversed exactly by ParseID and
// ParseZNodeName.
//
// # Planning
//
// Plan(members, tasks, current) returns the next Assignment (task ID → member
// ID). Each task type is planned independently, in three steps:
//
//  1. Quotas. With n tasks of the type, members of capacity c_i (default 1)
//     and C = Σ c_i, member i's exact share is n·c_i/C. Its quota is the
//     floor of that share, and the r = n − Σ floor units left over go, one
//     each, to r members whose share is fractional. This is what "balanced"
//     means: every member owns floor or ceil of its exact share, and with
//     equal capacities any two members' counts differ by at most 1. When
//     there is a choice, the extra units go first to members currently
//     holding the most tasks above their floor (that is what makes the plan
//     minimal), then to the largest fractional parts, then to the smallest
//     member IDs.
//  2. Keep. Every task whose current owner is a live member stays with it,
//     except that an owner above its quota releases its surplus (its
//     highest task IDs). Tasks of dead or unknown owners, and unassigned
//     tasks, join the released ones in a free pool; tasks not in the task
//     list are dropped.
//  3. Fill. Members below quota, in member-ID order, take the lowest free
//     task IDs until they reach their quota.
//
// "Lowest" and "highest" compare ID strings byte-wise, so "ingest/10" sorts
// before "ingest/2"; any fixed order would do, this one is deterministic.
//
// Guarantees:
//   - Balanced, as above, per type; every task is assigned when there is at
//     least one member (with none, the result is empty).
//   - Sticky: a task leaves a live owner only if that owner held more than
//     its new quota, and such an owner gains no task of that type. A worker
//     joining takes tasks only from members above their new quota. With
//     equal capacities and a current assignment that Plan produced for the
//     same tasks, a worker leaving moves only its own tasks.
//   - Minimal: the number of tasks taken from live owners (CountMoves)
//     equals MinimalMoves, the least any balanced assignment allows:
//     Σ max(0, held − quota) with the quotas chosen as in step 1.
//   - Deterministic: members and tasks are sorted by ID and map iteration
//     order never reaches the result, so the same inputs in any order give
//     the same output, and planning again from Plan's own output with the
//     same inputs changes nothing.
//
// Diff lists the per-task owner changes between two assignments, for the
// master to apply and log.
//
// Capacity weights only balance within a type; the total number of tasks a
// member owns may exceed its proportional total share by up to one per type
// (with equal capacities, the members with the smallest IDs are the ones
// that get the remainders of several types when planning from scratch).
package tasks
