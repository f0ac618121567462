package testenv_test

import (
	"errors"
	"fmt"
	"path"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"gopkg.in/inf.v0"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/zkapi"
)

// TestIntegration_ZooKeeperSmoke creates, reads (data and version), updates and
// deletes a znode on the real server.
func TestIntegration_ZooKeeperSmoke(t *testing.T) {
	c := testenv.ZKConn(t, 10*time.Second)
	root := testenv.ZKRoot(t)
	if _, err := c.Create(testenv.ZKTestRoot, nil, 0, zkapi.OpenACL()); err != nil && !errors.Is(err, zkapi.ErrNodeExists) {
		t.Fatalf("create %s: %v", testenv.ZKTestRoot, err)
	}
	if _, err := c.Create(root, nil, 0, zkapi.OpenACL()); err != nil {
		t.Fatalf("create %s: %v", root, err)
	}
	p := path.Join(root, "hello")
	got, err := c.Create(p, []byte("v1"), 0, zkapi.OpenACL())
	if err != nil || got != p {
		t.Fatalf("create %s = %q, %v", p, got, err)
	}
	data, st, err := c.Get(p)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if string(data) != "v1" || st.Version != 0 || st.EphemeralOwner != 0 {
		t.Fatalf("get = %q version %d owner %d; want v1, 0, 0", data, st.Version, st.EphemeralOwner)
	}
	st, err = c.Set(p, []byte("v2"), 0)
	if err != nil || st.Version != 1 {
		t.Fatalf("set with version 0: version %v, %v; want 1", st, err)
	}
	if _, err := c.Set(p, []byte("v3"), 0); !errors.Is(err, zkapi.ErrBadVersion) {
		t.Fatalf("set with stale version 0: err %v; want ErrBadVersion", err)
	}
	if err := c.Delete(p, 1); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if ok, _, err := c.Exists(p); err != nil || ok {
		t.Fatalf("exists after delete = %v, %v; want false", ok, err)
	}
}

// TestIntegration_KafkaSmoke produces 1,000 keyed messages with the idempotent
// producer (acks=all) and reads them back: same keys and values, and each key's
// messages in order within its partition.
func TestIntegration_KafkaSmoke(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.KafkaTopicPrefix(t) + "smoke"
	const partitions, n = 3, 1000

	cfg := testenv.KafkaConfig(t)
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}

	pcfg := testenv.KafkaConfig(t)
	pcfg.Producer.Idempotent = true
	pcfg.Producer.RequiredAcks = sarama.WaitForAll
	pcfg.Producer.Return.Successes = true
	pcfg.Net.MaxOpenRequests = 1
	pcfg.Producer.Retry.Max = 5
	prod, err := sarama.NewSyncProducer(brokers, pcfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer prod.Close()
	type rec struct{ key, value string }
	sent := make(map[int32][]rec)
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder(fmt.Sprintf("SYM%d", i%17)),
			Value: sarama.StringEncoder(fmt.Sprintf("quote-%04d", i)),
		}
	}
	if err := prod.SendMessages(msgs); err != nil {
		t.Fatalf("send: %v", err)
	}
	// Partition and offset are filled in by SendMessages; order within a
	// partition is offset order.
	for _, m := range msgs {
		k, _ := m.Key.Encode()
		v, _ := m.Value.Encode()
		sent[m.Partition] = append(sent[m.Partition], rec{string(k), string(v)})
	}

	cons, err := sarama.NewConsumer(brokers, testenv.KafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	total := 0
	keyPartition := map[string]int32{}
	for p := int32(0); p < partitions; p++ {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume partition %d: %v", p, err)
		}
		want := sent[p]
		for i := range want {
			select {
			case m := <-pc.Messages():
				got := rec{string(m.Key), string(m.Value)}
				if got != want[i] || m.Offset != int64(i) {
					t.Fatalf("partition %d offset %d = %+v; want %+v at offset %d", p, m.Offset, got, want[i], i)
				}
				if q, ok := keyPartition[got.key]; ok && q != p {
					t.Fatalf("key %s in partitions %d and %d", got.key, q, p)
				}
				keyPartition[got.key] = p
				total++
			case err := <-pc.Errors():
				t.Fatalf("partition %d: %v", p, err)
			case <-time.After(15 * time.Second):
				t.Fatalf("partition %d: timed out after %d of %d messages", p, i, len(want))
			}
		}
		pc.Close()
	}
	if total != n || len(keyPartition) != 17 {
		t.Fatalf("read %d messages with %d keys; want %d and 17", total, len(keyPartition), n)
	}
}

// TestIntegration_CassandraSmoke creates a table in a fresh keyspace, inserts
// rows and selects them back, in clustering order.
func TestIntegration_CassandraSmoke(t *testing.T) {
	_, s := testenv.CassandraKeyspace(t)
	if err := s.Query(`CREATE TABLE quotes (symbol text, day date, ts timestamp, close decimal, volume bigint,
		PRIMARY KEY ((symbol, day), ts)) WITH CLUSTERING ORDER BY (ts ASC)`).Exec(); err != nil {
		t.Fatalf("create table: %v", err)
	}
	day := time.Date(2013, 10, 7, 0, 0, 0, 0, time.UTC)
	base := time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		// Inserted newest first; the clustering order must sort them.
		ts := base.Add(time.Duration(9-i) * time.Minute)
		if err := s.Query(`INSERT INTO quotes (symbol, day, ts, close, volume) VALUES (?, ?, ?, ?, ?)`,
			"SPY", day, ts, inf.NewDec(int64(16800+9-i), 2), int64(1000*(9-i))).Exec(); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	iter := s.Query(`SELECT ts, close, volume FROM quotes WHERE symbol = ? AND day = ?`, "SPY", day).Iter()
	var (
		ts     time.Time
		closeD inf.Dec
		volume int64
		i      int
	)
	for iter.Scan(&ts, &closeD, &volume) {
		if want := base.Add(time.Duration(i) * time.Minute); !ts.Equal(want) {
			t.Errorf("row %d ts = %v; want %v", i, ts, want)
		}
		if want := fmt.Sprintf("168.%02d", i); closeD.String() != want || volume != int64(1000*i) {
			t.Errorf("row %d = %s, %d; want %s, %d", i, closeD.String(), volume, want, 1000*i)
		}
		i++
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if i != 10 {
		t.Fatalf("selected %d rows; want 10", i)
	}
}
