package stream

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/security"
)

// Config configures the Kafka topics, the Producer and ConsumePartition.
// Build it with DefaultConfig, then set Brokers.
type Config struct {
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string
	// Topic holds the quotes, keyed by symbol. Default "quotes".
	Topic string
	// DLQTopic receives messages the consumer cannot decode (dead letters).
	// Default "quotes.dlq".
	DLQTopic string
	// Partitions is the partition count EnsureTopics creates both topics with
	// (Kafka num.partitions). Default 6. More partitions allow more parallel
	// ingest tasks; changing it later moves symbols between partitions.
	Partitions int32
	// ReplicationFactor of the topics EnsureTopics creates (Kafka
	// default.replication.factor). Default 1 (a single broker); use 3 in
	// production, where topics are then created with min.insync.replicas=2
	// (topicConfig).
	ReplicationFactor int16
	// ClientID is sent to the brokers with every request (Kafka client.id).
	// Default "stocksys".
	ClientID string
	// SendTimeout bounds one Producer.Send call, whatever the brokers do
	// (roughly Kafka delivery.timeout.ms). It also sets the client's network
	// timeouts: dial SendTimeout/2 (socket.connection.setup.timeout.ms), read
	// and write SendTimeout (request.timeout.ms), and the broker-side wait for
	// acks=all SendTimeout/2. Default 10s.
	SendTimeout time.Duration
	// BatchMax is the most messages ConsumePartition hands on in one batch
	// (roughly Kafka max.poll.records). Default 5000. Batches are formed by
	// group commit, not by time: ConsumePartition blocks for a batch's first
	// message, then takes only what the client has already fetched, so a
	// batch is as large as what arrived while the previous one was handled,
	// up to BatchMax. BatchMax also sizes the client's message buffer
	// (sarama's ChannelBufferSize), so that a full batch can be fetched and
	// wait in memory while the handler writes the previous one: a consumer
	// holds up to about 2 x BatchMax decoded messages plus one fetch
	// response (see consumerConfig).
	BatchMax int
	// BatchWait is an optional linger: when positive, ConsumePartition waits
	// up to BatchWait after a batch's first message for more (up to
	// BatchMax) before handing the batch on, trading latency for larger
	// batches at low load. Default 0: no linger, a lone message is handed
	// on as soon as it is fetched. Negative is invalid.
	BatchWait time.Duration
	// RetryInitialInterval is the first wait before ConsumePartition retries
	// a failed handler call or dead-letter write; waits then grow by 1.5x,
	// with ±50% jitter (retry.backoff.ms). Default 100ms.
	RetryInitialInterval time.Duration
	// RetryMaxInterval caps the wait between retries (retry.backoff.max.ms).
	// Default 5s.
	RetryMaxInterval time.Duration
	// Version is the Kafka protocol version sarama speaks. Default
	// sarama.V4_0_0_0: Kafka 4 removed the request versions older than 2.1
	// that sarama's own default uses. At least V0_11_0_0 (idempotence).
	Version sarama.KafkaVersion
	// CheckQuote, if set, checks each decoded quote in ConsumePartition (the
	// node sets quote.Validate, the same check the fetch side applies); a
	// message whose quote fails it is dead-lettered like a malformed one,
	// its reason wrapping ErrInvalidQuote. Default nil: no check.
	CheckQuote func(quote.Quote) error
	// Logger receives structured logs (retries, dead letters, offset
	// resets). Default zap.NewNop().
	Logger *zap.Logger

	// ReadCommitted makes ConsumePartition read with isolation level
	// read_committed (Kafka isolation.level=read_committed): it sees the
	// records of committed transactions only, never those of aborted or still
	// open ones (a TxProducer's), and stops at the partition's last stable
	// offset while a transaction is open. Records written without a
	// transaction (Producer) are seen as before. Default true; false reads
	// everything written (read_uncommitted, Kafka's default).
	ReadCommitted bool
	// CheckpointTopic is the compacted topic where TxProducer writes the
	// fetch checkpoints, keyed by task id, and ReadCheckpoint reads them.
	// Default "": Topic + ".checkpoints" (see Config.CheckpointTopicName).
	CheckpointTopic string
	// TxTimeout is how long the transaction coordinator lets a TxProducer's
	// transaction stay open before aborting it (Kafka transaction.timeout.ms,
	// whose default is also 1m); it bounds how long a producer that hangs
	// mid-transaction (paused, cut off) holds back read_committed consumers
	// of the partitions it wrote, unless a new owner of the same
	// transactional id fences it first, which aborts the transaction at
	// once. Must be more than SendTimeout and at most the brokers'
	// transaction.max.timeout.ms (15m by default). Default 0: 1m. Used by
	// NewTxProducer only.
	TxTimeout time.Duration

	// TLS, when non-nil, connects to the brokers over TLS with these
	// settings (Kafka security.protocol SSL, or SASL_SSL with SASL); build
	// it with security.ClientTLS, which verifies the broker's certificate and
	// host name. Default nil: plaintext.
	TLS *tls.Config
	// SASL, when non-nil, authenticates every connection with
	// SASL/SCRAM-SHA-512 as this user (Kafka sasl.mechanism=SCRAM-SHA-512,
	// KIP-84; RFC 5802/7677, security.SCRAMClient). Use it with TLS: SCRAM
	// keeps the password off the wire but not the data. Default nil: no
	// authentication.
	SASL *security.Credentials
}

// defaultTxTimeout is TxTimeout's default (Kafka's transaction.timeout.ms).
const defaultTxTimeout = time.Minute

// CheckpointTopicName returns CheckpointTopic, or Topic + ".checkpoints"
// when it is empty.
func (c Config) CheckpointTopicName() string {
	if c.CheckpointTopic != "" {
		return c.CheckpointTopic
	}
	return c.Topic + ".checkpoints"
}

// DefaultConfig returns a Config with every default set and no Brokers.
func DefaultConfig() Config {
	return Config{
		Topic:                "quotes",
		DLQTopic:             "quotes.dlq",
		Partitions:           6,
		ReplicationFactor:    1,
		ClientID:             "stocksys",
		SendTimeout:          10 * time.Second,
		BatchMax:             5000,
		BatchWait:            0,
		RetryInitialInterval: 100 * time.Millisecond,
		RetryMaxInterval:     5 * time.Second,
		Version:              sarama.V4_0_0_0,
		Logger:               zap.NewNop(),
		ReadCommitted:        true,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case len(c.Brokers) == 0:
		return bad("no brokers")
	case c.Topic == "":
		return bad("empty topic")
	case c.DLQTopic == "":
		return bad("empty DLQ topic")
	case c.DLQTopic == c.Topic:
		return bad("DLQ topic %q is the quotes topic", c.DLQTopic)
	case c.Partitions < 1:
		return bad("partitions %d < 1", c.Partitions)
	case c.ReplicationFactor < 1:
		return bad("replication factor %d < 1", c.ReplicationFactor)
	case c.SendTimeout <= 0:
		return bad("send timeout %v <= 0", c.SendTimeout)
	case c.BatchMax < 1:
		return bad("batch max %d < 1", c.BatchMax)
	case c.BatchWait < 0:
		return bad("batch wait %v < 0", c.BatchWait)
	case c.RetryInitialInterval <= 0:
		return bad("retry initial interval %v <= 0", c.RetryInitialInterval)
	case c.RetryMaxInterval < c.RetryInitialInterval:
		return bad("retry max interval %v < initial interval %v", c.RetryMaxInterval, c.RetryInitialInterval)
	case !c.Version.IsAtLeast(sarama.V0_11_0_0):
		return bad("kafka version %s < 0.11 (no idempotent producer)", c.Version)
	case c.CheckpointTopicName() == c.Topic || c.CheckpointTopicName() == c.DLQTopic:
		return bad("checkpoint topic %q is the quotes or DLQ topic", c.CheckpointTopicName())
	case c.TxTimeout < 0:
		return bad("transaction timeout %v < 0", c.TxTimeout)
	case c.SASL != nil && (c.SASL.User == "" || c.SASL.Password == ""):
		return bad("SASL %s: empty user or password", c.SASL)
	}
	for _, b := range c.Brokers {
		if b == "" {
			return bad("empty broker address")
		}
	}
	return nil
}

func (c Config) logger() *zap.Logger {
	if c.Logger == nil {
		return zap.NewNop()
	}
	return c.Logger
}

// saramaConfig returns the settings shared by every client: version, client
// id, and network and metadata timeouts bounded by SendTimeout.
func (c Config) saramaConfig() *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = c.Version
	sc.ClientID = c.ClientID
	if sc.ClientID == "" {
		sc.ClientID = "stocksys"
	}
	sc.Net.DialTimeout = c.SendTimeout / 2
	sc.Net.ReadTimeout = c.SendTimeout
	sc.Net.WriteTimeout = c.SendTimeout
	// Do not fetch the whole cluster's metadata at client creation: a client
	// can then be created while the brokers are down, and fails per request.
	sc.Metadata.Full = false
	sc.Metadata.AllowAutoTopicCreation = false
	sc.Metadata.Retry.Max = 2
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	sc.Metadata.Timeout = c.SendTimeout
	if c.TLS != nil {
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = c.TLS.Clone()
	}
	if c.SASL != nil {
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Handshake = true
		sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		sc.Net.SASL.User, sc.Net.SASL.Password = c.SASL.User, c.SASL.Password
		sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &security.SCRAMClient{} }
	}
	return sc
}

// CheckLogin connects to the broker addr (host:port) with c's TLS and SASL
// settings and network timeouts (c.Brokers is not used) and asks it for
// metadata. It returns sarama's error as it is: ErrSASLAuthenticationFailed
// for a refused login, a TLS error, io.EOF when the broker closes the
// connection (a TLS listener met in plaintext), a dial error when addr does
// not answer.
func CheckLogin(c Config, addr string) error {
	b := sarama.NewBroker(addr)
	if err := b.Open(c.saramaConfig()); err != nil {
		return err
	}
	defer b.Close()
	_, err := b.GetMetadata(&sarama.MetadataRequest{Version: 7})
	return err
}

// producerMaxRequestBytes caps the bytes of one partition's records in one
// produce request (sarama Producer.MaxMessageBytes, Kafka max.request.size
// per batch). 1 MiB, sarama's default: at most the broker's default
// message.max.bytes (1 MiB + 12), which would refuse a larger record batch.
const producerMaxRequestBytes = 1 << 20

// producerConfig is saramaConfig plus the idempotent producer: acks=all, one
// request in flight per connection (max.in.flight.requests.per.connection=1,
// which keeps per-partition order across retries), and retries bounded so
// that every message comes back, as a success or an error, in bounded time.
//
// No linger (linger.ms=0): Producer.Flush.Frequency, Bytes, Messages and
// MaxMessages are all 0, which sarama reads as "flush as soon as possible":
// a message is sent as soon as its partition has no request in flight, so a
// lone quote waits for no timer. The messages that arrive while a request is
// in flight accumulate and leave together in the next one, up to
// producerMaxRequestBytes per partition and with no message count limit
// (Flush.MaxMessages 0). Batching is thus self-clocking, like the consumer's:
// a Send of 5,000 quotes (~1 MB) goes in as many requests as round trips
// pass while sarama's goroutines take the quotes in (about 5-35 on one
// machine), each carrying what piled up meanwhile; fewer, larger requests
// would need a linger (Flush.Frequency), which we do not want.
func (c Config) producerConfig() *sarama.Config {
	sc := c.saramaConfig()
	sc.Producer.Flush.Frequency = 0
	sc.Producer.Flush.Bytes = 0
	sc.Producer.Flush.Messages = 0
	sc.Producer.Flush.MaxMessages = 0
	sc.Producer.MaxMessageBytes = producerMaxRequestBytes
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Timeout = c.SendTimeout / 2
	sc.Producer.Retry.Max = 3
	sc.Producer.Retry.Backoff = 100 * time.Millisecond
	// InitProducerID at producer creation (sarama's default is 50 retries).
	sc.Producer.Transaction.Retry.Max = 2
	sc.Producer.Transaction.Retry.Backoff = 100 * time.Millisecond
	return sc
}

// Consumer fetch settings (see consumerConfig).
const (
	// consumerFetchBytes is the partition's share of one fetch response
	// (sarama Consumer.Fetch.Default, Kafka max.partition.fetch.bytes):
	// 4 MiB, about 20,000 quotes of ~200 bytes (JSON value, key, headers and
	// record overhead, uncompressed), so that one round trip brings several
	// full batches (BatchMax 5000) when the consumer is behind, and a fetch
	// is never the reason a batch is small.
	consumerFetchBytes = 4 << 20
	// consumerMaxWait is how long the broker holds a fetch that finds no new
	// record (Consumer.MaxWaitTime, fetch.max.wait.ms); see consumerConfig.
	consumerMaxWait = 500 * time.Millisecond
)

// consumerConfig is saramaConfig plus consumer settings, sized so that a
// burst accumulates in the client while the handler writes a batch, and
// without any linger of the client's or the broker's:
//
//   - ChannelBufferSize = BatchMax: sarama's fetch loop feeds the partition's
//     Messages channel, and fetches again once a response is in it; with room
//     for BatchMax messages, the next batch is fetched during the handler
//     call. (sarama's Consumer.MaxProcessingTime, 100ms, only matters when
//     the channel is full, when a full batch is already waiting.)
//   - Consumer.Fetch.Min = 1 byte (fetch.min.bytes): the broker answers a
//     fetch as soon as one record is there.
//   - Consumer.Fetch.Default = consumerFetchBytes, Fetch.Max = 0 (no limit):
//     sarama doubles the fetch size when a record batch does not fit, and
//     with a positive Max it would skip a batch larger than Max
//     (ErrMessageTooLarge, offset+1), which must never happen here; brokers
//     answering fetch v3+ return an oversized first batch whole anyway.
//     Consumer.Fetch.MaxBytes (whole response) stays 50 MiB.
//   - Consumer.MaxWaitTime = consumerMaxWait (sarama's default), at most
//     SendTimeout/2: the broker holds a fetch that finds nothing new until
//     a record is appended (it answers at once then) or this time passes,
//     so it adds no latency when data arrives and only sets the idle
//     polling rate (two empty fetches a second per partition). It stays
//     below the read timeout (SendTimeout), which an idle fetch must not hit.
func (c Config) consumerConfig() *sarama.Config {
	sc := c.saramaConfig()
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.AutoCommit.Enable = false
	sc.ChannelBufferSize = max(c.BatchMax, 1)
	sc.Consumer.Fetch.Min = 1
	sc.Consumer.Fetch.Default = consumerFetchBytes
	sc.Consumer.Fetch.Max = 0
	if c.ReadCommitted {
		sc.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	sc.Consumer.MaxWaitTime = min(consumerMaxWait, c.SendTimeout/2).Truncate(time.Millisecond)
	if sc.Consumer.MaxWaitTime < time.Millisecond {
		sc.Consumer.MaxWaitTime = time.Millisecond
	}
	return sc
}
