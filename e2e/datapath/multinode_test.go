package datapath

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/status"
)

// TestIntegration_MultiNodeEngines runs 2 nodes on a private 3-broker Kafka
// and 3-node Cassandra (infra.sh up --kafka-brokers 3 --cassandra-nodes 3,
// on 127.0.0.1-3) with topics of replication factor 3 (min.insync.replicas
// 2) and a keyspace of replication factor 3 written at LOCAL_QUORUM, while
// they replay a real SPY day, and:
//
//   - kill -9 of the Kafka broker leading SPY's partition mid-replay: ingest
//     goes on while it is down (leadership moves once the controller fences
//     it, broker.session.timeout.ms 3 s); after `infra.sh start` it rejoins
//     (every partition of the quotes topic has 3 in-sync replicas again);
//   - kill -9 of one Cassandra node, separately: ingest goes on while it is
//     down (LOCAL_QUORUM is 2 of 3); it answers again after `infra.sh start`;
//
// then every source quote is stored exactly once, read at LOCAL_QUORUM (per day the same rows as
// the source, each equal) and the bars equal store.ComputeBars over it. It
// logs the pauses (the longest gap in ingest while a server is down) and the
// record counts.
// A drill, run by scripts/multinode-test.sh (STOCKSYS_MULTINODE=1), not by
// every test run: six server JVMs (about 5.4 GB resident) and two nodes are
// a full load for this 2-core machine on their own. Not parallel.
func TestIntegration_MultiNodeEngines(t *testing.T) {
	if os.Getenv("STOCKSYS_MULTINODE") != "1" {
		t.Skip("multi-node drill: run scripts/multinode-test.sh (STOCKSYS_MULTINODE=1)")
	}
	dir := t.TempDir()
	want := sourceQuotes(t, "SPY", leanDays(t, dir, "20131008")...)
	infra := startPrivateInfra(t, "--kafka-brokers", "3", "--cassandra-nodes", "3")
	srv := infra.srv
	if len(srv.kafka) != 3 || len(srv.cassandra) != 3 {
		t.Fatalf("servers %v %v; want 3 brokers and 3 nodes", srv.kafka, srv.cassandra)
	}
	t.Logf("brokers %v, Cassandra nodes %v", srv.kafka, srv.cassandra)
	c := newCluster(t, srv)
	// 828 bars evenly over about 104 s: both faults happen mid-replay.
	addSymbol(t, c, "SPY", "replay:"+dir+"?rate=8")
	c.Up(2, "--session-timeout", "6s", "--partitions", "3", "--replication", "3",
		"--cassandra-replication", "3", "--consistency", "LOCAL_QUORUM")
	c.WaitStatus(120*time.Second, "2 nodes running every task", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 4 && proctest.AllRunning(r, "node-1", "node-2")
	})
	// The store opens once the keyspace and its tables have schema
	// agreement on all three nodes: over a minute under the full run's load
	// (the tasks retry with backoff until then).
	c.WaitStatus(300*time.Second, "50 quotes ingested", func(r *status.Report) bool { return progress(r, "ingest") >= 50 })
	checkISR(t, srv, c.Topic, 3, 60*time.Second, "at start")

	// (a) kill -9 of the broker leading SPY's partition, 15 s down.
	broker := leaderOfData(t, srv, c.Topic)
	pause := killAndWatch(t, infra, c, broker, 15*time.Second)
	t.Logf("%s (the leader of SPY's partition) killed: longest ingest gap %v", broker, pause.Round(time.Millisecond))
	restart := time.Now()
	infra.must("start", broker)
	t.Logf("%s restarted in %v", broker, time.Since(restart).Round(time.Millisecond))
	checkISR(t, srv, c.Topic, 3, 90*time.Second, "after "+broker+"'s restart")

	// (b) kill -9 of a Cassandra node, 15 s down.
	pause = killAndWatch(t, infra, c, "cassandra3", 15*time.Second)
	t.Logf("cassandra3 killed: longest ingest gap %v", pause.Round(time.Millisecond))
	restart = time.Now()
	infra.must("start", "cassandra3")
	t.Logf("cassandra3 restarted (answers CQL) in %v", time.Since(restart).Round(time.Millisecond))

	// Read at LOCAL_QUORUM: cassandra3 may still be receiving the hints of
	// the writes it missed, and a read at ONE could ask it alone.
	st := openStoreAt(t, srv, c.Keyspace, "LOCAL_QUORUM")
	hw, took := waitDone(t, srv, st, c.Topic, map[string]time.Time{"SPY": lastTS(want)}, 240*time.Second)
	var records int64
	for _, n := range hw {
		records += n
	}
	t.Logf("replay done %v after cassandra3's restart; %d Kafka records for %d source quotes (a retried send may write one twice; rows are keyed)",
		took.Round(time.Millisecond), records, len(want))
	if records < int64(len(want)) {
		t.Errorf("%d records in Kafka; want at least the %d source quotes", records, len(want))
	}
	days := checkQuotes(t, st, "SPY", want)
	bars := checkBars(t, st, "SPY", want)
	t.Logf("SPY: stored rows per day %v (source %d), each once; bars %v equal to store.ComputeBars over the source", days, len(want), bars)
}

// killAndWatch SIGKILLs the private server name, keeps it down for down,
// and checks that quotes are ingested meanwhile. It returns the longest gap
// between two increases of the ingested count (polled every 250 ms) from
// the kill to the end of the down time: the pause the fault caused.
func killAndWatch(t *testing.T, infra *privateInfra, c *proctest.Cluster, name string, down time.Duration) time.Duration {
	t.Helper()
	if hw, err := highWater(t.Context(), infra.srv.kafka, c.Topic); err != nil {
		t.Fatal(err)
	} else if n := hw[0] + hw[1] + hw[2]; n >= 800 {
		t.Fatalf("%d of 828 quotes produced before %s's kill: make the replay slower", n, name)
	}
	base := ingested(t, c, 2)
	pid := infra.pid(name)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s (pid %d): %v", name, pid, err)
	}
	killed := time.Now()
	last, n := killed, base
	var gap time.Duration
	for time.Since(killed) < down {
		time.Sleep(250 * time.Millisecond)
		if v := ingested(t, c, 2); v > n {
			gap, last, n = max(gap, time.Since(last)), time.Now(), v
		}
	}
	gap = max(gap, time.Since(last))
	t.Logf("%s down %v: %v quotes ingested meanwhile, the longest gap %v", name, down, n-base, gap.Round(time.Millisecond))
	if n == base {
		t.Errorf("no quote ingested during the %v %s was down", down, name)
	}
	healthy(t, c, 2, "with "+name+" down")
	return gap
}

// leaderOfData returns the name (kafka, kafka2, kafka3: node.id 1..3) of
// the broker leading the partition of topic that holds records (SPY's).
func leaderOfData(t *testing.T, srv servers, topic string) string {
	t.Helper()
	hw, err := highWater(t.Context(), srv.kafka, topic)
	if err != nil {
		t.Fatal(err)
	}
	part := int32(-1)
	for p, n := range hw {
		if n > 0 {
			part = p
		}
	}
	admin, err := sarama.NewClusterAdmin(srv.kafka, srv.kafkaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	md, err := admin.DescribeTopics([]string{topic})
	if err != nil || len(md) != 1 {
		t.Fatalf("describe %s: %v", topic, err)
	}
	for _, p := range md[0].Partitions {
		if p.ID == part {
			if p.Leader == 1 {
				return "kafka"
			}
			return "kafka" + strconv.Itoa(int(p.Leader))
		}
	}
	t.Fatalf("no leader of %s partition %d (high-water %v)", topic, part, hw)
	return ""
}

// checkISR waits up to limit for every partition of topic to list want
// in-sync replicas.
func checkISR(t *testing.T, srv servers, topic string, want int, limit time.Duration, when string) {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < limit {
		last = isrOf(srv, topic, want)
		if last == "" {
			t.Logf("every partition of %s has %d in-sync replicas %s (%v)", topic, want, when, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(time.Second)
	}
	t.Errorf("%s: %s after %v", when, last, limit)
}

// isrOf returns "" when every partition of topic has want in-sync
// replicas, else what differs.
func isrOf(srv servers, topic string, want int) string {
	admin, err := sarama.NewClusterAdmin(srv.kafka, srv.kafkaConfig())
	if err != nil {
		return err.Error()
	}
	defer admin.Close()
	md, err := admin.DescribeTopics([]string{topic})
	if err != nil || len(md) != 1 {
		return fmt.Sprintf("describe %s: %v", topic, err)
	}
	if len(md[0].Partitions) == 0 {
		return "no partitions"
	}
	for _, p := range md[0].Partitions {
		if len(p.Replicas) != want || len(p.Isr) != want {
			return "partition " + strconv.Itoa(int(p.ID)) + fmt.Sprintf(": replicas %v, in sync %v", p.Replicas, p.Isr)
		}
	}
	return ""
}
