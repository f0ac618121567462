package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

func newStatusCmd(g *globals) *cobra.Command {
	var (
		asJSON     bool
		watch      bool
		interval   time.Duration
		stallAfter time.Duration
		lag        = &lagReader{streamCfg: stream.DefaultConfig(), storeCfg: store.DefaultConfig()}
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster: master, last failover, election queue, members, tasks",
		Long: `status reads the cluster's state from ZooKeeper directly, so it works with no node running:
the master (id, epoch, since), the last failover (when the old term ended, when the new master
was elected, when its first assignment was written, and why the old term ended), the election
queue (candidates in order of succession, with node id and session), members with their
sessions, every task with its owner, state, epoch and last progress, and unassigned tasks.

The lag of each ingest task is measured, not taken from its owner: the quotes
topic's high-water mark per partition (Kafka, --kafka, --topic) minus the offset
the task committed (Cassandra, --cassandra, --keyspace), or minus the partition's
oldest offset before any commit. When either cannot be read, it says so and shows
the lag the owners reported, marked *. An ingest task with a lag that has made no
progress for --stall-after, or (with --watch) whose lag grew between two refreshes
while neither its progress nor its committed offset moved, is shown as STALLED.

--json prints one object; its schema is documented in the README.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return fmt.Errorf("--interval %v: must be positive", interval)
			}
			if stallAfter <= 0 {
				return fmt.Errorf("--stall-after %v: must be positive", stallAfter)
			}
			root, err := g.root()
			if err != nil {
				return err
			}
			c, err := g.connectZK(5 * time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			lag.kafka, lag.cassandra = g.kafka, g.cassandra
			if lag.streamCfg, err = g.streamConfig(); err != nil {
				return err
			}
			if lag.storeCfg, err = g.storeConfig(); err != nil {
				return err
			}
			defer lag.close()
			out := cmd.OutOrStdout()
			var prev *status.Report
			show := func() error {
				r, err := status.Read(c, g.cluster, root)
				if err != nil {
					return err
				}
				lag.measure(cmd.Context(), r)
				status.MarkStalled(r, prev, time.Now(), stallAfter)
				prev = r
				if asJSON {
					enc := json.NewEncoder(out)
					if !watch {
						enc.SetIndent("", "  ")
					}
					return enc.Encode(r)
				}
				if watch {
					fmt.Fprint(out, "\033[H\033[2J") // clear the screen, refresh in place
				}
				return status.WriteText(out, r, time.Now())
			}
			if !watch {
				return show()
			}
			stop := make(chan os.Signal, 1)
			signal.Notify(stop, os.Interrupt)
			defer signal.Stop(stop)
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				if err := show(); err != nil {
					return err
				}
				select {
				case <-stop:
					return nil
				case <-tick.C:
				}
			}
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (with --watch: one per line)")
	cmd.Flags().BoolVar(&watch, "watch", false, "refresh until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "refresh period with --watch")
	cmd.Flags().DurationVar(&stallAfter, "stall-after", status.DefaultStallAfter,
		"an ingest task with a lag and no progress for this long is shown as stalled")
	cmd.Flags().StringVar(&lag.topic, "topic", stream.DefaultConfig().Topic, "Kafka topic of quotes, whose lag is measured (as the nodes' --topic)")
	cmd.Flags().StringVar(&lag.keyspace, "keyspace", store.DefaultConfig().Keyspace, "Cassandra keyspace holding the committed offsets (as the nodes' --keyspace)")
	return cmd
}
