package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/zkapi"
)

// Config configures a chaos run.
type Config struct {
	// RunAll runs every planned fault, a late one late (when earlier faults'
	// server restarts took longer than planned on a loaded machine), instead
	// of skipping the faults whose time is past the plan's duration. For
	// tests that must see every kind.
	RunAll bool
	Repo   string // repository root: scripts/infra.sh and scripts/cluster.sh. Required.
	Dir    string // run folder; emptied first. Required.
	Bin    string // stocksys binary for the nodes. Required.
	// SharedData holds lean-spy-minute/ and alphavantage-msft-1min/. Required.
	SharedData string
	// MSFTDays limits the MSFT replay to its first N trading days (0: all).
	// Default 2.
	MSFTDays int
	Plan     Plan
	// PortOffset shifts every private server port from infra.sh's defaults.
	// Default 10000.
	PortOffset int
	// HTTPBase: node N serves HTTP on 127.0.0.1:HTTPBase+N. Default 18080.
	HTTPBase int
	// Partitions of the quotes topic (one ingest task each). Default 3.
	Partitions int
	// SettleTimeout bounds the wait, after the schedule, for every quote
	// to be stored. Default 3 minutes.
	SettleTimeout time.Duration
	// NoProxy runs every node directly on ZooKeeper (no partition faults).
	NoProxy bool
	// FetchTransactions starts the nodes with --fetch-transactions: fetch
	// tasks produce through Kafka transactions, checkpoints in Kafka.
	FetchTransactions bool
	// Out receives the schedule and one line per fault (nil: discarded).
	Out io.Writer
	// ScriptOut receives the scripts' output (nil: discarded).
	ScriptOut io.Writer
}

func (c Config) withDefaults() Config {
	if c.MSFTDays == 0 {
		c.MSFTDays = 2
	}
	if c.PortOffset == 0 {
		c.PortOffset = 10000
	}
	if c.HTTPBase == 0 {
		c.HTTPBase = 18080
	}
	if c.Partitions == 0 {
		c.Partitions = 3
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = 3 * time.Minute
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Plan.MaxFaults == 0 {
		c.Plan.MaxFaults = 100
	}
	return c
}

// Runner is one chaos run in progress.
type Runner struct {
	cfg     Config
	Env     *Env
	M       *Manifest
	proxies []*Proxy
	conn    zkapi.Client
	start   time.Time

	mu     sync.Mutex
	events *os.File
}

// NodeFlags are the flags every node of a chaos run gets. Flap damping is
// off (--flap-losses -1): the run kills, pauses and restarts nodes on
// purpose, far more often than the damping's default allows, and is there
// to test the handovers themselves.
func (r *Runner) NodeFlags() []string {
	m := r.M
	fs := []string{"--session-timeout", m.SessionTimeout.String(), "--flap-losses", "-1", "--keyspace", m.Keyspace, "--topic", m.Topic,
		"--dlq-topic", m.Topic + ".dlq", "--partitions", strconv.Itoa(m.Partitions), "--consistency", "ONE",
		"--log-format", "json", "--source", "synthetic"}
	if m.FetchTransactions {
		fs = append(fs, "--fetch-transactions")
	}
	return fs
}

// Setup empties the run folder, prepares the data, starts the private
// servers (a 3-server ZooKeeper ensemble, Kafka, Cassandra) and the nodes,
// registers the symbols and waits until every task runs. The caller must
// call Close (and Env.Down to stop the processes).
func Setup(ctx context.Context, cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	if cfg.Repo == "" || cfg.Dir == "" || cfg.Bin == "" || cfg.SharedData == "" {
		return nil, errors.New("chaos: repo, dir, bin and data are required")
	}
	sched, err := Schedule(cfg.Plan)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	ports := PortsAt(cfg.PortOffset)
	env := &Env{Repo: cfg.Repo, Dir: dir, Bin: cfg.Bin, Ports: ports, Cluster: "chaos", HTTPBase: cfg.HTTPBase, Out: cfg.ScriptOut}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		// A previous run in this folder: stop whatever it left running.
		fmt.Fprintf(cfg.Out, "chaos: stopping what the previous run in %s left running\n", dir)
		_ = env.Down(ctx)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, ClusterSub), 0o755); err != nil {
		return nil, err
	}
	if err := ports.CheckFree(); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, DataSub)
	syms, err := PrepareData(cfg.SharedData, dataDir, cfg.MSFTDays)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Seed: cfg.Plan.Seed, Duration: cfg.Plan.Duration, Nodes: cfg.Plan.Nodes,
		SessionTimeout: cfg.Plan.SessionTimeout, Cluster: env.Cluster, ZK: strings.Join(ports.ZKServers(), ","),
		Kafka: addr(ports.Kafka), Cassandra: addr(ports.Cassandra), Keyspace: "chaos", Topic: "chaos.quotes",
		Partitions: cfg.Partitions, DataDir: dataDir, Symbols: map[string]string{},
		ClusterDir: env.clusterDir(), InfraDir: env.infraDir(), Schedule: sched, FetchTransactions: cfg.FetchTransactions}
	// Pace each symbol's replay to end at about 80% of the schedule, so
	// that faults hit a flowing pipeline and the tail settles in time.
	for _, s := range syms {
		qs, err := SourceQuotes(dataDir, s, time.Now())
		if err != nil {
			return nil, err
		}
		span := qs[len(qs)-1].TS.Sub(qs[0].TS)
		speed := math.Max(1, math.Round(span.Seconds()/(cfg.Plan.Duration.Seconds()*0.8)))
		m.Symbols[s] = fmt.Sprintf("replay:%s?speed=%g", dataDir, speed)
	}
	r := &Runner{cfg: cfg, Env: env, M: m}
	if r.events, err = os.OpenFile(filepath.Join(dir, EventsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Out, "chaos: seed %d, %v, %d nodes, session timeout %v, %d faults planned:\n",
		m.Seed, m.Duration, m.Nodes, m.SessionTimeout, len(sched))
	for _, f := range sched {
		fmt.Fprintf(cfg.Out, "  %s\n", f)
	}
	if err := r.setup(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Runner) setup(ctx context.Context) error {
	out := r.cfg.Out
	t0 := time.Now()
	fmt.Fprintf(out, "chaos: starting private servers in %s (ZooKeeper %s, Kafka %s, Cassandra %s)\n",
		r.M.InfraDir, r.M.ZK, r.M.Kafka, r.M.Cassandra)
	if err := r.Env.Infra(ctx, "up", "--zk-ensemble", "3"); err != nil {
		return err
	}
	fmt.Fprintf(out, "chaos: servers up in %.0fs\n", time.Since(t0).Seconds())
	conn, err := zkapi.Dial(r.Env.Ports.ZKServers(), 10*time.Second, 10*time.Second)
	if err != nil {
		return err
	}
	r.conn = conn
	flags := r.NodeFlags()
	n := r.M.Nodes
	if !r.cfg.NoProxy {
		r.M.Proxied = fmt.Sprintf("node-%d", n)
		var addrs []string
		for _, s := range r.Env.Ports.ZKServers() {
			p, err := NewProxy("127.0.0.1:0", s)
			if err != nil {
				return err
			}
			r.proxies = append(r.proxies, p)
			addrs = append(addrs, p.Addr())
		}
		if n > 1 {
			if err := r.Env.ClusterSh(ctx, append([]string{"up", strconv.Itoa(n - 1), "--"}, flags...)...); err != nil {
				return err
			}
		}
		pf := append(append([]string{}, flags...), "--zk", strings.Join(addrs, ","))
		if err := r.Env.ClusterSh(ctx, append([]string{"start", r.M.Proxied, "--"}, pf...)...); err != nil {
			return err
		}
	} else if err := r.Env.ClusterSh(ctx, append([]string{"up", strconv.Itoa(n), "--"}, flags...)...); err != nil {
		return err
	}
	for _, s := range sortedKeys(r.M.Symbols) {
		if _, err := r.Env.Stocksys(ctx, "symbols", "add", s, "--source", r.M.Symbols[s], "--replace"); err != nil {
			return err
		}
	}
	if err := r.waitAllRunning(ctx, 90*time.Second); err != nil {
		return err
	}
	r.M.Started = time.Now()
	fmt.Fprintf(out, "chaos: %d nodes running every task after %.0fs\n", n, time.Since(t0).Seconds())
	return WriteManifest(r.cfg.Dir, r.M)
}

// Status reads the cluster's status from ZooKeeper.
func (r *Runner) Status() (*status.Report, error) {
	return status.Read(r.conn, r.M.Cluster, "/stocksys/"+r.M.Cluster)
}

// AllRunning reports whether r has a master, n members, and every task
// running on a member with no task unassigned.
func AllRunning(st *status.Report, n int) bool {
	if st == nil || st.Master == nil || len(st.Members) != n || len(st.Unassigned) > 0 || len(st.Tasks) == 0 {
		return false
	}
	for _, t := range st.Tasks {
		if t.Owner == nil || t.State != "running" {
			return false
		}
	}
	return true
}

func (r *Runner) waitAllRunning(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	want := len(r.M.Symbols) + r.M.Partitions
	for {
		st, err := r.Status()
		if err == nil && AllRunning(st, r.M.Nodes) && len(st.Tasks) == want {
			return nil
		}
		if time.Now().After(deadline) {
			js, _ := json.Marshal(st)
			return fmt.Errorf("chaos: not every task running within %v (last error %v): %s", limit, err, js)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// Close closes the proxies and the ZooKeeper connection. The processes keep
// running (Env.Down stops them). Idempotent.
func (r *Runner) Close() {
	for _, p := range r.proxies {
		p.Close()
	}
	r.proxies = nil
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	r.mu.Lock()
	if r.events != nil {
		r.events.Close()
		r.events = nil
	}
	r.mu.Unlock()
}

// record appends e to events.jsonl and prints it.
func (r *Runner) record(e Event) {
	if e.T.IsZero() {
		e.T = time.Now()
	}
	b, _ := json.Marshal(e)
	r.mu.Lock()
	if r.events != nil {
		_, _ = r.events.Write(append(b, '\n'))
	}
	r.mu.Unlock()
	var rel float64
	if !r.start.IsZero() {
		rel = e.T.Sub(r.start).Seconds()
	}
	who := e.Target
	if e.Node != "" && e.Node != e.Target {
		who += "=" + e.Node
	}
	if e.PID != 0 {
		who += fmt.Sprintf(" pid %d", e.PID)
	}
	line := fmt.Sprintf("%s [+%6.1fs] #%02d %-6s %-12s %s", e.T.Format("15:04:05.000"), rel, e.Seq, e.Phase, e.Kind, who)
	if e.Signal != "" {
		line += " SIG" + e.Signal
	}
	if e.Detail != "" {
		line += " " + e.Detail
	}
	if e.Err != "" {
		line += " error: " + e.Err
	}
	fmt.Fprintln(r.cfg.Out, line)
}

// Record appends a note or a fault event from outside the schedule (the
// benchmark's faults).
func (r *Runner) Record(e Event) { r.record(e) }

// Run executes the schedule: each fault at its planned offset (later if the
// previous one took longer), never starting one after the planned duration
// has passed. Then it undoes anything left, puts the proxied node back on
// ZooKeeper directly, and waits for the cluster to settle.
func (r *Runner) Run(ctx context.Context) error {
	r.start = time.Now()
	deadline := r.start.Add(r.M.Duration)
	r.record(Event{Kind: "schedule", Phase: PhaseNote, Detail: fmt.Sprintf("start: %d faults planned", len(r.M.Schedule))})
	var runErr error
	for _, f := range r.M.Schedule {
		if err := sleepCtx(ctx, time.Until(r.start.Add(f.At))); err != nil {
			runErr = err
			break
		}
		if time.Now().After(deadline) && !r.cfg.RunAll {
			r.record(Event{Seq: f.Seq, Kind: f.Kind, Phase: PhaseSkip, Target: f.Target, Detail: "past the duration"})
			continue
		}
		if err := r.inject(ctx, f); err != nil {
			runErr = err
			break
		}
	}
	r.M.ScheduleEnded = time.Now()
	r.record(Event{Kind: "schedule", Phase: PhaseNote, Detail: "end"})
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.restore(rctx); err != nil {
		return errors.Join(runErr, err)
	}
	if runErr != nil {
		_ = WriteManifest(r.cfg.Dir, r.M)
		return runErr
	}
	if err := r.Settle(ctx, r.cfg.SettleTimeout); err != nil {
		_ = WriteManifest(r.cfg.Dir, r.M)
		return err
	}
	r.M.Settled = time.Now()
	fmt.Fprintf(r.cfg.Out, "chaos: settled %.1fs after the schedule ended\n", r.M.Settled.Sub(r.M.ScheduleEnded).Seconds())
	return WriteManifest(r.cfg.Dir, r.M)
}

// resolve turns a fault target into a node id.
func (r *Runner) resolve(ctx context.Context, target string) (string, error) {
	switch target {
	case TargetProxied:
		if r.M.Proxied == "" {
			return "", errors.New("no proxied node (--no-proxy)")
		}
		return r.M.Proxied, nil
	case TargetMaster:
		deadline := time.Now().Add(3 * r.M.SessionTimeout)
		for {
			st, err := r.Status()
			if err == nil && st.Master != nil {
				return st.Master.ID, nil
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("no master within %v", 3*r.M.SessionTimeout)
			}
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return "", err
			}
		}
	}
	return target, nil
}

// inject runs one fault and its undo; it returns only ctx's error (a fault
// that cannot be injected is recorded as skipped).
func (r *Runner) inject(ctx context.Context, f Fault) error {
	ev := Event{Seq: f.Seq, Kind: f.Kind, Target: f.Target}
	skip := func(err error) error {
		ev.Phase, ev.Err = PhaseSkip, err.Error()
		r.record(ev)
		return ctx.Err()
	}
	hold := func() error { return sleepCtx(ctx, f.Hold) }
	switch f.Kind {
	case KindKill, KindPause:
		id, err := r.resolve(ctx, f.Target)
		if err != nil {
			return skip(err)
		}
		ev.Node = id
		sig, undoSig := syscall.SIGKILL, syscall.SIGCONT
		ev.Signal = "KILL"
		if f.Kind == KindPause {
			sig, ev.Signal = syscall.SIGSTOP, "STOP"
		}
		ev.T = time.Now()
		pid, err := r.Env.Signal(id, sig)
		if err != nil {
			return skip(err)
		}
		ev.PID, ev.Phase = pid, PhaseInject
		r.record(ev)
		herr := hold()
		ev.T, ev.Phase, ev.Err, ev.Signal = time.Time{}, PhaseUndo, "", ""
		if f.Kind == KindPause {
			ev.T = time.Now()
			if err := syscall.Kill(pid, undoSig); err != nil {
				ev.Err = err.Error()
			}
			ev.Signal = "CONT"
		} else {
			ev.PID = 0
			if err := r.Env.ClusterSh(context.Background(), "start", id); err != nil {
				ev.Err = err.Error()
			}
			ev.PID, ev.Detail = r.Env.NodePID(id), "restarted"
		}
		r.record(ev)
		return herr
	case KindPartition:
		id, err := r.resolve(ctx, f.Target)
		if err != nil {
			return skip(err)
		}
		ev.Node, ev.PID, ev.Phase = id, r.Env.NodePID(id), PhaseInject
		ev.T = time.Now()
		for _, p := range r.proxies {
			p.Blackhole()
		}
		ev.Detail = "ZooKeeper blackholed; Kafka and Cassandra reachable"
		r.record(ev)
		herr := hold()
		ev.T = time.Now()
		for _, p := range r.proxies {
			p.Heal()
		}
		ev.Phase, ev.Detail = PhaseUndo, "healed"
		r.record(ev)
		return herr
	case KindZKServer, KindKafka, KindCassandra:
		ev.Node = ""
		if err := r.Env.Infra(context.Background(), "stop", f.Target); err != nil {
			return skip(err)
		}
		ev.Phase, ev.T = PhaseInject, time.Now()
		ev.Detail = "stopped"
		r.record(ev)
		herr := hold()
		ev.Phase, ev.T, ev.Detail = PhaseUndo, time.Time{}, "started"
		if err := r.Env.Infra(context.Background(), "start", f.Target); err != nil {
			ev.Err = err.Error()
		}
		r.record(ev)
		return herr
	}
	return skip(fmt.Errorf("unknown kind %q", f.Kind))
}

// restore undoes whatever a cancelled schedule left: heals the proxies,
// starts stopped servers and dead nodes, resumes paused ones, and restarts
// the proxied node directly on ZooKeeper (the proxy dies with this process).
func (r *Runner) restore(ctx context.Context) error {
	for _, p := range r.proxies {
		p.Heal()
	}
	var errs []error
	if err := r.Env.Infra(ctx, "up", "--zk-ensemble", "3"); err != nil {
		errs = append(errs, err)
	}
	for i := 1; i <= r.M.Nodes; i++ {
		id := fmt.Sprintf("node-%d", i)
		if pid := r.Env.NodePID(id); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	if r.M.Proxied != "" {
		ev := Event{Kind: "restore", Phase: PhaseNote, Node: r.M.Proxied, Signal: "TERM",
			Detail: "restarting the proxied node directly on ZooKeeper"}
		ev.PID = r.Env.NodePID(r.M.Proxied)
		r.record(ev)
		if err := r.Env.ClusterSh(ctx, "stop", r.M.Proxied); err != nil {
			errs = append(errs, err)
		}
		if err := r.Env.ClusterSh(ctx, append([]string{"start", r.M.Proxied, "--"}, r.NodeFlags()...)...); err != nil {
			errs = append(errs, err)
		}
	}
	for i := 1; i <= r.M.Nodes; i++ {
		id := fmt.Sprintf("node-%d", i)
		if r.Env.NodePID(id) == 0 {
			if err := r.Env.ClusterSh(ctx, "start", id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
