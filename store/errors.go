package store

import "errors"

// Errors returned by this package. Compare with errors.Is; they are wrapped
// with context (the table, key and values involved). Errors from gocql are
// wrapped with %w, so gocql's own error values stay reachable too.
var (
	// ErrNoKeyspace: Open with ReadOnly found no such keyspace.
	ErrNoKeyspace = errors.New("store: no such keyspace")
	// ErrInvalidConfig: a Config field is out of range or unparsable. The
	// message names the field and the value.
	ErrInvalidConfig = errors.New("store: invalid config")
	// ErrFenced: an offset or checkpoint commit was refused because the
	// stored row carries a higher fencing token than the caller's: a newer
	// owner has taken over. The message gives the stored token and node. The
	// caller has been deposed and must stop working on that partition or
	// symbol.
	ErrFenced = errors.New("store: fenced: a newer owner's token holds this row")
	// ErrInvalidQuote: a quote given to WriteQuotes has no symbol or a zero
	// timestamp. Nothing of that call was written.
	ErrInvalidQuote = errors.New("store: invalid quote")
	// ErrInvalidInterval: a bar interval other than "1m", "5m", "1h" or "1d".
	ErrInvalidInterval = errors.New("store: invalid bar interval")
	// ErrContention: a fenced commit lost the insert race and then the
	// update race again, more times than it tries (5). Retrying is safe.
	ErrContention = errors.New("store: lightweight transaction contention")
)
