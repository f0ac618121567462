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

	// ErrClosed is returned by Producer.Send and TxProducer.Send after Close.
	ErrClosed = errors.New("stream: producer closed")

	// ErrProducerFenced is returned by TxProducer.Send (and NewTxProducer)
	// when a newer producer initialised the same transactional id: another
	// owner of the task took over (Kafka PRODUCER_FENCED; also
	// INVALID_PRODUCER_EPOCH, which brokers answer to a produce request of a
	// fenced epoch). The transaction is aborted, none of its records or its
	// checkpoint is visible to read_committed consumers, and the producer is
	// unusable: every later Send returns it again. Do not create a new
	// producer for the task unless it is assigned to this node again: that
	// would fence the new owner in turn.
	ErrProducerFenced = errors.New("stream: producer fenced by a newer owner of its transactional id")

	// ErrProducerUnusable is returned by TxProducer.Send after an earlier
	// Send left the producer in a state it cannot leave by itself: an unknown
	// outcome (timeout, cancelled ctx) or a fatal error other than fencing
	// (sarama's ProducerTxnFlagFatalError, e.g. an authorization failure or
	// an expired transactional id). Close it; a new TxProducer for the same
	// task (if this node still owns it) aborts or completes the transaction
	// left open, after which ReadCheckpoint shows what was committed.
	ErrProducerUnusable = errors.New("stream: transactional producer unusable")

	// ErrTxAborted is returned by TxProducer.Send when the transaction was
	// aborted after a recoverable failure (a produce request refused, a
	// retriable broker error that outlasted the retries): none of its records
	// or its checkpoint is visible to read_committed consumers, and the
	// producer can be used again.
	ErrTxAborted = errors.New("stream: transaction aborted")

	// ErrInvalidTransactionalID is returned by TransactionalID and
	// NewTxProducer for a cluster name or task id from which no valid
	// transactional id can be made; the error names the input.
	ErrInvalidTransactionalID = errors.New("stream: invalid transactional id")

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
