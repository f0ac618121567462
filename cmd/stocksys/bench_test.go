package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runBenchCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"bench"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// Bad flags are refused before any server is contacted (unreachable
// addresses prove it: a contacted server would time out instead).
func TestBenchDatapathFlags(t *testing.T) {
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "lean-ticks", "spy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "lean-ticks", "spy", "20131007_trade.zip"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "needs a subcommand"},
		{[]string{"datapath", "--data", data, "--ticks", "-1"}, "--ticks"},
		{[]string{"datapath", "--data", data, "--memory-symbols", "1000"}, "--memory-symbols"},
		{[]string{"datapath", "--data", data, "--timeout", "1s"}, "--timeout"},
		{[]string{"datapath", "--data", data, "--floor-rate", "0"}, "--floor-rate"},
		{[]string{"datapath", "--data", data, "--zk", "nohost"}, "--zk"},
		{[]string{"datapath", "--data", data, "--kafka", "127.0.0.1:0"}, "--kafka"},
		{[]string{"datapath", "--data", filepath.Join(data, "none")}, "--data"},
		{[]string{"datapath", "--data", data}, "--memory-symbols 0 skips"}, // the memory phase needs BAC and IBM
		{[]string{"datapath", "extra"}, "unknown command"},
	} {
		t.Setenv("STOCKSYS_DATA", "")
		out, err := runBenchCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error()+out, c.want) {
			t.Errorf("bench %v: err %v, output %q; want an error naming %q", c.args, err, out, c.want)
		}
	}
}

func TestBenchDataDir(t *testing.T) {
	if got := benchDataDir("/x", "/bin/stocksys"); got != "/x" {
		t.Errorf("flag: %s", got)
	}
	// ../shared/data beside a parent of the binary.
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	if err := os.MkdirAll(filepath.Join(root, "shared", "data", "lean-ticks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(repo, "bin", "stocksys")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	want, _ := filepath.EvalSymlinks(filepath.Join(root, "shared", "data"))
	got, _ := filepath.EvalSymlinks(benchDataDir("", bin))
	if got != want {
		t.Errorf("beside the binary: %s, want %s", got, want)
	}
}
