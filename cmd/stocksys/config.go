package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// envName is the environment variable of a flag: STOCKSYS_ and the flag's
// name upper-cased with '-' as '_' (--session-timeout: STOCKSYS_SESSION_TIMEOUT).
func envName(flag string) string {
	return "STOCKSYS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applySettings gives every flag of cmd that was not set on the command line
// the value of its environment variable, else of its key in the config file
// (--config / STOCKSYS_CONFIG, YAML with flag names as keys), else its
// default: flags > environment > config file > defaults. Errors name the
// variable, the file and key, or the flag, and the value.
func applySettings(cmd *cobra.Command) error {
	flags := cmd.Flags()
	path, _ := flags.GetString("config")
	if !flags.Changed("config") {
		path = os.Getenv("STOCKSYS_CONFIG")
	}
	file := map[string]any{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--config %s: %w", path, err)
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			return fmt.Errorf("--config %s: not valid YAML: %w", path, err)
		}
		// One file can serve every command (STOCKSYS_CONFIG exported once):
		// a key is an error only if no command has such a flag; keys of other
		// commands' flags are left to them.
		all := allFlagNames(cmd.Root())
		var unknown []string
		for k := range file {
			if !all[k] || k == "config" || k == "help" {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fmt.Errorf("--config %s: unknown key(s) %s (keys are flag names; %q has: %s)",
				path, strings.Join(unknown, ", "), cmd.CommandPath(), strings.Join(flagNames(flags), ", "))
		}
	}
	var errs []error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q (for --%s): %w", envName(f.Name), v, f.Name, err))
			}
			return
		}
		v, ok := file[f.Name]
		if !ok {
			return
		}
		vals := []any{v}
		list, isList := v.([]any)
		switch {
		case v == nil:
			errs = append(errs, fmt.Errorf("--config %s: key %s has no value", path, f.Name))
			return
		case isList && !strings.HasSuffix(f.Value.Type(), "Array") && !strings.HasSuffix(f.Value.Type(), "Slice"):
			errs = append(errs, fmt.Errorf("--config %s: key %s takes one %s, not a list", path, f.Name, f.Value.Type()))
			return
		case isList:
			vals = list
		}
		for _, x := range vals {
			if err := f.Value.Set(fmt.Sprint(x)); err != nil {
				errs = append(errs, fmt.Errorf("--config %s: key %s: %q: %w", path, f.Name, fmt.Sprint(x), err))
			}
		}
	})
	return errors.Join(errs...)
}

func flagNames(fs *pflag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" && f.Name != "help" {
			out = append(out, f.Name)
		}
	})
	sort.Strings(out)
	return out
}

// allFlagNames is the set of flag names of every command under root.
func allFlagNames(root *cobra.Command) map[string]bool {
	out := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { out[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { out[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}
