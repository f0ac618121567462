package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

func newSymbolsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "symbols",
		Short: "Add, remove and list the symbols the cluster fetches (one fetch task each)",
		Args:  cobra.NoArgs,
		RunE:  needSubcommand,
	}
	var (
		source  string
		options []string
		replace bool
	)
	add := &cobra.Command{
		Use:   "add SYMBOL...",
		Short: "Register symbols (1-20 characters of A-Z 0-9 . - ^ =; lower case is upper-cased)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			syms, err := parseSymbols(args)
			if err != nil {
				return err
			}
			opts := map[string]string{}
			for _, o := range options {
				k, v, ok := strings.Cut(o, "=")
				if !ok || k == "" {
					return fmt.Errorf("--option %q: want KEY=VALUE", o)
				}
				if prev, dup := opts[k]; dup && prev != v {
					return fmt.Errorf("--option %s given twice (%q and %q)", k, prev, v)
				}
				opts[k] = v
			}
			if len(opts) > 0 && !cmd.Flags().Changed("source") {
				// The options are parameters of a source; the nodes' default
				// is not known here, so it cannot be checked.
				return fmt.Errorf("--option needs --source (options are parameters of the source, checked against it before anything is registered)")
			}
			if cmd.Flags().Changed("source") {
				spec, err := quote.ParseSpecOptions(source, opts)
				if err != nil {
					return fmt.Errorf("--source %s --option: %w (nothing registered)", source, err)
				}
				// A replay is opened and its first file parsed (with the
				// spec's label) for every symbol before anything is
				// registered: a source that cannot feed a symbol is refused
				// here, not retried by its task for ever.
				if spec.Kind == quote.KindReplay {
					src, err := quote.NewFromSpec(spec, quote.Options{})
					if err != nil {
						return fmt.Errorf("--source %s: %w", source, err)
					}
					if r, ok := quote.Unwrap(src).(*quote.Replay); ok {
						for _, s := range syms {
							if _, _, err := r.Check(string(s)); err != nil {
								return fmt.Errorf("--source %s for %s: %w (nothing registered)", source, s, err)
							}
						}
					}
				}
			}
			if len(opts) == 0 {
				opts = nil
			}
			return withTasksZK(g, true, func(c zkapi.Client, p tasks.Paths) error {
				for _, s := range syms {
					data, _ := json.Marshal(tasks.SymbolSpec{Symbol: s, Source: source, Options: opts, Added: time.Now().UTC()})
					_, err := c.Create(p.Symbol(s), data, 0, zkapi.OpenACL())
					switch {
					case errors.Is(err, zkapi.ErrNodeExists) && replace:
						if _, err = c.Set(p.Symbol(s), data, -1); err == nil {
							fmt.Fprintf(cmd.OutOrStdout(), "replaced %s\n", s)
							continue
						}
					case errors.Is(err, zkapi.ErrNodeExists):
						fmt.Fprintf(cmd.OutOrStdout(), "%s already registered (use --replace to change its source)\n", s)
						continue
					}
					if err != nil {
						return fmt.Errorf("add %s: %w", s, err)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "added %s\n", s)
				}
				return nil
			})
		},
	}
	add.Flags().StringVar(&source, "source", "", "quote source spec, e.g. replay:../shared/data/lean-spy-minute?speed=60 (default: the cluster's)")
	add.Flags().StringArrayVar(&options, "option", nil, "source parameter KEY=VALUE, checked against --source (repeatable): replay speed, rate, label=start|end; yahoo endpoint=chart|quote; synthetic seed, rate; any source tz=<IANA zone> (exchange time zone of the trading day and bars, default America/New_York; Yahoo's chart names its own), hours=24x7|HH:MM-HH:MM")
	add.Flags().BoolVar(&replace, "replace", false, "overwrite the spec of symbols already registered")

	rm := &cobra.Command{
		Use:     "rm SYMBOL...",
		Aliases: []string{"remove"},
		Short:   "Unregister symbols (their fetch tasks stop)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			syms, err := parseSymbols(args)
			if err != nil {
				return err
			}
			return withTasksZK(g, false, func(c zkapi.Client, p tasks.Paths) error {
				var missing []string
				for _, s := range syms {
					err := c.Delete(p.Symbol(s), -1)
					if errors.Is(err, zkapi.ErrNoNode) {
						missing = append(missing, string(s))
						continue
					}
					if err != nil {
						return fmt.Errorf("rm %s: %w", s, err)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", s)
				}
				if len(missing) > 0 {
					return fmt.Errorf("not registered: %s", strings.Join(missing, " "))
				}
				return nil
			})
		},
	}

	var asJSON bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List registered symbols",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTasksZK(g, false, func(c zkapi.Client, p tasks.Paths) error {
				if ok, _, err := c.Exists(p.Symbols); err != nil {
					return err
				} else if !ok {
					fmt.Fprintf(cmd.ErrOrStderr(), "(no symbols: nothing has run in cluster %q yet, no %s; check --cluster)\n", g.cluster, p.Symbols)
				}
				syms, bad, err := p.ListSymbols(c)
				if err != nil && !errors.Is(err, zkapi.ErrNoNode) {
					return err
				}
				specs := make([]tasks.SymbolSpec, 0, len(syms))
				for _, s := range syms {
					var spec tasks.SymbolSpec
					if _, err := tasks.ReadJSON(c, p.Symbol(s), &spec); err != nil && !errors.Is(err, zkapi.ErrNoNode) {
						return err
					}
					spec.Symbol = s
					specs = append(specs, spec)
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(specs)
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "SYMBOL\tSOURCE\tADDED")
				for _, s := range specs {
					src := s.Source
					if src == "" {
						src = "(cluster default)"
					}
					added := "-"
					if !s.Added.IsZero() {
						added = s.Added.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Symbol, src, added)
				}
				tw.Flush()
				for _, b := range bad {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: znode %q under symbols/ is not a valid symbol; ignored\n", b)
				}
				return nil
			})
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.AddCommand(add, rm, ls)
	return cmd
}

// parseSymbols validates every argument before anything is written.
func parseSymbols(args []string) ([]tasks.Symbol, error) {
	out := make([]tasks.Symbol, 0, len(args))
	for _, a := range args {
		s, err := tasks.ParseSymbol(a)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// withTasksZK runs f with a ZooKeeper connection and the cluster's task
// paths. With ensure it first creates the cluster's layout if missing (a
// command that registers something); without, a read or a removal never
// creates a cluster, and a missing one is f's to report.
func withTasksZK(g *globals, ensure bool, f func(zkapi.Client, tasks.Paths) error) error {
	root, err := g.root()
	if err != nil {
		return err
	}
	c, err := g.connectZK(5 * time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	p := tasks.NewPaths(root)
	if ensure {
		if err := p.EnsureLayout(c); err != nil {
			return err
		}
	}
	return f(c, p)
}
