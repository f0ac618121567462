package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/tasks"
)

type rebuildOpts struct {
	keyspace, consistency string
	from, to              string
}

func newRebuildCmd(g *globals) *cobra.Command {
	o := &rebuildOpts{}
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Recompute derived tables (bars, alerts, latest) from the stored quotes and ticks",
		Long: `rebuild recomputes what the ingest tasks derive, from the rows stored in Cassandra:
  rebuild bars SYMBOL... [--from D] [--to D]   every 1m/5m/1h/1d bar and alert of each stored trading
                                               day in the range (default: every stored day), the next
                                               stored day's first alert, and the latest row
  rebuild latest SYMBOL...                     the latest row (and the bars and alerts of the latest
                                               stored day, which it is computed with)
It reads each day whole (store.UpdateAnalytics) and writes only derived rows; quotes and ticks are
never changed. Safe while nodes run: the result equals what they write.`,
		Args: cobra.NoArgs,
		RunE: needSubcommand,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.keyspace, "keyspace", store.DefaultConfig().Keyspace, "Cassandra keyspace (must exist)")
	pf.StringVar(&o.consistency, "consistency", store.DefaultConfig().Consistency, "consistency: ONE, LOCAL_QUORUM, ...")
	bars := &cobra.Command{
		Use:   "bars SYMBOL...",
		Short: "Recompute bars and alerts of the stored days in [--from, --to] and the latest row",
		Args:  cobra.MinimumNArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return runRebuild(cmd, g, o, args, false) },
	}
	bars.Flags().StringVar(&o.from, "from", "", "first trading day, YYYY-MM-DD in the symbol's exchange zone (default: the first stored day)")
	bars.Flags().StringVar(&o.to, "to", "", "last trading day, YYYY-MM-DD (default: the last stored day)")
	latest := &cobra.Command{
		Use:   "latest SYMBOL...",
		Short: "Recompute the latest row from the latest stored day",
		Args:  cobra.MinimumNArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return runRebuild(cmd, g, o, args, true) },
	}
	cmd.AddCommand(bars, latest)
	return cmd
}

func runRebuild(cmd *cobra.Command, g *globals, o *rebuildOpts, args []string, latestOnly bool) error {
	var syms []string
	for _, a := range args {
		s, err := tasks.ParseSymbol(a)
		if err != nil {
			return err
		}
		syms = append(syms, string(s))
	}
	// The dates are trading days in each symbol's zone (store.Zone): noon
	// there is that date whatever the offset.
	window := func(loc *time.Location) (from, to time.Time, err error) {
		from, to = time.Unix(0, 0).UTC(), time.Now().UTC().Add(48*time.Hour)
		for _, f := range []struct {
			flag, v string
			dst     *time.Time
		}{{"from", o.from, &from}, {"to", o.to, &to}} {
			if f.v == "" {
				continue
			}
			d, err := time.ParseInLocation(time.DateOnly, f.v, loc)
			if err != nil {
				return from, to, fmt.Errorf("--%s %q: want a trading day YYYY-MM-DD", f.flag, f.v)
			}
			*f.dst = d.Add(12 * time.Hour).UTC()
		}
		if from.After(to) {
			return from, to, fmt.Errorf("--from %s is after --to %s", o.from, o.to)
		}
		return from, to, nil
	}
	if _, _, err := window(quote.Eastern); err != nil {
		return err
	}
	cfg, err := g.storeConfig()
	if err != nil {
		return err
	}
	cfg.Keyspace, cfg.Consistency = o.keyspace, o.consistency
	cfg.ReadOnly = true // no schema changes; derived rows are still written
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg)
	if err != nil {
		return g.cassandraError(cfg, err)
	}
	defer s.Close()
	out := cmd.OutOrStdout()
	for _, sym := range syms {
		loc, err := s.Zone(ctx, sym)
		if err != nil {
			return fmt.Errorf("rebuild %s: %w", sym, err)
		}
		from, to, err := window(loc)
		if err != nil {
			return err
		}
		days, err := s.Days(ctx, sym, from, to)
		if err != nil {
			return err
		}
		if len(days) == 0 {
			return fmt.Errorf("rebuild %s: no stored day in range (keyspace %s)", sym, o.keyspace)
		}
		if latestOnly {
			days = days[len(days)-1:]
		}
		// UpdateAnalytics takes instants of each day: noon of each date in the symbol's zone.
		at := make([]time.Time, len(days))
		for i, d := range days {
			at[i] = time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, loc)
		}
		t0 := time.Now()
		if err := s.UpdateAnalytics(ctx, sym, at); err != nil {
			return fmt.Errorf("rebuild %s: %w", sym, err)
		}
		fmt.Fprintf(out, "%s: rebuilt %d day(s) %s..%s in %v\n", sym, len(days),
			days[0].Format(time.DateOnly), days[len(days)-1].Format(time.DateOnly), time.Since(t0).Round(time.Millisecond))
	}
	return nil
}
