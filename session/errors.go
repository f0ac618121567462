package session

import "errors"

// Errors returned by this package. Compare with errors.Is; they are wrapped
// with context.
var (
	// ErrExpired: ZooKeeper expired the session. Its ephemeral znodes are gone;
	// open a new Session.
	ErrExpired = errors.New("session: expired")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("session: closed")
	// ErrUnsafe: the safe deadline has passed (see the package doc); the
	// session may still be alive, but this node must not act on it until a
	// new heartbeat is answered.
	ErrUnsafe = errors.New("session: past the safe deadline")
	// ErrTimeoutOutOfRange: the server negotiated a session timeout other than
	// the one requested, because the request lies outside the server's
	// [minSessionTimeout, maxSessionTimeout]. The message gives the range.
	ErrTimeoutOutOfRange = errors.New("session: timeout outside the server's allowed range")
	// ErrConnect: no session could be established before the connect timeout.
	ErrConnect = errors.New("session: could not establish a session")
	// ErrInvalidNodeID: a node id is not 1-64 characters of [A-Za-z0-9._-],
	// or is "." or "..". Returned before any znode path is built.
	ErrInvalidNodeID = errors.New("session: invalid node id")
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("session: invalid config")
)
