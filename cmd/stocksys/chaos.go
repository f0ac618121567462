package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/chaos"
	"github.com/stock-system/stocksys/verify"
)

type chaosOpts struct {
	dir, data, repo string
	seed            uint64
	duration        time.Duration
	nodes           int
	sessionTimeout  time.Duration
	maxFaults       int
	kinds           []string
	portOffset      int
	httpBase        int
	msftDays        int
	settle          time.Duration
	verify, down    bool
	verbose         bool
	noProxy         bool
	fetchTx         bool
}

func newChaosCmd(_ *globals) *cobra.Command {
	o := &chaosOpts{}
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run a seeded fault schedule against a private local cluster, then leave it for `stocksys verify`",
		Long: `chaos starts private servers (scripts/infra.sh: a 3-server ZooKeeper ensemble, Kafka and
Cassandra on ports shifted by --port-offset, data in DIR/infra) and a cluster of --nodes nodes
(scripts/cluster.sh, run folder DIR/cluster, each with an audit trail), replays SPY and MSFT from
--data, and runs a fault schedule drawn from --seed: kill -9 and restart of nodes (the master more
often), SIGSTOP/SIGCONT longer than the session timeout, stop/start of one ZooKeeper server, cutting
the last node off from ZooKeeper only (it reaches ZooKeeper through a loopback proxy in this process
that blackholes), and brief stops of Kafka and Cassandra. The same seed gives the same schedule,
printed first; each fault is printed with its time as it happens and logged in DIR/events.jsonl.

Afterwards it waits for the cluster to settle (every quote fetched, every partition ingested to
its end) and leaves it running for 'stocksys verify --dir DIR' (or runs it with --verify). Stop
everything with 'stocksys chaos down --dir DIR' (or --down). Only loopback addresses are targeted,
and only processes started in DIR are ever signalled.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runChaos(cmd, o) },
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.dir, "dir", ".run/chaos", "run folder (emptied first; what a previous run there left running is stopped)")
	f.StringVar(&o.data, "data", "", "real data folder (default $STOCKSYS_DATA, else ../shared/data)")
	f.StringVar(&o.repo, "repo", "", "repository root holding scripts/ (default: found from the working directory)")
	f.Uint64Var(&o.seed, "seed", 1, "schedule seed: the same seed gives the same schedule")
	f.DurationVar(&o.duration, "duration", 2*time.Minute, "faults start within this time (at most 6h)")
	f.IntVar(&o.nodes, "nodes", 3, "nodes (2..9)")
	f.DurationVar(&o.sessionTimeout, "session-timeout", 3*time.Second, "the nodes' ZooKeeper session timeout")
	f.IntVar(&o.maxFaults, "max-faults", 100, "hard bound on the number of faults")
	f.StringSliceVar(&o.kinds, "kinds", nil, "fault kinds to draw from (default all: kill,pause,zk-server,zk-partition,kafka,cassandra)")
	f.IntVar(&o.portOffset, "port-offset", 10000, "private server ports are infra.sh's defaults plus this")
	f.IntVar(&o.httpBase, "http-base", 18080, "node N serves HTTP on 127.0.0.1:<base+N>")
	f.IntVar(&o.msftDays, "msft-days", 2, "replay only the first N days of MSFT (0: all 19)")
	f.DurationVar(&o.settle, "settle-timeout", 3*time.Minute, "how long to wait for the data to settle after the schedule")
	f.BoolVar(&o.verify, "verify", false, "run `stocksys verify` at the end; exit non-zero on a violation")
	f.BoolVar(&o.down, "down", false, "stop the cluster and the private servers at the end")
	f.BoolVar(&o.noProxy, "no-proxy", false, "no ZooKeeper proxy (and no zk-partition faults)")
	f.BoolVar(&o.fetchTx, "fetch-transactions", false, "start the nodes with --fetch-transactions (fetch through Kafka transactions)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "show the scripts' output")
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop the nodes and private servers of a chaos run folder",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := chaosEnv(o)
			if err != nil {
				return err
			}
			env.Out = cmd.ErrOrStderr()
			return env.Down(cmd.Context())
		},
	}
	cmd.AddCommand(down, newChaosBenchCmd(o))
	return cmd
}

func findRepo(repo string) (string, error) {
	if repo != "" {
		return filepath.Abs(repo)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "cluster.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("chaos: scripts/cluster.sh not found above the working directory; give --repo")
		}
		dir = parent
	}
}

func sharedData(flag, repo string) string {
	if flag != "" {
		return flag
	}
	if d := os.Getenv("STOCKSYS_DATA"); d != "" {
		return d
	}
	return filepath.Join(repo, "..", "shared", "data")
}

func chaosEnv(o *chaosOpts) (*chaos.Env, error) {
	repo, err := findRepo(o.repo)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, err
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &chaos.Env{Repo: repo, Dir: dir, Bin: bin, Ports: chaos.PortsAt(o.portOffset), Cluster: "chaos", HTTPBase: o.httpBase}, nil
}

func (o *chaosOpts) config(cmd *cobra.Command) (chaos.Config, error) {
	env, err := chaosEnv(o)
	if err != nil {
		return chaos.Config{}, err
	}
	var kinds []chaos.Kind
	for _, k := range o.kinds {
		kk, err := chaos.ParseKind(strings.TrimSpace(k))
		if err != nil {
			return chaos.Config{}, err
		}
		kinds = append(kinds, kk)
	}
	cfg := chaos.Config{Repo: env.Repo, Dir: env.Dir, Bin: env.Bin, SharedData: sharedData(o.data, env.Repo),
		MSFTDays: o.msftDays, PortOffset: o.portOffset, HTTPBase: o.httpBase, SettleTimeout: o.settle, NoProxy: o.noProxy, FetchTransactions: o.fetchTx,
		Plan: chaos.Plan{Seed: o.seed, Duration: o.duration, Nodes: o.nodes, SessionTimeout: o.sessionTimeout,
			MaxFaults: o.maxFaults, Kinds: kinds},
		Out: cmd.OutOrStdout()}
	if o.msftDays == 0 {
		cfg.MSFTDays = -1 // all
	}
	if o.verbose {
		cfg.ScriptOut = cmd.ErrOrStderr()
	}
	return cfg, nil
}

func runChaos(cmd *cobra.Command, o *chaosOpts) error {
	cfg, err := o.config(cmd)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	r, err := chaos.Setup(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	runErr := r.Run(ctx)
	r.Close()
	var verr error
	if runErr == nil && o.verify {
		rep, err := verify.Run(context.Background(), verify.Config{Dir: cfg.Dir})
		if err != nil {
			verr = err
		} else {
			fmt.Fprintln(cmd.OutOrStdout())
			rep.WriteText(cmd.OutOrStdout())
			if !rep.OK() {
				verr = fmt.Errorf("verify: %d violations", len(rep.Violations))
			}
		}
	}
	if o.down {
		dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := r.Env.Down(dctx); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "chaos: down:", err)
		}
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "chaos: the cluster keeps running: stocksys verify --dir %s; stocksys chaos down --dir %s\n", cfg.Dir, cfg.Dir)
	}
	return errors.Join(runErr, verr)
}
