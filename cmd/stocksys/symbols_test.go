package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stock-system/stocksys/internal/testenv"
)

// TestIntegration_SymbolsAddChecksTheReplay (issue 18): `symbols add` with
// a replay source opens and parses the symbol's first file before it
// registers anything: a file of no valid row, a directory without the
// symbol's file, and a file that cannot be read are refused with an error
// naming the path and why, and no symbol znode is written; a real file
// (the Alpha Vantage MSFT minutes) is added.
func TestIntegration_SymbolsAddChecksTheReplay(t *testing.T) {
	cluster := testenv.Name(t, "-")
	root := "/stocksys/" + cluster
	zc := testenv.ZKConn(t, 10*time.Second)
	t.Cleanup(func() { _ = testenv.DeleteRecursive(zc, root) })
	dir := t.TempDir()
	bad := filepath.Join(dir, "zzz_1min.csv")
	if err := os.WriteFile(bad, []byte("time,open,high,low,close,volume\nnot,a,bar,at,all,x\n2020-11-24 10:00:00,-1,2,1,1,5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked", "yyy_1min.csv")
	if err := os.MkdirAll(filepath.Dir(locked), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(locked, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	g := []string{"--zk", strings.Join(testenv.ZKServers(t), ","), "--cluster", cluster}
	for _, c := range []struct {
		sym, source string
		want        []string
	}{
		{"ZZZ", "replay:" + bad, []string{bad, "no valid row for ZZZ", "2 rejected", "line 2", "bad_time", "nothing registered"}},
		{"MSFT", "replay:" + dir, []string{dir, `no file for symbol MSFT`, "nothing registered"}},
	} {
		_, err := runCLI(t, append(g, "symbols", "add", c.sym, "--source", c.source)...)
		if err == nil {
			t.Fatalf("symbols add %s --source %s: accepted", c.sym, c.source)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("symbols add %s --source %s: %v; want it to say %q", c.sym, c.source, err, w)
			}
		}
	}
	if os.Getuid() != 0 { // root reads a 000 file
		if _, err := runCLI(t, append(g, "symbols", "add", "YYY", "--source", "replay:"+locked)...); err == nil || !strings.Contains(err.Error(), locked) {
			t.Errorf("an unreadable file: %v; want an error naming %s", err, locked)
		}
	}
	if names, _, err := zc.Children(root + "/symbols"); err != nil && err != zk.ErrNoNode || len(names) != 0 {
		t.Fatalf("refused adds registered %v (%v)", names, err)
	}
	msft := testenv.SharedData(t, "alphavantage-msft-1min")
	out, err := runCLI(t, append(g, "symbols", "add", "MSFT", "--source", "replay:"+msft+"?speed=60")...)
	if err != nil || !strings.Contains(out, "added MSFT") {
		t.Fatalf("symbols add MSFT from the real file: %q, %v", out, err)
	}
	if names, _, err := zc.Children(root + "/symbols"); err != nil || len(names) != 1 || names[0] != "MSFT" {
		t.Fatalf("symbols after the good add: %v (%v); want MSFT", names, err)
	}
}
