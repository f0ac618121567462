// Package election elects one master among the nodes of a cluster on
// ZooKeeper, gives each master term an epoch that only grows, and fences the
// writes of a deposed master.
//
// # Recipe
//
// Each node opens a session.Session and a Candidate on it, then calls
// Campaign:
//
//  1. It creates a protected ephemeral-sequential znode
//     election/_c_<GUID>-n_<seq> holding its node id. If the reply to the
//     create is lost, it lists election/ and finds its znode by GUID before
//     trying again, so each node holds exactly one candidate znode.
//  2. Candidates are ordered by sequence number; the lowest wins. Every other
//     candidate sets an exists-watch on its predecessor only, so a departure
//     wakes exactly one node (no herd effect). Waiting candidates also watch
//     epoch and list election/ again when a term is won (a read each, no
//     write): the one that is then next in line (its predecessor is the
//     lowest) reads the winning Multi's inputs (epoch, its version, the
//     recorded floor) while it waits.
//  3. The lowest candidate becomes master only if that znode's
//     ephemeralOwner is its own current session and its session is safe
//     (see package session). It then runs one Multi: check its candidate
//     znode exists, set epoch to epoch+1 with the expected version, create
//     master (ephemeral) and a terms/ record. If that reply is lost, it
//     recognises its own master znode on the next try and adopts the term.
//     When the next in line's predecessor is deleted, it sends that Multi at
//     once from the inputs read while waiting ("ahead"): the predecessor's
//     term is over and its master znode gone with it (Resign deletes both in
//     one Multi, a session's end both ephemerals together), and the Multi
//     itself refuses inputs gone stale (the epoch's version moved, a master
//     znode remains, the candidate znode is gone), after which the ordinary
//     step reads everything and tries again. A handover's win is then one
//     quorum write after the watch event, not three round trips and a write.
//     Config.WinOps adds the caller's ops to each winning Multi, applied if
//     and only if the term is won (the node puts the would-be master's
//     first plan there: master.Prefetch.Ops; a handover then costs one
//     quorum write, not two). A Multi refused with them is sent once more
//     without them.
//  4. The winner holds a Term. The term ends, for good, when the session
//     expires, the session's safe deadline passes, a fenced write is
//     rejected, the epoch znode changes or vanishes under it (the term
//     watches it, so an operator's bump or a newer winner ends the term at
//     once, not at its next write), or it resigns. Resign deletes master and the candidate znode
//     in one fenced Multi, so the successor is woken at once.
//
// Every master write is a Multi led by a CheckVersion of the epoch znode
// against the version the term wrote (Term.Fenced), as Kafka's ZooKeeper-era
// controller does (KAFKA-6082). A master that was paused past its session
// timeout and then resumes is refused twice over: locally, because its safe
// deadline has passed, and by ZooKeeper, because the epoch znode's version
// has moved on.
//
// # Guarantees
//
//   - At most one live term per epoch: a term's epoch is the value its own
//     Multi wrote into epoch, with the expected version, and each successful
//     Multi raises it by exactly one.
//   - A write through Term.Fenced is applied only if no later master has been
//     elected; otherwise it fails with ErrFenced and the term ends.
//   - A node acts as master (Term.Context live) only before its safe
//     deadline, which passes before ZooKeeper can expire its session and let
//     another node win (see package session for the argument).
//   - Crash detection is session expiry: a crashed master is replaced once
//     ZooKeeper expires its session, i.e. within the session timeout rounded
//     up to the server's tickTime, plus one watch notification.
//
// # Znodes owned (under Config.Root, default /stocksys/<cluster>)
//
//	election/             persistent; candidates: ephemeral-sequential
//	                      _c_<GUID>-n_<seq>, data = node id
//	epoch                 persistent; data = current epoch, decimal; its
//	                      version is what fenced writes check
//	master                ephemeral; JSON tasks.MasterDoc {id, epoch, addr, session, since}
//	terms/t-<seq>         persistent-sequential; JSON tasks.TermDoc {epoch, node,
//	                      addr, session, started, ended}; the last 100 are kept
package election
