package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/datapathbench"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks on the configured servers",
		Args:  cobra.NoArgs,
		RunE:  needSubcommand,
	}
	cmd.AddCommand(newBenchDatapathCmd(g))
	return cmd
}

type benchDatapathOpts struct {
	cfg    datapathbench.Config
	data   string
	asJSON bool
}

func newBenchDatapathCmd(g *globals) *cobra.Command {
	o := &benchDatapathOpts{cfg: datapathbench.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "datapath",
		Short: "The data path beside raw gocql, raw sarama and raw Cassandra floors, in one run",
		Long: `datapath measures, in one run on the servers of --zk, --kafka and --cassandra, with a fresh
Kafka topic (and DLQ), Cassandra keyspace and ZooKeeper cluster name per phase, all removed
afterwards (also on error or ctrl-C):

  raw gocql      SPY's 250,601 trade ticks of 2013-10-07 written into a table with the store's
                 ticks schema, batched as the store batches (UNLOGGED, one partition, < 4 KiB
                 estimated, 16 in flight, consistency ONE)
  floors         raw sarama produce->consume and a raw single-row Cassandra INSERT, paced
                 (--floor-rate per second for --floor-duration)
  pipeline       two child "stocksys node" processes; SPY replayed at speed=max; rows/s from
                 the first ingested row to the last (their /metrics scraped every 100 ms),
                 checked with a COUNT of the stored ticks
  latency        readable latency p50/p99 (stocksys_ingest_readable_seconds) at 10% and 50%
                 of that capacity (replay rate=N for --latency-duration), fresh clusters; its
                 split into Kafka delivery, waiting for earlier batches and the write
                 (stocksys_ingest_{delivery,wait,write}_seconds); and both floors run again
                 beside the load (same code and pacing, own topic and rows): latency_ratio_loaded
  memory         --memory-symbols tick symbols at once on the throughput cluster; each
                 node's peak and final VmRSS

Prints a table, or with --json one JSON object; progress goes to stderr. Node logs stay in
--work-dir (default a new temporary folder).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchDatapath(cmd, g, o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object instead of the table")
	f.StringVar(&o.data, "data", "", "real data folder holding lean-ticks/ (env STOCKSYS_DATA; default ../shared/data beside the repository or the binary)")
	f.StringVar(&o.cfg.WorkDir, "work-dir", "", "folder for the node logs and truncated tick files (default a new temporary folder, kept)")
	f.IntVar(&o.cfg.Ticks, "ticks", 0, "use only the first N trades of each tick file (a short run); 0: all (SPY's 250,601)")
	f.DurationVar(&o.cfg.Timeout, "timeout", o.cfg.Timeout, "limit of the whole run")
	f.IntVar(&o.cfg.FloorRate, "floor-rate", o.cfg.FloorRate, "messages (inserts) per second of the floors")
	f.DurationVar(&o.cfg.FloorDuration, "floor-duration", o.cfg.FloorDuration, "length of each floor measurement")
	f.DurationVar(&o.cfg.LatencyDuration, "latency-duration", o.cfg.LatencyDuration, "offered load of each latency phase")
	f.IntVar(&o.cfg.MemorySymbols, "memory-symbols", o.cfg.MemorySymbols, "tick symbols of the memory phase (0 skips it)")
	f.DurationVar(&o.cfg.MemoryDuration, "memory-duration", o.cfg.MemoryDuration, "limit of the memory phase")
	f.DurationVar(&o.cfg.Profile, "profile", 0, "save a CPU profile of this length of each node from the first ingested row of the throughput phase (in --work-dir; 0: none)")
	f.DurationVar(&o.cfg.SessionTimeout, "session-timeout", o.cfg.SessionTimeout, "ZooKeeper session timeout of the child nodes")
	return cmd
}

func runBenchDatapath(cmd *cobra.Command, g *globals, o *benchDatapathOpts) error {
	cfg := o.cfg
	cfg.ZK, cfg.Kafka, cfg.Cassandra = splitList(g.zk), splitList(g.kafka), splitList(g.cassandra)
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("the stocksys binary for the child nodes: %w", err)
	}
	cfg.Bin = bin
	cfg.Data = benchDataDir(o.data, bin)
	stderr := cmd.ErrOrStderr()
	cfg.Progress = func(s string) { fmt.Fprintln(stderr, "bench:", s) }
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	res, err := datapathbench.Run(ctx, cfg)
	if res == nil {
		return err
	}
	out := cmd.OutOrStdout()
	if err != nil {
		// What was measured before the failure, for the record.
		b, _ := json.Marshal(res)
		fmt.Fprintf(stderr, "bench: partial result: %s\n", b)
		return err
	}
	if o.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return datapathbench.WriteTable(out, res)
}

func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// benchDataDir is --data, else STOCKSYS_DATA (applied to --data by
// applySettings), else the first ../shared/data beside the repository
// holding the working directory or beside the binary (or a parent of it)
// that has the tick files; else ../shared/data.
func benchDataDir(flag, bin string) string {
	if flag != "" {
		return flag
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		starts = append(starts, filepath.Dir(real))
	}
	for _, dir := range starts {
		for range 6 {
			cand := filepath.Join(dir, "..", "shared", "data")
			if _, err := os.Stat(filepath.Join(cand, "lean-ticks")); err == nil {
				return filepath.Clean(cand)
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return filepath.Join("..", "shared", "data")
}
