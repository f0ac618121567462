package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Ports are the private servers' ports (scripts/infra.sh variables).
type Ports struct {
	ZK, ZKPeer, Kafka, KafkaController, Cassandra, CassandraStorage int
}

// PortsAt returns infra.sh's default ports shifted by offset (10000: ZooKeeper
// 12181-12183, peers 12889-12891 and 13889-13891, Kafka 19092/19093,
// Cassandra 19042, storage 17000).
func PortsAt(offset int) Ports {
	return Ports{ZK: 2181 + offset, ZKPeer: 2888 + offset, Kafka: 9092 + offset, KafkaController: 9093 + offset,
		Cassandra: 9042 + offset, CassandraStorage: 7000 + offset}
}

func (p Ports) list() []int {
	return []int{p.ZK, p.ZK + 1, p.ZK + 2, p.ZKPeer + 1, p.ZKPeer + 2, p.ZKPeer + 3, p.ZKPeer + 1001, p.ZKPeer + 1002,
		p.ZKPeer + 1003, p.Kafka, p.KafkaController, p.Cassandra, p.CassandraStorage}
}

// CheckFree fails if a port is in use or is a shared server's default port.
func (p Ports) CheckFree() error {
	shared := map[int]bool{2181: true, 2182: true, 2183: true, 9092: true, 9093: true, 9042: true, 7000: true}
	for _, port := range p.list() {
		if shared[port] {
			return fmt.Errorf("chaos: port %d is a shared server's default port; chaos runs its own servers on other ports", port)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return fmt.Errorf("chaos: port %d is busy (another chaos run? pick --port-offset): %w", port, err)
		}
		ln.Close()
	}
	return nil
}

// ZKServers returns the ensemble's client addresses.
func (p Ports) ZKServers() []string {
	return []string{addr(p.ZK), addr(p.ZK + 1), addr(p.ZK + 2)}
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// Env runs the project's scripts against one chaos run folder.
type Env struct {
	Repo     string // repository root (holds scripts/)
	Dir      string // the run folder
	Bin      string // stocksys binary the nodes run
	Ports    Ports
	Cluster  string
	HTTPBase int
	Out      io.Writer // script output goes here (nil: discarded)
}

func (e *Env) clusterDir() string { return filepath.Join(e.Dir, ClusterSub) }
func (e *Env) infraDir() string   { return filepath.Join(e.Dir, InfraSub) }

// serverSettings are the scripts/infra.sh variables that tune the private
// servers rather than point at the operator's own: they pass through to
// them (STOCKSYS_ZK_TICK_MS=50 stocksys chaos bench ...); every other
// STOCKSYS_ variable of the environment is dropped.
var serverSettings = []string{"STOCKSYS_INFRA_CACHE=", "STOCKSYS_ZK_TICK_MS=", "STOCKSYS_ZK_HEAP=", "STOCKSYS_KAFKA_HEAP=",
	"STOCKSYS_CASSANDRA_HEAP=", "STOCKSYS_CASSANDRA_FAST=", "STOCKSYS_CASSANDRA_MEMTABLE=", "STOCKSYS_CASSANDRA_GC_PAUSE_MS="}

func (e *Env) environ() []string {
	p := e.Ports
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STOCKSYS_") || slices.ContainsFunc(serverSettings, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return append(env,
		"STOCKSYS_INFRA_DIR="+e.infraDir(),
		"STOCKSYS_ZK_PORT="+strconv.Itoa(p.ZK), "STOCKSYS_ZK_PEER_PORT="+strconv.Itoa(p.ZKPeer),
		"STOCKSYS_KAFKA_PORT="+strconv.Itoa(p.Kafka), "STOCKSYS_KAFKA_CONTROLLER_PORT="+strconv.Itoa(p.KafkaController),
		"STOCKSYS_CASSANDRA_PORT="+strconv.Itoa(p.Cassandra), "STOCKSYS_CASSANDRA_STORAGE_PORT="+strconv.Itoa(p.CassandraStorage),
		"STOCKSYS_ZK="+strings.Join(p.ZKServers(), ","), "STOCKSYS_KAFKA="+addr(p.Kafka),
		"STOCKSYS_CASSANDRA="+addr(p.Cassandra), "STOCKSYS_CLUSTER="+e.Cluster,
		"STOCKSYS_CLUSTER_DIR="+e.clusterDir(), "STOCKSYS_CLUSTER_BIN="+e.Bin,
		"STOCKSYS_HTTP_BASE="+strconv.Itoa(e.HTTPBase),
	)
}

// script runs scripts/NAME with args; its output goes to e.Out and is
// returned.
func (e *Env) script(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(e.Repo, "scripts", name)}, args...)...)
	cmd.Dir = e.Repo
	cmd.Env = e.environ()
	var buf bytes.Buffer
	w := io.Writer(&buf)
	if e.Out != nil {
		w = io.MultiWriter(&buf, e.Out)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	if err != nil {
		return buf.String(), fmt.Errorf("chaos: scripts/%s %s: %w", name, strings.Join(args, " "), err)
	}
	return buf.String(), nil
}

// Infra runs scripts/infra.sh.
func (e *Env) Infra(ctx context.Context, args ...string) error {
	_, err := e.script(ctx, "infra.sh", args...)
	return err
}

// ClusterSh runs scripts/cluster.sh.
func (e *Env) ClusterSh(ctx context.Context, args ...string) error {
	_, err := e.script(ctx, "cluster.sh", args...)
	return err
}

// Stocksys runs the binary with args in the run's environment.
func (e *Env) Stocksys(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.Bin, args...)
	cmd.Env = e.environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("chaos: stocksys %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Down stops the nodes and the private servers of the run folder (only
// processes started there: the scripts check their pid files and markers).
func (e *Env) Down(ctx context.Context) error {
	err1 := e.ClusterSh(ctx, "down")
	err2 := e.Infra(ctx, "down")
	return errors.Join(err1, err2)
}

// NodePID returns the live pid of node id (0 if not running). Like
// cluster.sh, it checks the command line so a reused pid is never signalled.
func (e *Env) NodePID(id string) int {
	b, err := os.ReadFile(filepath.Join(e.clusterDir(), id+".pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), "node --id "+id+" ") {
		return 0
	}
	return pid
}

// Signal sends sig to node id's process; it returns the pid signalled.
func (e *Env) Signal(id string, sig syscall.Signal) (int, error) {
	pid := e.NodePID(id)
	if pid == 0 {
		return 0, fmt.Errorf("chaos: %s is not running", id)
	}
	return pid, syscall.Kill(pid, sig)
}

// PrepareData fills dir with the replay data: a link to the Lean SPY folder
// and the first days of the Alpha Vantage MSFT CSV (all days if days <= 0).
// It returns the symbols it prepared.
func PrepareData(shared, dir string, msftDays int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var syms []string
	spy := filepath.Join(shared, "lean-spy-minute")
	if _, err := os.Stat(spy); err == nil {
		// One link per file: the replay's directory walk does not follow a
		// linked directory.
		files, _ := filepath.Glob(filepath.Join(spy, "*.zip"))
		if err := os.MkdirAll(filepath.Join(dir, "lean-spy-minute"), 0o755); err != nil {
			return nil, err
		}
		for _, f := range files {
			abs, _ := filepath.Abs(f)
			if err := os.Symlink(abs, filepath.Join(dir, "lean-spy-minute", filepath.Base(f))); err != nil && !os.IsExist(err) {
				return nil, err
			}
		}
		syms = append(syms, "SPY")
	}
	csvs, _ := filepath.Glob(filepath.Join(shared, "alphavantage-msft-1min", "msft_1min_*.csv"))
	if len(csvs) > 0 {
		sort.Strings(csvs)
		if err := truncateDays(csvs[0], filepath.Join(dir, "alphavantage-msft-1min", "msft_1min_chaos.csv"), msftDays); err != nil {
			return nil, err
		}
		syms = append(syms, "MSFT")
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("chaos: no real data under %s (want lean-spy-minute/ and alphavantage-msft-1min/; set --data or STOCKSYS_DATA)", shared)
	}
	return syms, nil
}

// truncateDays copies the header and the rows of the earliest `days` dates
// (the first column's yyyy-mm-dd) of a CSV.
func truncateDays(src, dst string, days int) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) < 2 {
		return fmt.Errorf("chaos: %s: empty", src)
	}
	dates := map[string]bool{}
	for _, l := range lines[1:] {
		if len(l) >= 10 {
			dates[l[:10]] = true
		}
	}
	ds := make([]string, 0, len(dates))
	for d := range dates {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	keep := map[string]bool{}
	for i, d := range ds {
		if days <= 0 || i < days {
			keep[d] = true
		}
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	fmt.Fprintln(w, lines[0])
	for _, l := range lines[1:] {
		if len(l) >= 10 && keep[l[:10]] {
			fmt.Fprintln(w, strings.TrimRight(l, "\r"))
		}
	}
	w.Flush()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, out.Bytes(), 0o644)
}

// sleepCtx sleeps d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
