package stream

import (
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Topic != "quotes" || c.DLQTopic != "quotes.dlq" || c.Partitions != 6 || c.ReplicationFactor != 1 ||
		c.ClientID != "stocksys" || c.SendTimeout != 10*time.Second || c.BatchMax != 5000 ||
		c.BatchWait != 0 || c.RetryInitialInterval != 100*time.Millisecond ||
		c.RetryMaxInterval != 5*time.Second || c.Version != sarama.V4_0_0_0 || c.Logger == nil || c.Brokers != nil {
		t.Fatalf("DefaultConfig = %+v", c)
	}
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) || err.Error() != "stream: invalid config: no brokers" {
		t.Fatalf("Validate without brokers = %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"empty broker", func(c *Config) { c.Brokers = []string{"a:1", ""} }, "empty broker address"},
		{"empty topic", func(c *Config) { c.Topic = "" }, "empty topic"},
		{"empty dlq", func(c *Config) { c.DLQTopic = "" }, "empty DLQ topic"},
		{"dlq is topic", func(c *Config) { c.DLQTopic = "quotes" }, `DLQ topic "quotes" is the quotes topic`},
		{"partitions", func(c *Config) { c.Partitions = 0 }, "partitions 0 < 1"},
		{"replication", func(c *Config) { c.ReplicationFactor = 0 }, "replication factor 0 < 1"},
		{"send timeout", func(c *Config) { c.SendTimeout = 0 }, "send timeout 0s <= 0"},
		{"batch max", func(c *Config) { c.BatchMax = 0 }, "batch max 0 < 1"},
		{"batch wait", func(c *Config) { c.BatchWait = -time.Second }, "batch wait -1s < 0"},
		{"batch wait linger", func(c *Config) { c.BatchWait = 50 * time.Millisecond }, ""},
		{"retry initial", func(c *Config) { c.RetryInitialInterval = 0 }, "retry initial interval 0s <= 0"},
		{"retry max", func(c *Config) { c.RetryMaxInterval = time.Millisecond }, "retry max interval 1ms < initial interval 100ms"},
		{"old version", func(c *Config) { c.Version = sarama.V0_10_2_0 }, "kafka version 0.10.2.0 < 0.11 (no idempotent producer)"},
	} {
		c := DefaultConfig()
		c.Brokers = []string{"127.0.0.1:9092"}
		tt.mod(&c)
		err := c.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: Validate = %v; want nil", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || err.Error() != "stream: invalid config: "+tt.want {
			t.Errorf("%s: Validate = %v; want %q", tt.name, err, tt.want)
		}
	}
}

func TestProducerConfigBounds(t *testing.T) {
	c := DefaultConfig()
	c.Brokers = []string{"127.0.0.1:9092"}
	c.SendTimeout = 4 * time.Second
	sc := c.producerConfig()
	if err := sc.Validate(); err != nil {
		t.Fatalf("sarama rejects the producer config: %v", err)
	}
	if !sc.Producer.Idempotent || sc.Producer.RequiredAcks != sarama.WaitForAll || sc.Net.MaxOpenRequests != 1 ||
		sc.Producer.Timeout != 2*time.Second || sc.Producer.Retry.Max != 3 || sc.Net.DialTimeout != 2*time.Second ||
		sc.Net.ReadTimeout != 4*time.Second || sc.Net.WriteTimeout != 4*time.Second || sc.Metadata.Retry.Max != 2 ||
		sc.Metadata.Full || sc.Producer.Transaction.Retry.Max != 2 || sc.Version != sarama.V4_0_0_0 || sc.ClientID != "stocksys" {
		t.Fatalf("producer config = %+v", sc)
	}
	if f := sc.Producer.Flush; f.Frequency != 0 || f.Bytes != 0 || f.Messages != 0 || f.MaxMessages != 0 ||
		sc.Producer.MaxMessageBytes != 1<<20 {
		t.Fatalf("producer flush = %+v, max message bytes %d; want no linger, 1 MiB", f, sc.Producer.MaxMessageBytes)
	}
	if err := c.consumerConfig().Validate(); err != nil {
		t.Fatalf("sarama rejects the consumer config: %v", err)
	}
}

// TestConsumerConfigBuffers: the client buffers a full batch, fetches 4 MiB
// per partition with no size limit and no broker-side linger, and an idle
// fetch stays under the read timeout.
func TestConsumerConfigBuffers(t *testing.T) {
	c := DefaultConfig()
	c.Brokers = []string{"127.0.0.1:9092"}
	sc := c.consumerConfig()
	if err := sc.Validate(); err != nil {
		t.Fatalf("sarama rejects the consumer config: %v", err)
	}
	if sc.ChannelBufferSize != 5000 || sc.Consumer.Fetch.Min != 1 || sc.Consumer.Fetch.Default != 4<<20 ||
		sc.Consumer.Fetch.Max != 0 || sc.Consumer.MaxWaitTime != 500*time.Millisecond ||
		!sc.Consumer.Return.Errors || sc.Consumer.Offsets.AutoCommit.Enable {
		t.Fatalf("consumer config: buffer %d, fetch %+v, max wait %v", sc.ChannelBufferSize, sc.Consumer.Fetch, sc.Consumer.MaxWaitTime)
	}
	c.SendTimeout, c.BatchMax = 500*time.Millisecond, 7
	sc = c.consumerConfig()
	if sc.Consumer.MaxWaitTime != 250*time.Millisecond || sc.ChannelBufferSize != 7 {
		t.Fatalf("SendTimeout 500ms, BatchMax 7: max wait %v, buffer %d; want 250ms, 7", sc.Consumer.MaxWaitTime, sc.ChannelBufferSize)
	}
	if err := sc.Validate(); err != nil {
		t.Fatalf("sarama rejects the consumer config: %v", err)
	}
}

// TestTxConfig: the isolation level follows ReadCommitted (default on), the
// checkpoint topic defaults to <Topic>.checkpoints and must differ from the
// other two, and the transactional settings reach sarama.
func TestTxConfig(t *testing.T) {
	c := DefaultConfig()
	c.Brokers = []string{"k:9092"}
	if !c.ReadCommitted || c.consumerConfig().Consumer.IsolationLevel != sarama.ReadCommitted {
		t.Fatalf("default isolation: ReadCommitted %v, sarama %v", c.ReadCommitted, c.consumerConfig().Consumer.IsolationLevel)
	}
	c.ReadCommitted = false
	if c.consumerConfig().Consumer.IsolationLevel != sarama.ReadUncommitted {
		t.Fatal("ReadCommitted=false still reads read_committed")
	}
	if got := c.CheckpointTopicName(); got != "quotes.checkpoints" {
		t.Fatalf("CheckpointTopicName = %q", got)
	}
	c.CheckpointTopic = "quotes.dlq"
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("checkpoint topic = DLQ topic: %v", err)
	}
	c.CheckpointTopic = "cp"
	c.TxTimeout = -time.Second
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("negative TxTimeout: %v", err)
	}
	c.TxTimeout = 0
	sc := c.txConfig("stocksys.x.fetch.SPY")
	if sc.Producer.Transaction.ID != "stocksys.x.fetch.SPY" || sc.Producer.Transaction.Timeout != time.Minute ||
		!sc.Producer.Idempotent || sc.Net.MaxOpenRequests != 1 || sc.Producer.RequiredAcks != sarama.WaitForAll {
		t.Fatalf("txConfig = %+v", sc.Producer)
	}
	if err := sc.Validate(); err != nil {
		t.Fatalf("txConfig does not validate: %v", err)
	}
}

func TestTopicConfigMinInSync(t *testing.T) {
	for _, tc := range []struct {
		rf   int16
		want string // "" for no topic-level setting
	}{{1, ""}, {2, ""}, {3, "2"}, {5, "2"}} {
		c := DefaultConfig()
		c.ReplicationFactor = tc.rf
		got := topicConfig(c)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("rf %d: %v; want the brokers' default", tc.rf, got)
		case tc.want != "" && (got["min.insync.replicas"] == nil || *got["min.insync.replicas"] != tc.want):
			t.Errorf("rf %d: %v; want min.insync.replicas=%s", tc.rf, got, tc.want)
		}
	}
}
