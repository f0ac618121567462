package stream

import "errors"

// Sentinel errors. Functions wrap them with context (%w); compare with
// errors.Is.
var (
	// ErrInvalidConfig is returned by Config.Validate and by every function
	// given an invalid Config.
	ErrInvalidConfig = errors.New("stream: invalid config")

	// ErrPartitionCount is returned by EnsureTopics when the quotes topic
	// already exists with a partition count other than Config.Partitions. The
	// topic is left as it is.
	ErrPartitionCount = errors.New("stream: topic exists with a different partition count")

	// ErrNoTopic is returned by Partitions when the quotes topic does not exist.
	ErrNoTopic = errors.New("stream: topic does not exist")

	// ErrNoPartition is returned by ConsumePartition when the partition does
	// not exist in the quotes topic.
	ErrNoPartition = errors.New("stream: no such partition")

	// ErrInvalidQuote is the dead-letter reason of a message that decodes
	// but whose quote fails Config.Validate (an impossible price, a
	// malformed symbol, a time in the future).
	ErrInvalidQuote = errors.New("stream: invalid quote")

	// ErrInvalidOffset is returned by ConsumePartition for a negative start
	// offset.
	ErrInvalidOffset = errors.New("stream: invalid start offset")

	// ErrSendTimeout is returned by Producer.Send when Config.SendTimeout
	// passed before the broker acknowledged every quote. The outcome is
	// unknown: some or all of the quotes may still be written.
	ErrSendTimeout = errors.New("stream: send timed out (outcome unknown)")

	// ErrSendFailed is returned by Producer.Send when the broker or the client
	// refused at least one quote (for example an unknown topic, or no broker
	// reachable before the client's bounded retries ran out). Quotes not named
	// in the error may have been written.
	ErrSendFailed = errors.New("stream: send failed")

	// ErrClosed is returned by Producer.Send after Close.
	ErrClosed = errors.New("stream: producer closed")

	// Decode errors. Each names the problem; the consumer puts the text in the
	// dead-letter message's "reason" header.

	// ErrMalformed: the value is not a JSON object of the expected shape (bad
	// syntax, wrong types, a bad timestamp, a non-integer volume).
	ErrMalformed = errors.New("stream: malformed message")
	// ErrSchemaVersion: the "v" field names a schema version this code does
	// not know (only SchemaVersion is known).
	ErrSchemaVersion = errors.New("stream: unknown schema version")
	// ErrMissingField: a required field is absent or null.
	ErrMissingField = errors.New("stream: missing field")
	// ErrNonFinite: a price is NaN or infinite (or overflows float64).
	ErrNonFinite = errors.New("stream: non-finite number")
	// ErrKeyMismatch: the message key is not the quote's symbol.
	ErrKeyMismatch = errors.New("stream: key does not match symbol")
	// ErrBadHeader: the epoch header is missing or not a decimal integer.
	ErrBadHeader = errors.New("stream: bad header")
)

// permanentError marks a handler error as fatal; see Permanent.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that ConsumePartition stops retrying the batch and
// returns an error wrapping err (for example when the handler finds its epoch
// fenced). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}
