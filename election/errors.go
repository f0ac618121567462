package election

import "errors"

// Errors returned by this package. Compare with errors.Is; they are wrapped
// with context (and, for ErrFenced, with the cause: zk.ErrBadVersion,
// session.ErrUnsafe, session.ErrExpired or ErrResigned).
var (
	// ErrFenced: the write was not applied because this node's term is over,
	// either because ZooKeeper rejected the version check on the epoch znode
	// (another master has been elected since) or because the term had already
	// ended locally (safe deadline passed, session lost, resigned, or an
	// earlier fenced write failed). A fenced term never becomes valid again.
	ErrFenced = errors.New("election: fenced: not the master of the current epoch")
	// ErrUnknownOutcome: the connection was lost while a write was in flight;
	// it may or may not have been applied. Read back before retrying.
	ErrUnknownOutcome = errors.New("election: write outcome unknown (connection lost)")
	// ErrSessionLost: the ZooKeeper session expired or was closed; this
	// Candidate is finished. Open a new session and a new Candidate.
	ErrSessionLost = errors.New("election: session lost")
	// ErrResigned: the term ended because Resign or Close was called.
	ErrResigned = errors.New("election: resigned")
	// ErrNoMaster: no master znode exists.
	ErrNoMaster = errors.New("election: no master")
	// ErrInvalidConfig: a Config field is invalid (node ids also wrap
	// session.ErrInvalidNodeID).
	ErrInvalidConfig = errors.New("election: invalid config")
)
