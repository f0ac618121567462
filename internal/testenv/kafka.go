package testenv

import (
	"strings"
	"testing"

	"github.com/IBM/sarama"
)

// KafkaVersion is the protocol version tests give sarama. Kafka 4 removed
// request versions older than 2.1, so sarama's default (2.1.0) is too old for
// some APIs.
var KafkaVersion = sarama.V4_0_0_0

// KafkaConfig returns a sarama config for the test servers: KafkaVersion and a
// client id naming the test.
func KafkaConfig(t testing.TB) *sarama.Config {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = KafkaVersion
	cfg.ClientID = "stocksys-test"
	return cfg
}

// KafkaTopicPrefix returns a prefix unique to this test, "t.<name>.", for the
// names of the topics it creates. On cleanup every topic whose name starts
// with the prefix is deleted.
func KafkaTopicPrefix(t testing.TB) string {
	t.Helper()
	brokers := KafkaBrokers(t)
	prefix := "t." + Name(t, "-") + "."
	t.Cleanup(func() {
		admin, err := sarama.NewClusterAdmin(brokers, KafkaConfig(t))
		if err != nil {
			t.Logf("testenv: cleanup of topics %s*: %v", prefix, err)
			return
		}
		defer admin.Close()
		topics, err := admin.ListTopics()
		if err != nil {
			t.Logf("testenv: cleanup of topics %s*: %v", prefix, err)
			return
		}
		for name := range topics {
			if strings.HasPrefix(name, prefix) {
				if err := admin.DeleteTopic(name); err != nil {
					t.Logf("testenv: delete topic %s: %v", name, err)
				}
			}
		}
	})
	return prefix
}
