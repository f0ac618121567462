package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/verify"
)

func newVerifyCmd(_ *globals) *cobra.Command {
	var (
		dir      string
		asJSON   bool
		skipData bool
		skipRecs bool
		grace    = verify.Config{}.ResumeGrace
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a settled chaos run: terms, task ownership, data, commits, records, failover timings",
		Long: `verify reads a chaos run folder (stocksys chaos --dir): the nodes' audit trails, the fault
events, ZooKeeper (terms/, epoch, assignments, status) and Cassandra, and checks:

 1. terms: every epoch won once, epochs grow with time, terms/ agrees with the trails, and no
    fenced write was accepted from a deposed master (acting intervals never overlap);
 2. ownership: no task had two running owners at once (runs end at task_stop, at the SIGKILL of
    their process, and do not run while it is SIGSTOPped), and every task has one live owner now;
 3. data: the rows in Cassandra equal the replayed source per symbol and day, read with the quote
    package's reader: minute quotes (same TS and OHLCV) or, for a tick replay (Lean tick zips),
    every tick stored exactly once under its (ts, seq) with the same price, size and flag; nothing
    stored that the source lacks (counted, with the first rows, even before the run settled; rows
    still missing count only once it settled); and the 1m/5m/1h/1d bars equal store.ComputeBars of
    the source (flagged ticks left out);
 4. commits: no Cassandra commit (ingest offset, fetch checkpoint) with a stale task token was
    accepted: from the trails' commit records, an accepted commit sent after a higher token's
    commit was answered is a violation, and each task's committed row carries at least the
    highest token the trails show accepted; commits refused as stale are counted;
 5. records: reading the quotes topic and its checkpoint topic read_committed, the token header
    of a task's records never goes down along its partition: no record of a fenced producer is
    visible after its successor's records;
 6. failover timings: detection -> elected -> first fenced write -> all tasks running.

It prints a report and exits non-zero on any violation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := verify.Run(cmd.Context(), verify.Config{Dir: dir, ResumeGrace: grace, SkipData: skipData, SkipRecords: skipRecs})
			if err != nil {
				return err
			}
			if asJSON {
				if err := rep.WriteJSON(cmd.OutOrStdout()); err != nil {
					return err
				}
			} else {
				rep.WriteText(cmd.OutOrStdout())
			}
			if !rep.OK() {
				return fmt.Errorf("verify: %d violations", len(rep.Violations))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", ".run/chaos", "chaos run folder")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&skipData, "skip-data", false, "skip the Cassandra data comparison (and the committed tokens)")
	f.BoolVar(&skipRecs, "skip-records", false, "skip reading the Kafka topics (the records check)")
	f.DurationVar(&grace, "resume-grace", 0, "how long a task may run on after its paused process resumes (default 2s)")
	return cmd
}
