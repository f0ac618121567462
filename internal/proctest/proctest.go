// Package proctest runs process-level tests: real `stocksys node` processes
// started and signalled through scripts/cluster.sh, on the servers of
// scripts/infra.sh, observed with `stocksys status --json`.
//
// Each Cluster has its own cluster name (ZooKeeper root), Kafka topics,
// Cassandra keyspace, run folder and HTTP ports, so process tests can run
// beside other tests. Cleanup stops every node (SIGKILL after the graceful
// attempt) and deletes the cluster's znodes.
package proctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/ports"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/zkapi"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// Binary builds ./cmd/stocksys once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stocksys-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "stocksys")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/stocksys")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/stocksys: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Cluster is a local cluster of node processes for one test.
type Cluster struct {
	t        testing.TB
	Root     string // repository root
	Bin      string // the stocksys binary
	Dir      string // scripts/cluster.sh run folder: pid files and logs
	Name     string // cluster name (ZooKeeper root /stocksys/<Name>)
	Keyspace string
	Topic    string
	HTTPBase int
	env      []string
}

// New returns a Cluster with fresh names and ports; no node runs yet.
func New(t testing.TB) *Cluster {
	t.Helper()
	zkServers := testenv.ZKServers(t)
	kafka := testenv.KafkaBrokers(t)
	cass := testenv.CassandraHosts(t)
	name := testenv.Name(t, "-")
	c := &Cluster{
		t:        t,
		Root:     testenv.RepoRoot(t),
		Bin:      Binary(t),
		Dir:      t.TempDir(),
		Name:     name,
		Keyspace: "p_" + strings.ReplaceAll(name, "-", "_"),
		Topic:    "p." + name + ".quotes",
		HTTPBase: freeBase(t),
	}
	c.env = append(os.Environ(),
		"STOCKSYS_ZK="+strings.Join(zkServers, ","),
		"STOCKSYS_KAFKA="+strings.Join(kafka, ","),
		"STOCKSYS_CASSANDRA="+strings.Join(cass, ","),
		"STOCKSYS_CLUSTER="+c.Name,
		"STOCKSYS_CLUSTER_DIR="+c.Dir,
		"STOCKSYS_HTTP_BASE="+strconv.Itoa(c.HTTPBase),
	)
	// cluster.sh builds bin/stocksys itself if missing; point it at ours.
	t.Cleanup(func() {
		if out, err := c.Script("down"); err != nil {
			t.Logf("cluster.sh down: %v\n%s", err, out)
		}
		c.dumpLogsOnFailure()
		conn, err := zkapi.Dial(zkServers, 10*time.Second, 10*time.Second)
		if err == nil {
			_ = testenv.DeleteRecursive(conn, "/stocksys/"+c.Name)
			conn.Close()
		}
	})
	return c
}

// NodeFlags are the flags every node of the cluster gets: its keyspace and
// topics, JSON logs, consistency ONE (one local Cassandra).
func (c *Cluster) NodeFlags() []string {
	return []string{"--keyspace", c.Keyspace, "--topic", c.Topic, "--dlq-topic", c.Topic + ".dlq",
		"--consistency", "ONE", "--log-format", "json"}
}

// Env returns the environment the cluster's commands run with.
func (c *Cluster) Env() []string { return append([]string(nil), c.env...) }

// freeBase picks an HTTP port base whose next 10 ports are free now and lie
// outside the kernel's ephemeral port range (read now), where an outgoing
// connection could take one before the node binds it (issue 14: a bind
// failed at 46206).
func freeBase(t testing.TB) int {
	lo, hi, err := baseRange()
	if err != nil {
		t.Fatalf("proctest: %v", err)
	}
	for range 50 {
		base := lo + 100*rand.IntN((hi-lo)/100+1)
		ok := true
		for i := 1; i <= 10 && ok; i++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("proctest: no free HTTP port range")
	return 0
}

// baseRange returns the bases freeBase picks from: base+1..base+10 are in
// 20000..65535 and outside the ephemeral range (below it if there is room,
// else above it).
func baseRange() (lo, hi int, err error) {
	eph, _ := ports.Ephemeral() // Linux's default if unreadable
	lo, hi = 20000, eph.Lo-11
	if hi < lo {
		lo, hi = max(lo, eph.Hi), 65535-10
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("no room for 10 HTTP ports in 20000..65535 outside the ephemeral range %v (%s)", eph, ports.RangeFile)
	}
	return lo, hi, nil
}

// Script runs scripts/cluster.sh with args and returns its combined output.
func (c *Cluster) Script(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{filepath.Join(c.Root, "scripts", "cluster.sh")}, args...)...)
	cmd.Dir = c.Root
	cmd.Env = append(c.Env(), "STOCKSYS_CLUSTER_BIN="+c.Bin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustScript is Script, failing the test on error.
func (c *Cluster) MustScript(args ...string) string {
	c.t.Helper()
	out, err := c.Script(args...)
	if err != nil {
		c.t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Up starts node-1..node-n with NodeFlags and extra flags.
func (c *Cluster) Up(n int, extra ...string) {
	c.t.Helper()
	args := append([]string{"up", strconv.Itoa(n), "--"}, c.NodeFlags()...)
	c.MustScript(append(args, extra...)...)
}

// Stocksys runs the binary with args (and the cluster's environment) and
// returns stdout, stderr and the exit code.
func (c *Cluster) Stocksys(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	return c.StocksysEnv(ctx, nil, args...)
}

// StocksysEnv is Stocksys with extra environment variables (KEY=VALUE).
func (c *Cluster) StocksysEnv(ctx context.Context, env []string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Env = append(c.Env(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		e.WriteString(err.Error())
	}
	return o.String(), e.String(), code
}

// Status runs `stocksys status --json` on the cluster's topic and keyspace
// (where it measures the ingest lag) and decodes it.
func (c *Cluster) Status() (*status.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, errOut, code := c.Stocksys(ctx, "status", "--json", "--topic", c.Topic, "--keyspace", c.Keyspace)
	if code != 0 {
		return nil, fmt.Errorf("stocksys status --json: exit %d: %s", code, errOut)
	}
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("stocksys status --json: %w\n%s", err, out)
	}
	return &r, nil
}

// WaitStatus polls Status every 50 ms until pred holds, for at most limit; it
// returns the report and how long it took, or fails the test with the last
// report.
func (c *Cluster) WaitStatus(limit time.Duration, what string, pred func(*status.Report) bool) (*status.Report, time.Duration) {
	c.t.Helper()
	start := time.Now()
	var last *status.Report
	var lastErr error
	for time.Since(start) < limit {
		r, err := c.Status()
		if err == nil && pred(r) {
			return r, time.Since(start)
		}
		last, lastErr = r, err
		time.Sleep(50 * time.Millisecond)
	}
	js, _ := json.MarshalIndent(last, "", "  ")
	c.t.Fatalf("%s: not within %v (last error %v); last status:\n%s", what, limit, lastErr, js)
	return nil, 0
}

// Pid returns the pid of a node, or 0.
func (c *Cluster) Pid(id string) int {
	b, err := os.ReadFile(filepath.Join(c.Dir, id+".pid"))
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// ExitCode returns a node's recorded exit code, or -1 if it has none yet.
func (c *Cluster) ExitCode(id string) int {
	b, err := os.ReadFile(filepath.Join(c.Dir, id+".exit"))
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// Log returns a node's log.
func (c *Cluster) Log(id string) string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, id+".log"))
	return string(b)
}

func (c *Cluster) dumpLogsOnFailure() {
	if !c.t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(c.Dir, "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		c.t.Logf("--- last lines of %s:\n%s", filepath.Base(l), strings.Join(lines, "\n"))
	}
}

// Master returns the master's id in r, or "".
func Master(r *status.Report) string {
	if r == nil || r.Master == nil {
		return ""
	}
	return r.Master.ID
}

// AllRunning reports whether every task in r runs (state running) on one of
// the given live nodes, and no task is unassigned.
func AllRunning(r *status.Report, nodes ...string) bool {
	if len(r.Unassigned) > 0 || len(r.Tasks) == 0 {
		return false
	}
	ok := map[string]bool{}
	for _, n := range nodes {
		ok[n] = true
	}
	for _, t := range r.Tasks {
		if t.Owner == nil || !ok[*t.Owner] || t.State != "running" {
			return false
		}
	}
	return true
}
