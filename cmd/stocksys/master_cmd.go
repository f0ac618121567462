package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/status"
)

func newMasterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "master", Short: "The master's terms"}
	var asJSON bool
	var last int
	history := &cobra.Command{
		Use:   "history",
		Short: "Every recorded master term: node, session, how it began and ended, the handover's length",
		Long: `history reads the terms/ records (the newest 100 the candidates keep), the master znode and the
failover document, and prints one line per term, oldest first: epoch, node, session, when it was
won, how long it was held, why it began (the end of the term before: resigned, session_expiry,
restart, same_session, fenced, first_term, unknown), the handover (the previous master's
resignation -> this win; only after a resignation), this term's first fenced write after its win
(the latest change of master only) and how it ended (resigned, current, or not recorded: a crash,
a lost session or fencing leaves no end in the record). --json prints the terms as a JSON array.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if last < 0 {
				return fmt.Errorf("--last %d: must not be negative", last)
			}
			c, root, err := g.openCluster()
			if err != nil {
				return err
			}
			defer c.Close()
			terms, err := status.MasterHistory(c, root)
			if err != nil {
				return err
			}
			if last > 0 && len(terms) > last {
				terms = terms[len(terms)-last:]
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), terms)
			}
			b := &strings.Builder{}
			status.WriteMasterHistory(b, terms)
			fmt.Fprint(cmd.OutOrStdout(), b.String())
			return nil
		},
	}
	history.Flags().BoolVar(&asJSON, "json", false, "print the terms as a JSON array")
	history.Flags().IntVar(&last, "last", 0, "only the newest N terms (0: all recorded)")
	cmd.AddCommand(history)
	return cmd
}
