package stream

import (
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
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
	// production.
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
	// (roughly Kafka max.poll.records). Default 500.
	BatchMax int
	// BatchWait is how long ConsumePartition waits, after the first message of
	// a batch, for more before handing the batch on (a linger on the consumer
	// side, like fetch.max.wait.ms). Default 200ms.
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
	// Logger receives structured logs (retries, dead letters, offset
	// resets). Default zap.NewNop().
	Logger *zap.Logger
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
		BatchMax:             500,
		BatchWait:            200 * time.Millisecond,
		RetryInitialInterval: 100 * time.Millisecond,
		RetryMaxInterval:     5 * time.Second,
		Version:              sarama.V4_0_0_0,
		Logger:               zap.NewNop(),
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
	case c.BatchWait <= 0:
		return bad("batch wait %v <= 0", c.BatchWait)
	case c.RetryInitialInterval <= 0:
		return bad("retry initial interval %v <= 0", c.RetryInitialInterval)
	case c.RetryMaxInterval < c.RetryInitialInterval:
		return bad("retry max interval %v < initial interval %v", c.RetryMaxInterval, c.RetryInitialInterval)
	case !c.Version.IsAtLeast(sarama.V0_11_0_0):
		return bad("kafka version %s < 0.11 (no idempotent producer)", c.Version)
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
	return sc
}

// producerConfig is saramaConfig plus the idempotent producer: acks=all, one
// request in flight per connection (max.in.flight.requests.per.connection=1,
// which keeps per-partition order across retries), and retries bounded so
// that every message comes back, as a success or an error, in bounded time.
func (c Config) producerConfig() *sarama.Config {
	sc := c.saramaConfig()
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

// consumerConfig is saramaConfig plus consumer settings.
func (c Config) consumerConfig() *sarama.Config {
	sc := c.saramaConfig()
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.AutoCommit.Enable = false
	return sc
}
