package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/control"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/zkapi"
)

// defaultIntentWait is how long a control command waits, by default, for
// the master to apply its intent (--wait).
const defaultIntentWait = 5 * time.Second

// addNodeControlCmds adds cordon, uncordon, drain and stoppable under the
// node command.
func addNodeControlCmds(node *cobra.Command, g *globals) {
	nodeAction := func(a control.Action, use, short, long string, withReason bool) *cobra.Command {
		var reason string
		var wait time.Duration
		cmd := &cobra.Command{
			Use:   use,
			Short: short,
			Long:  long,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id := args[0]
				if err := session.ValidateNodeID(id); err != nil {
					return fmt.Errorf("node id %q: %w", id, err)
				}
				if withReason && cmd.Flags().Changed("reason") && strings.TrimSpace(reason) == "" {
					return fmt.Errorf("--reason %q: %w (omit --reason, or say why)", reason, control.ErrEmptyReason)
				}
				return submitIntent(cmd, g, control.Intent{Action: a, Node: id, Reason: strings.TrimSpace(reason)}, wait)
			},
		}
		if withReason {
			cmd.Flags().StringVar(&reason, "reason", "", "why (shown in stocksys status and the audit list)")
		}
		cmd.Flags().DurationVar(&wait, "wait", defaultIntentWait, "wait this long for the master to apply the intent (0: write it and return)")
		return cmd
	}
	cordon := nodeAction(control.ActionCordon, "cordon ID", "Give a node no new tasks (it keeps the ones it runs)",
		`cordon writes an intent; the master applies it: the node keeps the tasks it runs and is given no
new one (the other tasks are balanced over the nodes that are not cordoned). The cordon is kept
by node id, across restarts, until uncordon. Errors (nothing written): the id is not a member,
it is already cordoned or drained, an empty --reason.`, true)
	uncordon := nodeAction(control.ActionUncordon, "uncordon ID", "Undo a cordon or a drain: the node takes part in the plan again",
		`uncordon writes an intent; the master applies it: the node takes part in the plan again, and the
next plan (at once) gives it its balanced share. Errors (nothing written): the id is neither
cordoned nor a member, or is not cordoned.`, false)
	drain := nodeAction(control.ActionDrain, "drain ID", "Move every task off a node; it stays a member",
		`drain writes an intent; the master applies it: the node is cordoned and every task it runs is
revoked and, once released, given to another node (revocation before grant, as any move).
The node stays a member; stocksys node stoppable ID tells when it holds nothing. Errors
(nothing written): the id is not a member, it is already drained, an empty --reason.`, true)

	var asJSON bool
	stoppable := &cobra.Command{
		Use:   "stoppable ID",
		Short: "Would stopping this node now leave a task without an owner for longer than a handover?",
		Long: `stoppable reads the cluster and answers yes or no, and why. No if the node holds a task (its
assignment gives it one or lists one as revoked and not yet released, or its status lists
one), if it is the only member, or if it is the master and no other node campaigns.
Exit status 0 for yes, 1 for no or an error (an unknown node id).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := session.ValidateNodeID(id); err != nil {
				return fmt.Errorf("node id %q: %w", id, err)
			}
			c, root, err := g.openCluster()
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := status.Read(c, g.cluster, root)
			if err != nil {
				return err
			}
			s, err := status.Stoppable(r, id)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(s); err != nil {
					return err
				}
			} else {
				b := &strings.Builder{}
				status.WriteStoppable(b, s)
				fmt.Fprint(out, b.String())
			}
			if !s.Stoppable {
				return errNotStoppable{id}
			}
			return nil
		},
	}
	stoppable.Flags().BoolVar(&asJSON, "json", false, `print {"node", "stoppable", "reasons", "notes", "tasks", "status_tasks"}`)
	node.AddCommand(cordon, uncordon, drain, stoppable)
}

// errNotStoppable is stoppable's "no": exit status 1, the answer already
// printed.
type errNotStoppable struct{ node string }

func (e errNotStoppable) Error() string { return "node " + e.node + " is not stoppable now" }

func newMaintenanceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Enter or exit maintenance mode: the master makes no moves at all",
		Args:  cobra.NoArgs,
		RunE:  needSubcommand,
	}
	var reason string
	var wait time.Duration
	enter := &cobra.Command{
		Use:   "enter --reason TEXT",
		Short: "Freeze every assignment: a dead node's tasks stay unassigned, nothing is rebalanced",
		Long: `enter writes an intent; the master applies it: from then on it writes no assignment at all, so
a node that dies leaves its tasks unassigned (stocksys status shows them with the reason
"maintenance mode"), a node that joins gets nothing, and nothing is rebalanced, until
maintenance exit, when the next plan (at once) assigns everything. Operator intents are still
applied. Errors (nothing written): no or an empty --reason, already in maintenance mode.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(reason) == "" {
				return fmt.Errorf("--reason %q: %w: maintenance enter needs a reason", reason, control.ErrEmptyReason)
			}
			return submitIntent(cmd, g, control.Intent{Action: control.ActionMaintenanceEnter, Reason: strings.TrimSpace(reason)}, wait)
		},
	}
	enter.Flags().StringVar(&reason, "reason", "", "why (required; shown in stocksys status)")
	enter.Flags().DurationVar(&wait, "wait", defaultIntentWait, "wait this long for the master to apply the intent (0: write it and return)")
	var exitWait time.Duration
	exit := &cobra.Command{
		Use:   "exit",
		Short: "Leave maintenance mode: the master plans (and reassigns orphaned tasks) at once",
		Long:  `exit writes an intent; the master applies it and plans at once. Error (nothing written): not in maintenance mode.`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return submitIntent(cmd, g, control.Intent{Action: control.ActionMaintenanceExit}, exitWait)
		},
	}
	exit.Flags().DurationVar(&exitWait, "wait", defaultIntentWait, "wait this long for the master to apply the intent (0: write it and return)")
	cmd.AddCommand(enter, exit)
	return cmd
}

// submitIntent checks and writes in (control.Submit: nothing is written on
// an error), then waits up to wait for the master to apply it. A rejection
// by the master, or no master applying it in time, is an error (the intent
// then stays pending).
func submitIntent(cmd *cobra.Command, g *globals, in control.Intent, wait time.Duration) error {
	return submitIntents(cmd, g, []control.Intent{in}, wait)
}

// submitIntents checks every intent of ins first and writes them only if
// all pass (control.SubmitAll: nothing is written on an error), then waits
// up to wait for the master to apply each, as submitIntent.
func submitIntents(cmd *cobra.Command, g *globals, ins []control.Intent, wait time.Duration) error {
	if wait < 0 {
		return fmt.Errorf("--wait %v: must not be negative", wait)
	}
	for i := range ins {
		ins[i].By, ins[i].At = control.Who(), time.Now().UTC()
	}
	c, root, err := g.openCluster()
	if err != nil {
		return err
	}
	defer c.Close()
	ids, err := control.SubmitAll(c, root, ins)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if err := awaitIntent(cmd, c, root, ins[i], id, wait); err != nil {
			return err
		}
	}
	return nil
}

// awaitIntent waits up to wait for the master to apply the intent id (in)
// and prints the result; a rejection, or no master applying it in time, is
// an error (the intent then stays pending).
func awaitIntent(cmd *cobra.Command, c zkapi.Client, root string, in control.Intent, id string, wait time.Duration) error {
	what := string(in.Action)
	if in.Node != "" {
		what += " " + in.Node
	}
	if in.Task != "" {
		what += " " + in.Task
	}
	out := cmd.OutOrStdout()
	if wait == 0 {
		fmt.Fprintf(out, "%s: intent %s written; the master applies it (see stocksys status)\n", what, id)
		return nil
	}
	rec, err := control.NewPaths(root).Await(c, id, wait)
	if errors.Is(err, control.ErrNotApplied) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err != nil {
		return err
	}
	if rec.Result != control.ResultApplied {
		return fmt.Errorf("%s: intent %s rejected by the master (epoch %d): %s", what, id, rec.Epoch, rec.Error)
	}
	fmt.Fprintf(out, "%s: applied by the master (epoch %d) at %s (intent %s)\n", what, rec.Epoch, rec.Applied.Format(time.RFC3339Nano), id)
	switch in.Action {
	case control.ActionDrain:
		fmt.Fprintf(out, "its tasks move to other nodes; `stocksys node stoppable %s` tells when it holds none\n", in.Node)
	case control.ActionMaintenanceEnter:
		fmt.Fprintln(out, "the master makes no moves until `stocksys maintenance exit`")
	}
	return nil
}
