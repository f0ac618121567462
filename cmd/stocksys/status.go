package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/status"
)

func newStatusCmd(g *globals) *cobra.Command {
	var (
		asJSON   bool
		watch    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster: master, last failover, members, tasks",
		Long: `status reads the cluster's state from ZooKeeper directly, so it works with no node running:
the master (id, epoch, since), the last failover (when the old term ended, when the new master
was elected, when its first assignment was written), members with their sessions, every task
with its owner, state, epoch and last progress, and unassigned tasks.

--json prints one object; its schema is documented in the README.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return fmt.Errorf("--interval %v: must be positive", interval)
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
			out := cmd.OutOrStdout()
			show := func() error {
				r, err := status.Read(c, g.cluster, root)
				if err != nil {
					return err
				}
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
	return cmd
}
