package datapath

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/stream"
)

// privateInfra is a Kafka and a Cassandra of this test alone, started by
// scripts/infra.sh on free ports with a temporary STOCKSYS_INFRA_DIR, so that
// they can be stopped without disturbing other tests.
type privateInfra struct {
	t   *testing.T
	dir string
	env []string
	srv servers
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrivateInfra starts them with the extra `infra.sh up` arguments up:
// with "--secure" they are secured and srv carries the CA and the logins;
// with "--kafka-brokers 3" / "--cassandra-nodes 3" srv lists the three
// brokers or nodes (127.0.0.1-3, one port).
func startPrivateInfra(t *testing.T, up ...string) *privateInfra {
	t.Helper()
	kp, kcp, cp, csp := freePort(t), freePort(t), freePort(t), freePort(t)
	dir, err := os.MkdirTemp("", "stocksys-infra-")
	if err != nil {
		t.Fatal(err)
	}
	p := &privateInfra{t: t, dir: dir, env: []string{
		"STOCKSYS_INFRA_DIR=" + dir,
		"STOCKSYS_KAFKA_PORT=" + strconv.Itoa(kp), "STOCKSYS_KAFKA_CONTROLLER_PORT=" + strconv.Itoa(kcp),
		"STOCKSYS_CASSANDRA_PORT=" + strconv.Itoa(cp), "STOCKSYS_CASSANDRA_STORAGE_PORT=" + strconv.Itoa(csp),
	}, srv: servers{kafka: []string{"127.0.0.1:" + strconv.Itoa(kp)}, cassandra: []string{"127.0.0.1:" + strconv.Itoa(cp)}}}
	t.Cleanup(func() {
		if out, err := p.script("down", "--purge"); err != nil {
			t.Logf("infra.sh down: %v\n%s", err, out)
		}
		_ = os.RemoveAll(dir)
	})
	start := time.Now()
	p.must(append([]string{"up", "--only", "kafka,cassandra"}, up...)...)
	if slices.Contains(up, "--secure") {
		p.srv = p.srv.withSecurity(t, filepath.Join(dir, "secure"))
	}
	for i, a := range up {
		if i+1 < len(up) && up[i+1] == "3" {
			switch a {
			case "--kafka-brokers":
				p.srv.kafka = []string{p.srv.kafka[0], "127.0.0.2:" + strconv.Itoa(kp), "127.0.0.3:" + strconv.Itoa(kp)}
			case "--cassandra-nodes":
				p.srv.cassandra = []string{p.srv.cassandra[0], "127.0.0.2:" + strconv.Itoa(cp), "127.0.0.3:" + strconv.Itoa(cp)}
			}
		}
	}
	t.Logf("private Kafka %s and Cassandra %s up in %v", p.srv.kafka[0], p.srv.cassandra[0], time.Since(start).Round(time.Millisecond))
	return p
}

func (p *privateInfra) script(args ...string) (string, error) {
	root := testenv.RepoRoot(p.t)
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "infra.sh")}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), p.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (p *privateInfra) must(args ...string) {
	p.t.Helper()
	if out, err := p.script(args...); err != nil {
		p.t.Fatalf("infra.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// kafkaPid is the pid of the private Kafka broker's JVM.
func (p *privateInfra) kafkaPid() int { return p.pid("kafka") }

// pid is the pid of the private server name's JVM (kafka, kafka2, ...,
// cassandra3).
func (p *privateInfra) pid(name string) int {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, name, "pid"))
	if err != nil {
		p.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		p.t.Fatal(err)
	}
	return pid
}

// ingested sums stocksys_quotes_ingested_total over the nodes.
func ingested(t *testing.T, c *proctest.Cluster, nodes int) float64 {
	t.Helper()
	var sum float64
	for i := 1; i <= nodes; i++ {
		v, err := metric(c.HTTPBase, i, "stocksys_quotes_ingested_total")
		if err != nil {
			t.Errorf("node-%d /metrics: %v", i, err)
		}
		sum += v
	}
	return sum
}

// healthy checks that every node's /healthz answers 200 within 3 s.
func healthy(t *testing.T, c *proctest.Cluster, nodes int, when string) {
	t.Helper()
	cl := http.Client{Timeout: 3 * time.Second}
	for i := 1; i <= nodes; i++ {
		resp, err := cl.Get("http://127.0.0.1:" + strconv.Itoa(c.HTTPBase+i) + "/healthz")
		if err != nil {
			t.Errorf("node-%d /healthz %s: %v", i, when, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("node-%d /healthz %s: %s", i, when, resp.Status)
		}
	}
}

// TestIntegration_Outages runs 2 nodes on a private Kafka and Cassandra
// (scripts/infra.sh, free ports, temp dir, down --purge on cleanup) while
// they replay two real SPY days, and:
//
//   - SIGSTOPs the Kafka broker for at least 15 s: the fetch task fails with
//     the producer's send timeout (stream.ErrSendTimeout) within
//     SendTimeout (10 s) + 5 s of the pause and is retried, /healthz answers
//     throughout; after SIGCONT data flows again;
//   - then stops Cassandra for 30 s: no quote is counted ingested
//     (stocksys_quotes_ingested_total, counted only after the offset commit)
//     while it is down, /healthz answers, and ingest resumes by itself after
//     `infra.sh start cassandra`;
//
// then, once the replay is done, the stored quotes and bars equal the source
// exactly (nothing lost), and each node exits 0 on SIGTERM.
func TestIntegration_Outages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := sourceQuotes(t, "SPY", leanDays(t, dir, "20131007", "20131008")...)
	infra := startPrivateInfra(t)
	srv := infra.srv
	c := newCluster(t, srv)
	// 1,656 bars evenly over about 118 s (rate= paces rows, not market time,
	// so no night gap): the replay must still be producing when Kafka is
	// paused and again when Cassandra stops (the fetch task keeps producing
	// through the Cassandra outage: Kafka is the buffer, its checkpoint
	// commits are retried in the background).
	addSymbol(t, c, "SPY", "replay:"+dir+"?rate=14")
	c.Up(2, "--session-timeout", sessionTimeout.String(), "--partitions", "2")
	c.WaitStatus(90*time.Second, "2 nodes running every task", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 3 && proctest.AllRunning(r, "node-1", "node-2")
	})
	c.WaitStatus(60*time.Second, "50 quotes ingested", func(r *status.Report) bool { return progress(r, "ingest") >= 50 })

	// (a) Kafka paused (SIGSTOP) for at least 15 s, first: it needs the
	// replay still producing, and Cassandra's restart below can take a minute
	// under load (it took 60 s in CI, and a replay paced for the old order ran
	// out before the pause).
	st := openStore(t, srv, c.Keyspace)
	if doneYet(t.Context(), srv, st, c.Topic, map[string]time.Time{"SPY": lastTS(want)}) == "" {
		t.Fatal("replay finished before the Kafka outage: make it slower")
	}
	if hw, err := highWater(t.Context(), srv.kafka, c.Topic); err != nil {
		t.Fatal(err)
	} else if hw[0]+hw[1] >= int64(len(want)) {
		t.Fatalf("the fetch task produced all %d quotes before the Kafka outage (high-water %v): make the replay slower", len(want), hw)
	}
	pid := infra.kafkaPid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP kafka (pid %d): %v", pid, err)
	}
	paused := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT kafka: %v", err)
			}
		}
	}
	defer resume()
	var failedAfter time.Duration
	var failErr string
	for time.Since(paused) < 15*time.Second || (failErr == "" && time.Since(paused) < 25*time.Second) {
		r, err := c.Status()
		if err != nil {
			t.Errorf("status with Kafka paused: %v", err)
			time.Sleep(250 * time.Millisecond)
			continue
		}
		for _, tk := range r.Tasks {
			if failErr == "" && tk.ID == "fetch/SPY" && tk.LastError != "" && strings.Contains(tk.LastError, "timed out") {
				failedAfter, failErr = time.Since(paused), tk.LastError
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	healthy(t, c, 2, "with Kafka paused")
	pausedFor := time.Since(paused)
	resume()
	sendTimeout := stream.DefaultConfig().SendTimeout
	t.Logf("Kafka paused for %v; fetch/SPY failed %v into the pause: %s", pausedFor.Round(time.Millisecond),
		failedAfter.Round(time.Millisecond), failErr)
	if failErr == "" {
		t.Errorf("fetch/SPY never reported a send timeout while Kafka was paused for %v", pausedFor.Round(time.Millisecond))
	} else if failedAfter > sendTimeout+5*time.Second {
		t.Errorf("fetch/SPY failed %v into the pause; want within SendTimeout %v + 5 s", failedAfter, sendTimeout)
	}
	before := ingested(t, c, 2)
	cont := time.Now()
	for ingested(t, c, 2) <= before {
		if time.Since(cont) > 60*time.Second {
			t.Fatalf("no quote ingested within 60 s of Kafka's SIGCONT")
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("data flowing again %v after SIGCONT", time.Since(cont).Round(time.Millisecond))

	// (b) Cassandra down for 30 s, with the replay still producing (so
	// messages wait in Kafka and ingest must resume by itself).
	c.WaitStatus(60*time.Second, "the fetch task running again", func(r *status.Report) bool {
		return proctest.AllRunning(r, "node-1", "node-2") && progress(r, "fetch") > 0
	})
	if hw, err := highWater(t.Context(), srv.kafka, c.Topic); err != nil {
		t.Fatal(err)
	} else if hw[0]+hw[1] >= int64(len(want)) {
		t.Fatalf("the fetch task produced all %d quotes before the Cassandra outage (high-water %v): make the replay slower", len(want), hw)
	}
	t0 := time.Now()
	infra.must("stop", "cassandra")
	stopped := time.Now()
	base := ingested(t, c, 2)
	t.Logf("Cassandra stopped (took %v); %v quotes ingested so far", stopped.Sub(t0).Round(time.Millisecond), base)
	for time.Since(stopped) < 30*time.Second {
		time.Sleep(2 * time.Second)
		if n := ingested(t, c, 2); n != base {
			t.Errorf("%v quotes counted ingested %v into the Cassandra outage; want %v (no commit while down)",
				n, time.Since(stopped).Round(time.Millisecond), base)
			base = n
		}
	}
	healthy(t, c, 2, "with Cassandra down")
	hwDown, err := highWater(t.Context(), srv.kafka, c.Topic)
	if err != nil {
		t.Fatalf("high-water marks: %v", err)
	}
	if pending := hwDown[0] + hwDown[1] - int64(base); pending <= 0 {
		t.Logf("no message was waiting in Kafka during the Cassandra outage (high-water %v, %v ingested)", hwDown, base)
	} else {
		t.Logf("%d messages waited in Kafka, not ingested, during the Cassandra outage", pending)
	}
	t1 := time.Now()
	infra.must("start", "cassandra")
	up := time.Now()
	for ingested(t, c, 2) <= base {
		if time.Since(up) > 90*time.Second {
			t.Fatalf("ingest did not resume within 90 s of Cassandra's restart")
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("Cassandra back after %v (start took %v); ingest resumed %v after it answered; high-water during the outage %v",
		up.Sub(stopped).Round(time.Millisecond), up.Sub(t1).Round(time.Millisecond), time.Since(up).Round(time.Millisecond), hwDown)
	co, err := committed(t.Context(), st, c.Topic, hwDown)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("committed offsets once ingest resumed: %v", co)

	hw, took := waitDone(t, srv, st, c.Topic, map[string]time.Time{"SPY": lastTS(want)}, 120*time.Second)
	t.Logf("replay done %v after Cassandra's return; offsets %v", took.Round(time.Millisecond), hw)
	days := checkQuotes(t, st, "SPY", want)
	bars := checkBars(t, st, "SPY", want)
	t.Logf("SPY: stored rows per day %v (source %d); bars %v equal to ComputeBars", days, len(want), bars)

	// Graceful exit after the outages: SIGTERM, exit code 0.
	for _, n := range []string{"node-1", "node-2"} {
		s := time.Now()
		out := c.MustScript("stop", n) // SIGTERM; SIGKILL (exit 137) after 30 s
		if code := c.ExitCode(n); code != 0 {
			t.Errorf("%s exit code %d after SIGTERM; want 0\n%s", n, code, out)
		} else {
			t.Logf("%s exited 0 %v after SIGTERM", n, time.Since(s).Round(time.Millisecond))
		}
	}
}
