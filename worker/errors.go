package worker

import "errors"

// Errors returned by this package; compare with errors.Is.
var (
	// ErrInvalidConfig: a Config field is missing or out of range.
	ErrInvalidConfig = errors.New("worker: invalid config")
	// ErrNoRunner: an assigned task's type has no runner on this node; the
	// task is refused and reported in status.
	ErrNoRunner = errors.New("worker: no runner for task type")
)
