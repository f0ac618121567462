package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/control"
	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/tasks"
)

// taskStates are the states stocksys task ls --state accepts.
var taskStates = node.TaskStates

func newTaskCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "List tasks; pause, resume or restart them (intents the master applies)",
	}
	var state string
	var asJSON bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List every task: owner, state, progress, last error, backoff, paused or restarting",
		Long: `ls reads the cluster (as stocksys status does) and prints one line per task: its owner, the
state its owner reports (or assigned / unassigned), its epoch, progress, rate, and for a failed
task its last error and when it is retried; an unassigned task says why (paused, maintenance ...).
--state keeps the tasks in one state; --json prints the status tasks as a JSON array.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" && !slices.Contains(taskStates, state) {
				return fmt.Errorf("--state %q: want one of %s", state, strings.Join(taskStates, ", "))
			}
			r, err := readReport(g)
			if err != nil {
				return err
			}
			if h := status.EmptyHint(r); h != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), h) // stdout stays the (empty) list
			}
			var out []status.Task
			for _, t := range r.Tasks {
				if state == "" || t.State == state {
					out = append(out, t)
				}
			}
			if out == nil {
				out = []status.Task{}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TASK\tOWNER\tSTATE\tEPOCH\tPROGRESS\tRATE/S\tNOTE")
			now := time.Now()
			for _, t := range out {
				owner := "-"
				if t.Owner != nil {
					owner = *t.Owner
				}
				note := t.UnassignedReason
				if t.Paused && t.Owner != nil {
					note = "paused: being revoked"
				}
				if t.Restarting && t.Owner != nil {
					note = "restarting: being revoked"
				}
				if t.LastError != "" {
					note = strings.TrimSpace(note + " last error: " + t.LastError)
				}
				if !t.RetryAt.IsZero() {
					note += fmt.Sprintf(" (failure %d, retried in %s)", max(t.Failures, 1), max(t.RetryAt.Sub(now), 0).Round(time.Millisecond))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.1f\t%s\n", t.ID, owner, t.State, t.Epoch, t.Progress, t.Rate, note)
			}
			return tw.Flush()
		},
	}
	ls.Flags().StringVar(&state, "state", "", "only tasks in this state ("+strings.Join(taskStates, ", ")+")")
	ls.Flags().BoolVar(&asJSON, "json", false, "print the tasks as a JSON array (status's task objects)")

	action := func(a control.Action, use, short, long string, failedFlag bool) *cobra.Command {
		var reason string
		var wait time.Duration
		var failed bool
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Long:  long,
			RunE: func(cmd *cobra.Command, args []string) error {
				if failedFlag && failed {
					if len(args) > 0 {
						return fmt.Errorf("--failed takes no task ids (got %s)", strings.Join(args, " "))
					}
					r, err := readReport(g)
					if err != nil {
						return err
					}
					for _, t := range r.Tasks {
						if t.State == tasks.StateFailed {
							args = append(args, t.ID)
						}
					}
					if len(args) == 0 {
						fmt.Fprintln(cmd.OutOrStdout(), "no failed task: nothing to restart")
						return nil
					}
				}
				if len(args) == 0 {
					return fmt.Errorf("%s: give one or more task ids (e.g. fetch/SPY ingest/0)", a)
				}
				for _, id := range args {
					if _, err := tasks.ParseID(id); err != nil {
						return fmt.Errorf("task id %q: %w", id, err)
					}
				}
				if cmd.Flags().Changed("reason") && strings.TrimSpace(reason) == "" {
					return fmt.Errorf("--reason %q: %w (omit --reason, or say why)", reason, control.ErrEmptyReason)
				}
				seen := map[string]bool{}
				var ins []control.Intent
				for _, id := range args {
					if seen[id] {
						return fmt.Errorf("task id %q given twice", id)
					}
					seen[id] = true
					ins = append(ins, control.Intent{Action: a, Task: id, Reason: strings.TrimSpace(reason)})
				}
				return submitIntents(cmd, g, ins, wait) // all checked before any is written
			},
		}
		c.Flags().StringVar(&reason, "reason", "", "why (shown in stocksys status and the audit list)")
		c.Flags().DurationVar(&wait, "wait", defaultIntentWait, "wait this long for the master to apply each intent (0: write it and return)")
		if failedFlag {
			c.Flags().BoolVar(&failed, "failed", false, "restart every task whose owner reports it failed (and no other)")
		}
		return c
	}
	pause := action(control.ActionPause, "pause ID...", "Stop tasks and assign them to no one until resumed",
		`pause writes one intent per task; the master applies it: the task is revoked from its owner
(its runner stops; a fetch task's source stops, its checkpoint stays) and given to no node until
resume. Every task given is checked before any intent is written. Errors (nothing written): an
unknown task, one already paused or given twice, maintenance mode, an empty --reason.`, false)
	resume := action(control.ActionResume, "resume ID...", "Plan paused tasks again",
		`resume writes one intent per task; the master applies it: the task is planned again at once and
its new owner continues from its checkpoint (fetch) or committed offset (ingest), so no quote is
lost or doubled. Errors (nothing written): a task that is not paused.`, false)
	restart := action(control.ActionRestart, "restart ID... | --failed", "Run tasks again on their owners",
		`restart writes one intent per task; the master applies it: the task is revoked from its owner
and, once its runner has returned, given back to the same node (if still a member and not
cordoned), which starts it afresh. --failed restarts exactly the tasks reported failed (a failed
task is also retried by its worker after its backoff: stocksys task ls shows when). Errors
(nothing written): an unknown task, a paused one (resume it), a restart already pending.`, true)
	cmd.AddCommand(ls, pause, resume, restart)
	return cmd
}

// readReport reads the cluster's status report (status.Read) on a new
// connection.
func readReport(g *globals) (*status.Report, error) {
	c, root, err := g.openCluster()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return status.Read(c, g.cluster, root)
}
