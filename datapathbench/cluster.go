package datapathbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// Node flags of every child node.
const (
	nodePartitions = 6
	nodeIDPrefix   = "bench-"
)

// nodeProc is one child `stocksys node` process.
type nodeProc struct {
	ID   string
	Addr string // HTTP host:port
	Log  string // its stdout and stderr
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited
}

func (n *nodeProc) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (n *nodeProc) stop(grace time.Duration) error {
	if n.exited() {
		return nil
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		return nil
	case <-time.After(grace):
	}
	_ = n.cmd.Process.Kill()
	select {
	case <-n.done:
		return fmt.Errorf("node %s (pid %d) did not exit within %v of SIGTERM; killed", n.ID, n.cmd.Process.Pid, grace)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("node %s (pid %d) did not exit after SIGKILL", n.ID, n.cmd.Process.Pid)
	}
}

// tail returns the last lines of the node's log.
func (n *nodeProc) tail(lines int) string {
	b, err := os.ReadFile(n.Log)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}

// cluster is the child nodes of one phase with their names: a ZooKeeper
// cluster root, Kafka topics and a Cassandra keyspace of their own.
type cluster struct {
	Name, Root, Topic, DLQ, Keyspace string
	Nodes                            []*nodeProc
	zk                               zkapi.Client
	http                             *http.Client
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// childEnv is the environment without STOCKSYS_ variables: every setting
// of a child node is a flag.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STOCKSYS_") {
			env = append(env, kv)
		}
	}
	return env
}

// startNodes starts n nodes of c.
func (c *cluster) startNodes(cfg *Config, dir string, n int) error {
	for i := 1; i <= n; i++ {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		id := nodeIDPrefix + strconv.Itoa(i)
		logPath := filepath.Join(dir, c.Name+"."+id+".log")
		lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.Command(cfg.Bin, "node", "--id", id, "--http", addr,
			"--zk", strings.Join(cfg.ZK, ","), "--kafka", strings.Join(cfg.Kafka, ","), "--cassandra", strings.Join(cfg.Cassandra, ","),
			"--cluster", c.Name, "--topic", c.Topic, "--dlq-topic", c.DLQ, "--keyspace", c.Keyspace,
			"--partitions", strconv.Itoa(nodePartitions), "--session-timeout", cfg.SessionTimeout.String(),
			"--consistency", "ONE", "--log-format", "json")
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.Env = childEnv()
		// Own process group: a ctrl-C at the terminal reaches the benchmark,
		// which stops the nodes itself; they die with it if it is killed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			lf.Close()
			return fmt.Errorf("start node %s: %w", id, err)
		}
		np := &nodeProc{ID: id, Addr: addr, Log: logPath, cmd: cmd, done: make(chan struct{})}
		go func() {
			_ = cmd.Wait()
			lf.Close()
			close(np.done)
		}()
		c.Nodes = append(c.Nodes, np)
	}
	return nil
}

// stopNodes stops every node (SIGTERM, SIGKILL after 10 s), concurrently.
func (c *cluster) stopNodes() error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.stop(10 * time.Second)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// checkAlive fails if a node exited.
func (c *cluster) checkAlive() error {
	for _, n := range c.Nodes {
		if n.exited() {
			return fmt.Errorf("node %s exited (%v); last lines of %s:\n%s", n.ID, n.cmd.ProcessState, n.Log, n.tail(15))
		}
	}
	return nil
}

// waitReady waits until the cluster has a master, every node is a member,
// and every ingest task runs.
func (c *cluster) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last string
	for {
		if err := c.checkAlive(); err != nil {
			return err
		}
		r, err := status.Read(c.zk, c.Name, c.Root)
		if err == nil {
			running := 0
			for _, t := range r.Tasks {
				if t.Type == "ingest" && t.State == "running" {
					running++
				}
			}
			if r.Master != nil && len(r.Members) == len(c.Nodes) && running == nodePartitions {
				return nil
			}
			last = fmt.Sprintf("master %v, %d of %d members, %d of %d ingest tasks running", r.Master != nil, len(r.Members), len(c.Nodes), running, nodePartitions)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster %s not ready within %v: %s", c.Name, limit, last)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// addSymbols registers symbols with their source specs, as `stocksys
// symbols add SYMBOL --source SPEC` does.
func (c *cluster) addSymbols(specs [][2]string) error {
	p := tasks.NewPaths(c.Root)
	if err := p.EnsureLayout(c.zk); err != nil {
		return err
	}
	for _, s := range specs {
		sym, err := tasks.ParseSymbol(s[0])
		if err != nil {
			return err
		}
		data, _ := json.Marshal(tasks.SymbolSpec{Symbol: sym, Source: s[1], Added: time.Now().UTC()})
		if _, err := c.zk.Create(p.Symbol(sym), data, 0, zkapi.OpenACL()); err != nil {
			return fmt.Errorf("add symbol %s: %w", sym, err)
		}
	}
	return nil
}

// removeSymbol unregisters a symbol (its fetch task stops).
func (c *cluster) removeSymbol(s string) error {
	sym, err := tasks.ParseSymbol(s)
	if err != nil {
		return err
	}
	return c.zk.Delete(tasks.NewPaths(c.Root).Symbol(sym), -1)
}

// scrape reads every node's /metrics; at is the middle of the reads.
type scrape struct {
	At    time.Time
	Nodes [][]Sample
}

func (c *cluster) scrape(ctx context.Context) (scrape, error) {
	start := time.Now()
	out := scrape{Nodes: make([][]Sample, len(c.Nodes))}
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.Addr+"/metrics", nil)
			if err != nil {
				errs[i] = err
				return
			}
			resp, err := c.http.Do(req)
			if err != nil {
				errs[i] = fmt.Errorf("node %s: %w", n.ID, err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs[i] = fmt.Errorf("node %s /metrics: %s", n.ID, resp.Status)
				return
			}
			out.Nodes[i], errs[i] = ParseMetrics(resp.Body)
		}()
	}
	wg.Wait()
	out.At = start.Add(time.Since(start) / 2)
	return out, errors.Join(errs...)
}

// sum adds a metric over every node.
func (s scrape) sum(name string) float64 {
	var t float64
	for _, ss := range s.Nodes {
		t += Sum(ss, name)
	}
	return t
}

// Metric names read from the nodes.
const (
	metricIngested = "stocksys_quotes_ingested_total"
	metricProduced = "stocksys_quotes_produced_total"
	metricReadable = "stocksys_ingest_readable_seconds"
	// Summaries, per message: the readable latency's split.
	metricDelivery = "stocksys_ingest_delivery_seconds"
	metricWait     = "stocksys_ingest_wait_seconds"
	metricWrite    = "stocksys_ingest_write_seconds"
	// Histograms, per batch.
	metricProduceLatency = "stocksys_produce_latency_seconds"
	metricIngestLatency  = "stocksys_ingest_latency_seconds"
)

// RSSMiB returns a process's resident set size (VmRSS of /proc/<pid>/status)
// in MiB.
func RSSMiB(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

func parseVmRSS(status []byte) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "VmRSS:" && f[2] == "kB" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmRSS line")
}

// rss returns every live node's RSS, keyed by node id.
func (c *cluster) rss() map[string]float64 {
	out := map[string]float64{}
	for _, n := range c.Nodes {
		if n.exited() {
			continue
		}
		if v, err := RSSMiB(n.cmd.Process.Pid); err == nil {
			out[n.ID] = v
		}
	}
	return out
}

// cpu returns every live node's CPU time, keyed by node id.
func (c *cluster) cpu() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, n := range c.Nodes {
		if v, err := ProcCPU(n.cmd.Process.Pid); err == nil {
			out[n.ID] = v
		}
	}
	return out
}

// connectZK opens a session and waits for it (10 s).
func connectZK(_ context.Context, servers []string) (zkapi.Client, error) {
	return zkapi.Dial(servers, 10*time.Second, 10*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
