package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// runStatus runs `stocksys status ARGS...` in process and returns its output
// and error.
func runStatus(ctx context.Context, args ...string) (string, error) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(append([]string{"status"}, args...))
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestStatusBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--stall-after", "0s"}, "--stall-after 0s: must be positive"},
		{[]string{"--stall-after", "-1s"}, "--stall-after -1s: must be positive"},
		{[]string{"--stall-after", "soon"}, `invalid argument "soon" for "--stall-after"`},
	} {
		_, err := runStatus(t.Context(), append(tt.args, "--zk", "127.0.0.1:1")...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("status %v: %v; want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestIntegration_StatusMeasuresLag: on the real servers, a quotes topic of 3
// partitions holds N messages in partition 1, M in partition 0 (the first
// trimmed away by DeleteRecords) and none in partition 2; partition 1's
// ingest task committed offset K in Cassandra. No runner runs: node-1 (a fake
// member) holds ingest/0 and ingest/1 and published, a minute ago, a status
// reporting lag 0 for ingest/1 and nothing for ingest/0. `stocksys status`
// reports the measured lags N-K, M-trimmed and 0, keeps the reported 0
// apart, flags ingest/1 as stalled; with Kafka unreachable it says so and
// falls back to the reported lag.
func TestIntegration_StatusMeasuresLag(t *testing.T) {
	const (
		n       = 25 // messages in partition 1
		k       = 10 // partition 1's committed offset
		m       = 9  // messages in partition 0
		trimmed = 4  // partition 0's messages deleted by DeleteRecords
	)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// Kafka: the topics, and the messages (raw bytes: lag counts offsets).
	scfg := stream.DefaultConfig()
	scfg.Brokers = testenv.KafkaBrokers(t)
	prefix := testenv.KafkaTopicPrefix(t)
	scfg.Topic, scfg.DLQTopic, scfg.Partitions = prefix+"quotes", prefix+"quotes.dlq", 3
	if err := stream.EnsureTopics(ctx, scfg); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	kc := testenv.KafkaConfig(t)
	kc.Producer.Return.Successes = true
	kc.Producer.Partitioner = sarama.NewManualPartitioner
	sp, err := sarama.NewSyncProducer(scfg.Brokers, kc)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*sarama.ProducerMessage
	for i := range n + m {
		p := int32(1)
		if i >= n {
			p = 0
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: scfg.Topic, Partition: p, Value: sarama.StringEncoder("x")})
	}
	if err := sp.SendMessages(msgs); err != nil {
		t.Fatalf("produce: %v", err)
	}
	sp.Close()
	admin, err := sarama.NewClusterAdmin(scfg.Brokers, testenv.KafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteRecords(scfg.Topic, map[int32]int64{0: trimmed}); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	admin.Close()

	// Cassandra: partition 1's committed offset, as an ingest task commits it.
	ks, _ := testenv.CassandraKeyspace(t)
	ccfg := store.DefaultConfig()
	ccfg.Hosts, ccfg.Keyspace, ccfg.Consistency = testenv.CassandraHosts(t), ks, "ONE"
	st, err := store.Open(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CommitOffset(ctx, scfg.Topic, 1, k, 3, "node-1"); err != nil {
		t.Fatal(err)
	}

	// ZooKeeper: the partitions, and node-1 with a stale status.
	cluster := testenv.Name(t, "-")
	root := "/stocksys/" + cluster
	zc := testenv.ZKConn(t, 10*time.Second)
	t.Cleanup(func() {
		if err := testenv.DeleteRecursive(zc, root); err != nil {
			t.Logf("cleanup %s: %v", root, err)
		}
	})
	p := tasks.NewPaths(root)
	if err := p.EnsureLayout(zc); err != nil {
		t.Fatal(err)
	}
	if err := session.EnsurePath(zc, p.Members, nil); err != nil {
		t.Fatal(err)
	}
	sess := tasks.SessionID(zc.SessionID())
	long := time.Now().Add(-time.Minute).UTC()
	reported := int64(0)
	put := func(p string, v any, flags int32) {
		t.Helper()
		data, _ := json.Marshal(v)
		_, err := zc.Create(p, data, flags, zkapi.OpenACL())
		if err == zkapi.ErrNodeExists {
			_, err = zc.Set(p, data, -1)
		}
		if err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	put(p.Partitions, tasks.PartitionsDoc{Epoch: 3, Partitions: []int32{0, 1, 2}, Written: long}, 0)
	put(path.Join(p.Members, "node-1"), map[string]any{"id": "node-1", "started": long, "session": sess}, zkapi.FlagEphemeral)
	put(p.Assignment("node-1"), tasks.AssignmentDoc{Node: "node-1", Session: sess, Epoch: 3,
		Tasks: []tasks.ID{"ingest/0", "ingest/1"}, Written: long}, 0)
	put(p.StatusOf("node-1"), tasks.StatusDoc{Node: "node-1", Session: sess, Epoch: 3, AppliedVersion: 0, Updated: long,
		Tasks: map[tasks.ID]tasks.TaskStatus{
			"ingest/1": {State: tasks.StateRunning, Epoch: 3, Started: long, LastProgress: long, Progress: k, Lag: &reported},
		}}, zkapi.FlagEphemeral)

	args := []string{"--cluster", cluster, "--topic", scfg.Topic, "--keyspace", ks, "--kafka", strings.Join(scfg.Brokers, ","),
		"--cassandra", strings.Join(ccfg.Hosts, ",")}
	out, err := runStatus(ctx, append(args, "--json")...)
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --json output: %v\n%s", err, out)
	}
	if r.LagError != "" {
		t.Errorf("lag_error %q; want none", r.LagError)
	}
	byID := map[string]status.Task{}
	for _, x := range r.Tasks {
		byID[x.ID] = x
	}
	for _, tt := range []struct {
		id            string
		lag, hw       int64
		committed     *int64
		reported      *int64
		stalled       bool
		stalledReason string
	}{
		{"ingest/0", m - trimmed, m, nil, nil, false, ""}, // no commit: from the oldest offset; never started: not judged by time
		{"ingest/1", n - k, n, ptr64(k), &reported, true, "no progress for 1m"},
		{"ingest/2", 0, 0, nil, nil, false, ""},
	} {
		x, ok := byID[tt.id]
		if !ok {
			t.Errorf("%s missing from the report", tt.id)
			continue
		}
		if x.LagSource != status.LagMeasured || x.Lag == nil || *x.Lag != tt.lag {
			t.Errorf("%s: lag %s (%s); want %d measured", tt.id, str64(x.Lag), x.LagSource, tt.lag)
		}
		if x.HighWater == nil || *x.HighWater != tt.hw || str64(x.Committed) != str64(tt.committed) || str64(x.ReportedLag) != str64(tt.reported) {
			t.Errorf("%s: high_water %s committed %s reported_lag %s; want %d, %s, %s", tt.id, str64(x.HighWater),
				str64(x.Committed), str64(x.ReportedLag), tt.hw, str64(tt.committed), str64(tt.reported))
		}
		if x.Stalled != tt.stalled || !strings.Contains(x.StallReason, tt.stalledReason) {
			t.Errorf("%s: stalled %v (%q); want %v (%q)", tt.id, x.Stalled, x.StallReason, tt.stalled, tt.stalledReason)
		}
	}
	if strings.Join(r.Stalled, ",") != "ingest/1" {
		t.Errorf("stalled %v; want [ingest/1]", r.Stalled)
	}

	text, err := runStatus(ctx, args...)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	t.Logf("stocksys status:\n%s", text)
	for _, want := range []string{
		"tasks (3, 1 unassigned, 1 stalled)",
		"ingest lag (messages) per partition: 0:5 1:15 2:0 (measured: Kafka high-water mark - committed offset)",
		"!! stalled (1): ingest/1: lag 15, no progress for 1m",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}

	// Kafka unreachable: said so, and the reported lag, marked.
	args[7] = "127.0.0.1:1" // --kafka
	out, err = runStatus(ctx, append(args, "--json")...)
	if err != nil {
		t.Fatalf("status --json with Kafka down: %v", err)
	}
	r = status.Report{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.LagError, "kafka: ") || !strings.Contains(r.LagError, "127.0.0.1:1") {
		t.Errorf("lag_error %q; want one naming kafka and --kafka 127.0.0.1:1", r.LagError)
	}
	for _, x := range r.Tasks {
		if x.ID == "ingest/1" && (x.LagSource != status.LagReported || str64(x.Lag) != "0" || x.HighWater != nil) {
			t.Errorf("ingest/1 with Kafka down: lag %s (%s), high_water %s; want the reported 0", str64(x.Lag), x.LagSource, str64(x.HighWater))
		}
	}
	text, err = runStatus(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stocksys status with Kafka down:\n%s", text)
	if !strings.Contains(text, "!! lag not measured: kafka: ") || !strings.Contains(text, "1:0*") {
		t.Errorf("status text with Kafka down does not say so:\n%s", text)
	}
}

// TestIntegration_StatusElectionQueueJSON: three candidates campaign on the
// real ZooKeeper; `stocksys status --json` lists them in election_queue in
// the election znodes' sequence order, with each candidate's node id and
// session, the first being the master.
func TestIntegration_StatusElectionQueueJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cluster := testenv.Name(t, "-")
	root := "/stocksys/" + cluster
	zc := testenv.ZKConn(t, 10*time.Second)
	t.Cleanup(func() {
		if err := testenv.DeleteRecursive(zc, root); err != nil {
			t.Logf("cleanup %s: %v", root, err)
		}
	})
	ids := []string{"node-3", "node-1", "node-2"} // queue order is campaign order, not id order
	sessions := map[string]int64{}
	var won chan struct{}
	for i, id := range ids {
		cfg := session.DefaultConfig(testenv.ZKServers(t)...)
		cfg.Timeout = 4 * time.Second
		s, err := session.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		ecfg := election.DefaultConfig(id)
		ecfg.Cluster = cluster
		c, err := election.NewCandidate(s, ecfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		sessions[id] = s.ID()
		done := make(chan struct{})
		if i == 0 {
			won = done
		}
		go func() {
			if _, err := c.Campaign(ctx); err == nil {
				close(done)
			}
		}()
		for deadline := time.Now().Add(10 * time.Second); c.Znode() == ""; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no candidate znode within 10s", id)
			}
		}
	}
	select {
	case <-won:
	case <-time.After(15 * time.Second):
		t.Fatal("no master within 15s")
	}

	out, err := runStatus(ctx, "--cluster", cluster, "--json")
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --json output: %v\n%s", err, out)
	}
	names, _, err := zc.Children(root + "/election")
	if err != nil {
		t.Fatal(err)
	}
	seq := func(name string) int64 {
		n, err := strconv.ParseInt(name[strings.LastIndex(name, "-n_")+3:], 10, 64)
		if err != nil {
			t.Fatalf("candidate znode %s: %v", name, err)
		}
		return n
	}
	sort.Slice(names, func(i, j int) bool { return seq(names[i]) < seq(names[j]) })
	if len(r.ElectionQueue) != len(names) || len(names) != len(ids) {
		t.Fatalf("election_queue %+v; want the %d znodes %v", r.ElectionQueue, len(ids), names)
	}
	for i, name := range names {
		data, st, err := zc.Get(root + "/election/" + name)
		if err != nil {
			t.Fatal(err)
		}
		want := status.Candidate{Node: string(data), Session: tasks.SessionString(st.EphemeralOwner), Znode: name, Seq: seq(name)}
		if got := r.ElectionQueue[i]; got != want {
			t.Errorf("election_queue[%d] = %+v; want %+v (znode %d in sequence order)", i, got, want, i)
		}
		if string(data) != ids[i] || st.EphemeralOwner != sessions[ids[i]] {
			t.Errorf("znode %d is %s of session 0x%x; want %s of session 0x%x", i, data, st.EphemeralOwner, ids[i], sessions[ids[i]])
		}
	}
	if r.Master == nil || r.Master.ID != "node-3" || r.Master.Session != r.ElectionQueue[0].Session {
		t.Errorf("master %+v; want node-3, the first in the queue", r.Master)
	}
	// The raw JSON names the field as documented.
	if !strings.Contains(out, `"election_queue": [`) || !strings.Contains(out, `"session": "`+tasks.SessionString(sessions["node-1"])+`"`) {
		t.Errorf("status --json lacks election_queue with node-1's session:\n%s", out)
	}
}

func ptr64(n int64) *int64 { return &n }

func str64(p *int64) string {
	if p == nil {
		return "nil"
	}
	return strconv.FormatInt(*p, 10)
}
