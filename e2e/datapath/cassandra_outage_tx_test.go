package datapath

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

// TestIntegration_FetchSurvivesCassandraOutage (issue 16): 2 nodes with
// --fetch-transactions on a private Kafka and Cassandra replay two real SPY
// days, paced so that the fetch task is still producing through a 60 s
// Cassandra outage. With transactions the fetch task keeps its checkpoint in
// Kafka (<topic>.checkpoints), so it needs no Cassandra:
//
//   - while Cassandra is down the quotes topic's high-water marks grow (the
//     fetch task keeps producing), also after the fetch task's owner is
//     killed (-9) mid-outage and the task restarts on the other node from
//     its Kafka checkpoint; the killed node is started again, still within
//     the outage;
//   - no quote is counted ingested (stocksys_quotes_ingested_total, counted
//     after the offset commit) while Cassandra is down, and every node's
//     /healthz answers;
//   - the fetch task's last error is never a Cassandra error;
//   - after `infra.sh start cassandra`, ingest resumes by itself, and once
//     the replay is done (the Kafka checkpoint at the last source quote,
//     every partition ingested up to its high-water mark less the last
//     commit marker) every source quote is stored exactly once and the bars
//     equal store.ComputeBars of the source.
func TestIntegration_FetchSurvivesCassandraOutage(t *testing.T) {
	t.Parallel()
	const outage = 60 * time.Second
	dir := t.TempDir()
	want := sourceQuotes(t, "SPY", leanDays(t, dir, "20131007", "20131008")...)
	infra := startPrivateInfra(t)
	srv := infra.srv
	c := newCluster(t, srv)
	scfg := stream.DefaultConfig()
	scfg.Brokers, scfg.Topic, scfg.DLQTopic = srv.kafka, c.Topic, c.Topic+".dlq"
	// 1,656 bars evenly over about 92 s (rate= paces rows, not market
	// time): the replay outlasts the outage, which starts a few seconds in.
	addSymbol(t, c, "SPY", "replay:"+dir+"?rate=18")
	nodes := []string{"node-1", "node-2"}
	c.Up(2, "--session-timeout", sessionTimeout.String(), "--partitions", "2", "--fetch-transactions")
	c.WaitStatus(90*time.Second, "2 nodes running every task", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 3 && proctest.AllRunning(r, nodes...)
	})
	r, _ := c.WaitStatus(60*time.Second, "50 quotes ingested", func(r *status.Report) bool { return progress(r, "ingest") >= 50 })
	started := time.Now()
	preErr := fetchTask(r).LastError
	if preErr != "" {
		t.Logf("fetch/SPY's last error before the outage: %s", preErr)
	}

	// Cassandra down for 60 s.
	t0 := time.Now()
	infra.must("stop", "cassandra")
	stopped := time.Now()
	base := map[string]float64{} // per node: quotes counted ingested once Cassandra is down
	for _, n := range nodes {
		base[n] = nodeIngested(t, c, n)
	}
	hw0 := sumHW(t, srv, c.Topic)
	t.Logf("Cassandra stopped (took %v); ingested so far %v; quotes topic high-water %d",
		stopped.Sub(t0).Round(time.Millisecond), base, hw0)

	fetchErrs := map[string]bool{}
	// watch polls until the deadline, or until done (if not nil) holds for
	// a report: no node counts a quote ingested, and fetch/SPY's last error
	// is no Cassandra error. It returns the last report.
	watch := func(deadline time.Time, what string, done func(*status.Report) bool) *status.Report {
		t.Helper()
		var last *status.Report
		for time.Now().Before(deadline) {
			for n, b := range base {
				if v := nodeIngested(t, c, n); v != b {
					t.Errorf("%s counted %v quotes ingested %v into the Cassandra outage; want %v (no commit while down)",
						n, v, time.Since(stopped).Round(time.Millisecond), b)
					base[n] = v
				}
			}
			r, err := c.Status()
			if err != nil {
				t.Errorf("status with Cassandra down: %v", err)
				time.Sleep(time.Second)
				continue
			}
			last = r
			if tk := fetchTask(r); tk.LastError != "" && !fetchErrs[tk.LastError] {
				fetchErrs[tk.LastError] = true
				if tk.LastError != preErr || tk.Started.After(stopped) {
					t.Logf("fetch/SPY last error %v into the outage: %s", time.Since(stopped).Round(time.Millisecond), tk.LastError)
				}
				if cassandraError(tk.LastError) && (tk.LastError != preErr || tk.Started.After(stopped)) {
					t.Errorf("fetch/SPY failed with a Cassandra error during the Cassandra outage (the fetch path must not touch Cassandra with --fetch-transactions): %s", tk.LastError)
				}
			}
			if done != nil && done(r) {
				return r
			}
			time.Sleep(time.Second)
		}
		if done != nil {
			t.Fatalf("%s: not within the outage (%v in)", what, time.Since(stopped).Round(time.Millisecond))
		}
		return last
	}

	// 10 s in: kill -9 the fetch task's owner; the task restarts on the
	// other node from its Kafka checkpoint and produces again.
	r = watch(stopped.Add(10*time.Second), "", nil)
	victim := owner(r, "fetch/SPY")
	if victim == "" {
		t.Fatalf("fetch/SPY has no owner 10 s into the outage")
	}
	survivor := nodes[0]
	if survivor == victim {
		survivor = nodes[1]
	}
	hwKill := sumHW(t, srv, c.Topic)
	if hwKill <= hw0 {
		t.Errorf("quotes topic high-water %d 10 s into the Cassandra outage, %d at its start: the fetch task stopped producing", hwKill, hw0)
	}
	resumes := resumedFromKafka(c.Log(survivor))
	killed := time.Now()
	c.MustScript("kill", victim)
	delete(base, victim)
	t.Logf("%v into the outage: kill -9 %s, owner of fetch/SPY (high-water %d)", killed.Sub(stopped).Round(time.Millisecond), victim, hwKill)
	watch(stopped.Add(outage-10*time.Second), "fetch/SPY running on "+survivor, func(r *status.Report) bool {
		tk := fetchTask(r)
		return tk.Owner != nil && *tk.Owner == survivor && tk.State == "running" && tk.Started.After(killed)
	})
	moved := time.Now()
	if n := resumedFromKafka(c.Log(survivor)); n <= resumes {
		t.Errorf("%s's log has %d lines of fetch/SPY resuming after its checkpoint from Kafka, %d before the kill; want one more", survivor, n, resumes)
	}
	// Producing again: a transaction of the new owner commits a checkpoint
	// after the one it resumed from.
	cpMoved := kafkaCheckpoint(t, scfg, "fetch/SPY")
	for cp := cpMoved; cp.Node != survivor || !cp.Position.After(cpMoved.Position); cp = kafkaCheckpoint(t, scfg, "fetch/SPY") {
		if time.Since(moved) > 15*time.Second {
			t.Fatalf("fetch/SPY on %s committed nothing within 15 s of its restart with Cassandra down (checkpoint %v by %s)",
				survivor, cp.Position, cp.Node)
		}
		time.Sleep(250 * time.Millisecond)
	}
	hwMoved := sumHW(t, srv, c.Topic)
	t.Logf("fetch/SPY running on %s %v after the kill (from its Kafka checkpoint %s), committing again %v after that (high-water %d)",
		survivor, moved.Sub(killed).Round(time.Millisecond), cpMoved.Position.Format(time.RFC3339),
		time.Since(moved).Round(time.Millisecond), hwMoved)
	c.MustScript("start", victim) // a node starting while Cassandra is down
	// A new process: watched again once its HTTP listener answers (it
	// listens before it connects to Cassandra; the process takes a few
	// seconds to start on a loaded machine).
	vi := nodeIndex(t, victim)
	for _, err := metric(c.HTTPBase, vi, "stocksys_quotes_ingested_total"); err != nil; _, err = metric(c.HTTPBase, vi, "stocksys_quotes_ingested_total") {
		if time.Since(moved) > 30*time.Second {
			t.Fatalf("restarted %s: /metrics does not answer within 30 s with Cassandra down: %v", victim, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	base[victim] = 0
	watch(stopped.Add(outage/2), "", nil)
	healthy(t, c, 2, "with Cassandra down")
	r = watch(stopped.Add(outage), "", nil)
	healthy(t, c, 2, "with Cassandra down")
	if r != nil {
		tk := fetchTask(r)
		t.Logf("at the end of the outage fetch/SPY is %s on %s (since %s); %d distinct last errors seen during the outage",
			tk.State, owner(r, "fetch/SPY"), tk.Started.Format(time.TimeOnly), len(fetchErrs))
	}
	hw1 := sumHW(t, srv, c.Topic)
	cp := kafkaCheckpoint(t, scfg, "fetch/SPY")
	if !cp.Position.Before(lastTS(want)) {
		t.Fatalf("fetch/SPY's checkpoint at the end of the outage: %v; the replay (last quote %v) finished within the outage: make it slower",
			cp.Position, lastTS(want))
	}
	if hw1 <= hwMoved {
		t.Errorf("quotes topic high-water %d at the end of the outage, %d after the fetch task's restart: it stopped producing", hw1, hwMoved)
	}
	downFor := time.Since(stopped)
	t.Logf("Cassandra down for %v: quotes topic high-water %d -> %d (+%d: %.1f records/s, commit markers included); "+
		"fetch/SPY checkpoint in Kafka %s (of %d source quotes up to %s)", downFor.Round(time.Millisecond), hw0, hw1, hw1-hw0,
		float64(hw1-hw0)/downFor.Seconds(), cp.Position.Format(time.RFC3339), len(want), lastTS(want).Format(time.RFC3339))

	// Cassandra back: ingest resumes by itself.
	var baseSum float64
	for _, b := range base {
		baseSum += b
	}
	t1 := time.Now()
	infra.must("start", "cassandra")
	up := time.Now()
	for ingested(t, c, 2) <= baseSum {
		if time.Since(up) > 90*time.Second {
			t.Fatalf("ingest did not resume within 90 s of Cassandra answering")
		}
		time.Sleep(250 * time.Millisecond)
	}
	resumed := time.Since(up)
	t.Logf("Cassandra back %v after it stopped (start took %v); ingest resumed %v after it answered",
		up.Sub(stopped).Round(time.Millisecond), up.Sub(t1).Round(time.Millisecond), resumed.Round(time.Millisecond))

	st := openStore(t, srv, c.Keyspace)
	hw, took := waitDoneTx(t, srv, scfg, st, "SPY", want, 120*time.Second)
	t.Logf("replay done and ingested %v after Cassandra answered (%v after ingest resumed, %v after the outage began, %v after the first 50 quotes); high-water marks %v",
		time.Since(up).Round(time.Millisecond), took.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond),
		time.Since(started).Round(time.Millisecond), hw)
	days := checkQuotes(t, st, "SPY", want)
	bars := checkBars(t, st, "SPY", want)
	t.Logf("SPY: stored rows per day %v (source %d); bars %v equal to ComputeBars", days, len(want), bars)
	r, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if e := fetchTask(r).LastError; cassandraError(e) {
		t.Errorf("fetch/SPY's last error after the outage is a Cassandra error: %s", e)
	}
}

// fetchTask returns fetch/SPY's task in r (the zero Task if missing).
func fetchTask(r *status.Report) status.Task {
	for _, tk := range r.Tasks {
		if tk.ID == "fetch/SPY" {
			return tk
		}
	}
	return status.Task{}
}

// cassandraError reports whether a task's last error comes from Cassandra
// (the store, gocql, the checkpoint migration).
func cassandraError(e string) bool {
	e = strings.ToLower(e)
	for _, s := range []string{"cassandra", "gocql", "no hosts available", "no connections were made", "keyspace"} {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

// kafkaCheckpoint returns task's checkpoint in Kafka (stream.ReadCheckpoint),
// failing the test if there is none.
func kafkaCheckpoint(t *testing.T, scfg stream.Config, task string) stream.Checkpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cp, found, err := stream.ReadCheckpoint(ctx, scfg, task)
	if err != nil || !found {
		t.Fatalf("%s's checkpoint in Kafka: found %v, %v", task, found, err)
	}
	return cp
}

// resumedFromKafka counts the lines of a node's log where fetch/SPY resumed
// after its checkpoint read from Kafka.
func resumedFromKafka(log string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "fetch: resuming after checkpoint") && strings.Contains(l, `"task":"fetch/SPY"`) &&
			strings.Contains(l, `"from":"kafka"`) {
			n++
		}
	}
	return n
}

// nodeIndex returns N of the node id "node-N" (its HTTP port is HTTPBase+N).
func nodeIndex(t *testing.T, node string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(node, "node-%d", &i); err != nil {
		t.Fatalf("node id %q: %v", node, err)
	}
	return i
}

// nodeIngested returns node's stocksys_quotes_ingested_total.
func nodeIngested(t *testing.T, c *proctest.Cluster, node string) float64 {
	t.Helper()
	v, err := metric(c.HTTPBase, nodeIndex(t, node), "stocksys_quotes_ingested_total")
	if err != nil {
		t.Errorf("%s /metrics: %v", node, err)
	}
	return v
}

// sumHW returns the sum of the high-water marks of topic's partitions.
func sumHW(t *testing.T, srv servers, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	hw, err := highWater(ctx, srv.kafka, topic)
	if err != nil {
		t.Fatalf("high-water marks of %s: %v", topic, err)
	}
	var sum int64
	for _, h := range hw {
		sum += h
	}
	return sum
}

// waitDoneTx is waitDone for fetch tasks with transactions: it waits until
// symbol's checkpoint in Kafka (stream.ReadCheckpoint) is its last source
// quote's position, every source quote is stored, and every partition's
// committed offset is its high-water mark or one less (a transaction's
// commit marker takes the last offset, which no consumer is handed), the
// same on two reads a second apart (the last commit marker written and
// counted). It returns the offsets and how long it took.
func waitDoneTx(t *testing.T, srv servers, scfg stream.Config, st *store.Store, symbol string, want []quote.Quote, limit time.Duration) (map[int32]int64, time.Duration) {
	t.Helper()
	start := time.Now()
	var why, prev string
	for time.Since(start) < limit {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		var hw, co map[int32]int64
		why, hw, co = doneYetTx(ctx, srv, scfg, st, symbol, want)
		cancel()
		state := ""
		if why == "" {
			state = fmt.Sprint(hw, co)
			if state == prev {
				return hw, time.Since(start)
			}
		}
		prev = state
		time.Sleep(time.Second)
	}
	t.Fatalf("replay not done within %v: %s", limit, why)
	return nil, 0
}

// doneYetTx returns "", the high-water marks and the committed offsets when
// done (see waitDoneTx), else what is missing.
func doneYetTx(ctx context.Context, srv servers, scfg stream.Config, st *store.Store, symbol string, want []quote.Quote) (why string, hw, co map[int32]int64) {
	last := want[len(want)-1].Position()
	cp, found, err := stream.ReadCheckpoint(ctx, scfg, "fetch/"+symbol)
	switch {
	case err != nil:
		return "checkpoint in Kafka: " + err.Error(), nil, nil
	case !found || !cp.Position.Equal(last):
		return fmt.Sprintf("checkpoint %s in Kafka = %v (found %v); want %v", symbol, cp.Position, found, last), nil, nil
	}
	qs, err := st.Quotes(ctx, symbol, epoch0, farEnd, 0)
	if err != nil {
		return "stored quotes: " + err.Error(), nil, nil
	}
	if len(qs) < len(want) {
		return fmt.Sprintf("%d of %d quotes stored", len(qs), len(want)), nil, nil
	}
	hw, err = highWater(ctx, srv.kafka, scfg.Topic)
	if err != nil {
		return "high-water marks: " + err.Error(), nil, nil
	}
	co, err = committed(ctx, st, scfg.Topic, hw)
	if err != nil {
		return "committed offsets: " + err.Error(), nil, nil
	}
	for p, h := range hw {
		if co[p] < h-1 || co[p] > h {
			return fmt.Sprintf("partition %d: committed %d, high-water %d", p, co[p], h), nil, nil
		}
	}
	return "", hw, co
}
