package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/tasks"
)

type queryOpts struct {
	keyspace    string
	consistency string
	from, to    string
	limit       int
	interval    string
	day         string
	asJSON      bool
}

// parseTime reads --from/--to: RFC 3339, or a date or date-and-minute in
// exchange time (loc: the symbol's zone, US/Eastern for alerts): 2020-11-27,
// 2020-11-27T09:30.
func parseTime(flag, s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q: want RFC 3339 (2020-11-27T14:30:00Z) or exchange time (2020-11-27, 2020-11-27T09:30)", flag, s)
}

// window reads --from and --to, exchange times in loc.
func (o *queryOpts) window(loc *time.Location) (from, to time.Time, err error) {
	from, to = time.Unix(0, 0).UTC(), time.Now().UTC().Add(24*time.Hour)
	if o.from != "" {
		if from, err = parseTime("from", o.from, loc); err != nil {
			return
		}
	}
	if o.to != "" {
		if to, err = parseTime("to", o.to, loc); err != nil {
			return
		}
	}
	if !from.Before(to) {
		err = fmt.Errorf("--from %s is not before --to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return
}

func newQueryCmd(g *globals) *cobra.Command {
	o := &queryOpts{}
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Read quotes, ticks, bars, latest prices and alerts from Cassandra",
		Args:  cobra.NoArgs,
		RunE:  needSubcommand,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.keyspace, "keyspace", store.DefaultConfig().Keyspace, "Cassandra keyspace")
	pf.StringVar(&o.consistency, "consistency", store.DefaultConfig().Consistency, "read consistency: ONE, LOCAL_QUORUM, ...")
	pf.BoolVar(&o.asJSON, "json", false, "print JSON")

	withStore := func(f func(context.Context, *store.Store, io.Writer) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			if o.limit < 0 {
				return fmt.Errorf("--limit %d: must not be negative", o.limit)
			}
			cfg, err := g.storeConfig()
			if err != nil {
				return err
			}
			cfg.Keyspace, cfg.Consistency = o.keyspace, o.consistency
			cfg.ReadOnly = true
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			s, err := store.Open(ctx, cfg)
			if err != nil {
				return g.cassandraError(cfg, err)
			}
			defer s.Close()
			return f(ctx, s, cmd.OutOrStdout())
		}
	}
	symbolArg := func(args []string) (string, error) {
		s, err := tasks.ParseSymbol(args[0])
		return string(s), err
	}

	quotesCmd := &cobra.Command{
		Use:   "quotes SYMBOL",
		Short: "1-minute quotes of a symbol in [--from, --to), oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sym, err := symbolArg(args)
			if err != nil {
				return err
			}
			if _, _, err := o.window(quote.Eastern); err != nil {
				return err
			}
			return withStore(func(ctx context.Context, s *store.Store, out io.Writer) error {
				loc, err := s.Zone(ctx, sym)
				if err != nil {
					return err
				}
				from, to, err := o.window(loc)
				if err != nil {
					return err
				}
				rows, err := s.Rows(ctx, sym, from, to, o.limit)
				if err != nil {
					return err
				}
				if o.asJSON {
					return writeJSON(out, rows)
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintf(tw, "symbol\ttime (%s)\topen\thigh\tlow\tclose\tvolume\tflag\t\n", zoneLabel(loc))
				for _, r := range rows {
					flag := ""
					if r.Flagged {
						flag = "MOVE"
					}
					fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%d\t%s\t\n", r.Symbol, r.TS.In(loc).Format("2006-01-02 15:04"),
						r.Open, r.High, r.Low, r.Close, r.Volume, flag)
				}
				return tw.Flush()
			})(cmd, args)
		},
	}
	barsCmd := &cobra.Command{
		Use:   "bars SYMBOL --interval 1m|5m|1h|1d",
		Short: "OHLCV bars with VWAP of a symbol in [--from, --to)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sym, err := symbolArg(args)
			if err != nil {
				return err
			}
			if !store.ValidInterval(o.interval) {
				return fmt.Errorf("--interval %q: want %s", o.interval, intervalList())
			}
			if _, _, err := o.window(quote.Eastern); err != nil {
				return err
			}
			return withStore(func(ctx context.Context, s *store.Store, out io.Writer) error {
				loc, err := s.Zone(ctx, sym)
				if err != nil {
					return err
				}
				from, to, err := o.window(loc)
				if err != nil {
					return err
				}
				bars, err := s.Bars(ctx, sym, o.interval, from, to, o.limit)
				if err != nil {
					return err
				}
				if o.asJSON {
					return writeJSON(out, bars)
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintf(tw, "symbol\tinterval\tstart (%s)\topen\thigh\tlow\tclose\tvolume\tvwap\tquotes\t\n", zoneLabel(loc))
				for _, b := range bars {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%d\t%.4f\t%d\t\n", b.Symbol, b.Interval,
						b.TS.In(loc).Format("2006-01-02 15:04"), b.Open, b.High, b.Low, b.Close, b.Volume, b.VWAP, b.Count)
				}
				return tw.Flush()
			})(cmd, args)
		},
	}
	ticksCmd := &cobra.Command{
		Use:   "ticks SYMBOL --day YYYY-MM-DD",
		Short: "Trade ticks of a symbol on one trading day (in its exchange zone), in (time, seq) order",
		Long: `ticks prints the stored trade ticks of SYMBOL on the trading day --day (midnight to midnight
in the symbol's exchange zone, US/Eastern unless its quotes named another), oldest first and,
within a millisecond, in seq order; at most --limit (0: all).
Flagged ticks (flag suspicious or off_median) are stored and listed, but left out of bars.
With --json, one object per line:
  {"symbol", "ts" (RFC 3339 UTC, milliseconds), "seq", "price", "size", "exchange", "condition",
   "bid", "ask" (null when the source had none), "flag" ("" for a good tick), "source", "epoch"}`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sym, err := symbolArg(args)
			if err != nil {
				return err
			}
			if _, _, err := tradingDay("day", o.day, quote.Eastern); err != nil {
				return err
			}
			return withStore(func(ctx context.Context, s *store.Store, out io.Writer) error {
				loc, err := s.Zone(ctx, sym)
				if err != nil {
					return err
				}
				from, to, err := tradingDay("day", o.day, loc)
				if err != nil {
					return err
				}
				rows, err := s.Ticks(ctx, sym, from, to, o.limit)
				if err != nil {
					return err
				}
				return writeTicks(out, rows, o.asJSON, loc)
			})(cmd, args)
		},
	}
	latestCmd := &cobra.Command{
		Use:   "latest [SYMBOL...]",
		Short: "Last price, day change and moving averages (all symbols when none given)",
		RunE: func(cmd *cobra.Command, args []string) error {
			syms := make([]string, 0, len(args))
			for _, a := range args {
				s, err := tasks.ParseSymbol(a)
				if err != nil {
					return err
				}
				syms = append(syms, string(s))
			}
			return withStore(func(ctx context.Context, s *store.Store, out io.Writer) error {
				ls, err := s.Latest(ctx, syms...)
				if err != nil {
					return err
				}
				if o.asJSON {
					return writeJSON(out, ls)
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "symbol\tas of (US/Eastern)\tprice\tchange\tchange %\tSMA\tEMA\t")
				for _, l := range ls {
					fmt.Fprintf(tw, "%s\t%s\t%.4f\t%s\t%s\t%s\t%s\t\n", l.Symbol, l.TS.In(quote.Eastern).Format("2006-01-02 15:04"), l.Price,
						optf(l.DayChange, "%+.4f"), optf(l.DayChangePct, "%+.2f%%"), windows(l.SMA), windows(l.EMA))
				}
				return tw.Flush()
			})(cmd, args)
		},
	}
	alertsCmd := &cobra.Command{
		Use:   "alerts",
		Short: "Implausible moves stored with a flag, in [--from, --to) (exchange times in US/Eastern)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			from, to, err := o.window(quote.Eastern)
			if err != nil {
				return err
			}
			return withStore(func(ctx context.Context, s *store.Store, out io.Writer) error {
				as, err := s.Alerts(ctx, from, to, o.limit)
				if err != nil {
					return err
				}
				if o.asJSON {
					if as == nil {
						as = []store.Alert{}
					}
					return writeJSON(out, as)
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME (US/Eastern)\tSYMBOL\tPREV CLOSE\tCLOSE\tMOVE %\tREASON")
				for _, a := range as {
					fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.4f\t%+.2f\t%s\n", a.TS.In(quote.Eastern).Format("2006-01-02 15:04"), a.Symbol,
						a.PrevClose, a.Close, a.MovePct, a.Reason)
				}
				return tw.Flush()
			})(cmd, args)
		},
	}
	for _, c := range []*cobra.Command{quotesCmd, barsCmd, alertsCmd} {
		c.Flags().StringVar(&o.from, "from", "", "start (inclusive): RFC 3339 or exchange time 2020-11-27[T09:30] in the symbol's zone (default: 1970)")
		c.Flags().StringVar(&o.to, "to", "", "end (exclusive), same forms (default: tomorrow)")
		c.Flags().IntVar(&o.limit, "limit", 100, "at most this many rows (0: all)")
	}
	barsCmd.Flags().StringVar(&o.interval, "interval", "5m", "bar interval: "+intervalList())
	ticksCmd.Flags().StringVar(&o.day, "day", "", "trading day YYYY-MM-DD (in the symbol's exchange zone, US/Eastern by default; required)")
	ticksCmd.Flags().IntVar(&o.limit, "limit", 100, "at most this many ticks (0: all)")
	cmd.AddCommand(quotesCmd, barsCmd, ticksCmd, latestCmd, alertsCmd)
	return cmd
}

// intervalList names store.Intervals for messages: "1m, 5m, 1h or 1d".
func intervalList() string {
	iv := store.Intervals
	if len(iv) == 1 {
		return iv[0]
	}
	return strings.Join(iv[:len(iv)-1], ", ") + " or " + iv[len(iv)-1]
}

// tradingDay reads a trading day flag (YYYY-MM-DD) and returns its
// instants [from, to): midnight to midnight in the exchange zone loc (23 or
// 25 hours on the days daylight saving time changes).
func tradingDay(flag, s string, loc *time.Location) (from, to time.Time, err error) {
	if s == "" {
		return time.Time{}, time.Time{}, fmt.Errorf("--%s is required: the trading day YYYY-MM-DD (in the symbol's exchange zone, US/Eastern by default), e.g. --%s 2013-10-07", flag, flag)
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--%s %q: want a trading day YYYY-MM-DD (in the symbol's exchange zone), e.g. 2013-10-07", flag, s)
	}
	next := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
	return d.UTC(), next.UTC(), nil
}

// zoneLabel names an exchange zone in a table header: "US/Eastern" for the
// default zone, else its IANA name ("Asia/Jakarta").
func zoneLabel(loc *time.Location) string {
	if loc == quote.Eastern {
		return "US/Eastern"
	}
	return loc.String()
}

// tickJSON is one line of `query ticks --json`.
type tickJSON struct {
	Symbol    string   `json:"symbol"`
	TS        string   `json:"ts"` // RFC 3339, UTC, milliseconds
	Seq       int32    `json:"seq"`
	Price     float64  `json:"price"`
	Size      int64    `json:"size"`
	Exchange  string   `json:"exchange"`
	Condition string   `json:"condition"`
	Bid       *float64 `json:"bid"`
	Ask       *float64 `json:"ask"`
	Flag      string   `json:"flag"`
	Source    string   `json:"source"`
	Epoch     int64    `json:"epoch"`
}

// tsMillis is the form of tick times in `query ticks --json`.
const tsMillis = "2006-01-02T15:04:05.000Z07:00"

func tickLine(r store.Row) tickJSON {
	return tickJSON{Symbol: r.Symbol, TS: r.TS.UTC().Format(tsMillis), Seq: r.Seq, Price: r.Close, Size: r.Volume,
		Exchange: r.Exchange, Condition: r.Condition, Bid: r.Bid, Ask: r.Ask, Flag: r.Flag, Source: r.Source, Epoch: r.Epoch}
}

// writeTicks prints ticks (store.Store.Ticks rows) as JSON lines or a table.
// writeTicks prints ticks, times in the exchange zone loc (the table's;
// JSON times are UTC).
func writeTicks(w io.Writer, rows []store.Row, asJSON bool, loc *time.Location) error {
	if asJSON {
		enc := json.NewEncoder(w) // one compact object per line
		for _, r := range rows {
			if err := enc.Encode(tickLine(r)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "symbol\ttime (%s)\tseq\tprice\tsize\texchange\tcondition\tbid\task\tflag\t\n", zoneLabel(loc))
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.4f\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Symbol, r.TS.In(loc).Format("2006-01-02 15:04:05.000"),
			r.Seq, r.Close, r.Volume, r.Exchange, r.Condition, optf(r.Bid, "%.4f"), optf(r.Ask, "%.4f"), r.Flag)
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func optf(p *float64, format string) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf(format, *p)
}

func windows(m map[int]float64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d:%.4f", k, m[k])
	}
	return strings.Join(parts, " ")
}
