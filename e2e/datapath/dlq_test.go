package datapath

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/stream"
)

// TestIntegration_MalformedMessage: while 2 nodes replay a real SPY day, two
// malformed messages are written with a plain sarama producer to SPY's
// partition of the quotes topic (raw bytes that are not JSON, a valid quote
// without the epoch header), and a third that decodes, with its epoch header,
// but holds an impossible quote (close -5: the node's ingest applies
// quote.Validate again; stored, it would overwrite a real row). Each lands in the dead-letter topic with
// its bytes, a non-empty reason header and its original position; the
// partition keeps flowing: the valid quotes produced after them are stored
// (every SPY row of the source, the committed offset at the high-water mark
// past them), and the nodes count 3 dead letters.
func TestIntegration_MalformedMessage(t *testing.T) {
	t.Parallel()
	srv := sharedServers(t)
	dir := t.TempDir()
	want := sourceQuotes(t, "SPY", leanDays(t, dir, "20131007")...)
	c := newCluster(t, srv)
	addSymbol(t, c, "SPY", "replay:"+dir+"?speed=3000") // 16 h of market time in about 19 s
	c.Up(2, "--session-timeout", sessionTimeout.String(), "--partitions", "3")
	c.WaitStatus(60*time.Second, "2 nodes running every task", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 4 && proctest.AllRunning(r, "node-1", "node-2")
	})
	c.WaitStatus(60*time.Second, "50 quotes ingested", func(r *status.Report) bool { return progress(r, "ingest") >= 50 })

	cfg := kafkaConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	prod, err := sarama.NewSyncProducer(srv.kafka, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer prod.Close()
	valid, err := stream.Encode(want[0])
	if err != nil {
		t.Fatal(err)
	}
	impossible := want[0]
	impossible.Close, impossible.Low = -5, -5
	imp, err := stream.Encode(impossible)
	if err != nil {
		t.Fatal(err)
	}
	bad := []*sarama.ProducerMessage{
		{Topic: c.Topic, Key: sarama.StringEncoder("SPY"), Value: sarama.ByteEncoder([]byte("\x00\xffnot a quote{"))},
		{Topic: c.Topic, Key: sarama.StringEncoder("SPY"), Value: sarama.ByteEncoder(valid)}, // no epoch header
		{Topic: c.Topic, Key: sarama.StringEncoder("SPY"), Value: sarama.ByteEncoder(imp),
			Headers: []sarama.RecordHeader{{Key: []byte(stream.HeaderEpoch), Value: []byte("1")}}},
	}
	if err := prod.SendMessages(bad); err != nil {
		t.Fatalf("produce malformed messages: %v", err)
	}
	for _, m := range bad {
		t.Logf("malformed message written at partition %d offset %d", m.Partition, m.Offset)
	}
	part := bad[0].Partition

	hw, took := waitDone(t, srv, openStore(t, srv, c.Keyspace), c.Topic, map[string]time.Time{"SPY": lastTS(want)}, 90*time.Second)
	t.Logf("replay done %v after the malformed messages; partition %d high-water %d", took.Round(time.Millisecond), part, hw[part])
	lastBad := bad[len(bad)-1]
	if after := hw[part] - lastBad.Offset - 1; after <= 0 {
		t.Errorf("no message after the malformed ones in partition %d (high-water %d); the test proves nothing", part, hw[part])
	} else {
		t.Logf("%d messages after the malformed ones in partition %d, all ingested (committed = high-water)", after, part)
	}
	st := openStore(t, srv, c.Keyspace)
	days := checkQuotes(t, st, "SPY", want)
	t.Logf("SPY rows per day %v; source %d", days, len(want))

	// The dead letters.
	dead := readAll(t, srv.kafka, c.Topic+".dlq")
	if len(dead) != len(bad) {
		t.Errorf("%d messages in %s.dlq; want %d", len(dead), c.Topic, len(bad))
	}
	for i, m := range bad {
		var found *sarama.ConsumerMessage
		for _, d := range dead {
			if header(d, stream.HeaderOriginalOffset) == strconv.FormatInt(m.Offset, 10) &&
				header(d, stream.HeaderOriginalPartition) == strconv.Itoa(int(m.Partition)) {
				found = d
			}
		}
		if found == nil {
			t.Errorf("malformed message %d (offset %d) not in the DLQ", i, m.Offset)
			continue
		}
		val, _ := m.Value.Encode()
		reason := header(found, stream.HeaderReason)
		t.Logf("DLQ: offset %d -> %s/%d@%d reason %q", m.Offset, found.Topic, found.Partition, found.Offset, reason)
		if reason == "" {
			t.Errorf("dead letter of offset %d has no reason header", m.Offset)
		}
		if !bytes.Equal(found.Value, val) || string(found.Key) != "SPY" {
			t.Errorf("dead letter of offset %d: key %q value %q; want SPY, %q", m.Offset, found.Key, found.Value, val)
		}
		if got := header(found, stream.HeaderOriginalTopic); got != c.Topic {
			t.Errorf("dead letter original.topic %q; want %q", got, c.Topic)
		}
	}
	var n float64
	for i := 1; i <= 2; i++ {
		v, err := metric(c.HTTPBase, i, "stocksys_messages_dead_lettered_total")
		if err != nil {
			t.Errorf("node-%d /metrics: %v", i, err)
		}
		n += v
	}
	if n != float64(len(bad)) {
		t.Errorf("stocksys_messages_dead_lettered_total summed over the nodes = %v; want %d", n, len(bad))
	}

	// stocksys status: the dead letters are the partition's task's last
	// error, and with every partition ingested the measured lag is 0.
	r, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if r.LagError != "" {
		t.Errorf("status lag_error %q; want the lag measured", r.LagError)
	}
	for _, x := range r.Tasks {
		if x.Type != "ingest" {
			continue
		}
		if x.LagSource != status.LagMeasured || x.Lag == nil || *x.Lag != 0 || x.HighWater == nil || *x.HighWater != hw[partOf(x.ID)] {
			js, _ := json.Marshal(x)
			t.Errorf("%s: %s; want lag 0 measured at high-water %d", x.ID, js, hw[partOf(x.ID)])
		}
		if partOf(x.ID) != part {
			continue
		}
		want := fmt.Sprintf("(last: offset %d: ", lastBad.Offset)
		if !strings.HasPrefix(x.LastError, "dead-lettered ") || !strings.Contains(x.LastError, want) {
			t.Errorf("%s: last_error %q; want \"dead-lettered N messages %s...)\"", x.ID, x.LastError, want)
		}
		t.Logf("%s: last_error %q", x.ID, x.LastError)
	}
}

// partOf returns the partition of an ingest task id ("ingest/2": 2).
func partOf(id string) int32 {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "ingest/"))
	return int32(n)
}

// readAll returns every message of every partition of topic, from the oldest
// to the high-water mark read first.
func readAll(t *testing.T, brokers []string, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	hw, err := highWater(ctx, brokers, topic)
	if err != nil {
		t.Fatalf("high-water marks of %s: %v", topic, err)
	}
	cons, err := sarama.NewConsumer(brokers, kafkaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var out []*sarama.ConsumerMessage
	for p, h := range hw {
		if h == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		for next := int64(0); next < h; {
			select {
			case m := <-pc.Messages():
				out = append(out, m)
				next = m.Offset + 1
			case <-ctx.Done():
				pc.Close()
				t.Fatalf("reading %s/%d: %v", topic, p, ctx.Err())
			}
		}
		pc.Close()
	}
	return out
}

func header(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}
