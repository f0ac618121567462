package tasks

import "errors"

// Sentinel errors returned (wrapped with context, including the offending
// input quoted with %q) by the parsing functions of this package. Compare
// with errors.Is.
var (
	// ErrInvalidSymbol is returned by ParseSymbol (and by ParseID and
	// ParseZNodeName for fetch tasks) when a stock symbol is empty, longer
	// than MaxSymbolLen, contains a character outside A-Z 0-9 . - ^ = (after
	// ASCII upper-casing), or contains no letter or digit.
	ErrInvalidSymbol = errors.New("tasks: invalid symbol")

	// ErrInvalidID is returned by ParseID and ParseZNodeName when the input
	// is not of the form <type><sep><key> with a non-empty type, or when the
	// key of a known type is malformed (for ingest tasks: not the canonical
	// decimal form of a non-negative int32).
	ErrInvalidID = errors.New("tasks: invalid task ID")

	// ErrUnknownType is returned by ParseType, ParseID and ParseZNodeName
	// when the input is well formed but names a task type this build does
	// not know. A worker that receives such an assignment should refuse it
	// and report it instead of guessing.
	ErrUnknownType = errors.New("tasks: unknown task type")
)
