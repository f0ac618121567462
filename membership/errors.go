package membership

import "errors"

// Errors returned by this package. Compare with errors.Is.
var (
	// ErrDuplicateID: another live session holds members/<id>. The message
	// names that session (0x...) and its address. Returned by Run, which then
	// stops: two live nodes must never share an id.
	ErrDuplicateID = errors.New("membership: node id already registered by another live session")
	// ErrSessionLost: the session expired or was closed (a Watcher stops;
	// open a new session and a new Watcher).
	ErrSessionLost = errors.New("membership: session lost")
	// ErrInvalidConfig: a Config field is invalid (node ids also wrap
	// session.ErrInvalidNodeID).
	ErrInvalidConfig = errors.New("membership: invalid config")
)
