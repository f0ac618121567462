package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
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
	// Ambiguous bar labels (no bar at a session's first or last minute),
	// unknown and conflicting options, options without a source.
	amb := filepath.Join(dir, "amb", "aaa_1min.csv")
	if err := os.MkdirAll(filepath.Dir(amb), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(amb, []byte("time,open,high,low,close,volume\n2020-11-24 10:00:00,1,2,1,1.5,5\n2020-11-24 10:01:00,1.5,2,1,1,6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"AAA", "--source", "replay:" + amb}, []string{amb, "bar labels ambiguous", "label=start or label=end", "nothing registered"}},
		{[]string{"AAA", "--source", "replay:" + amb, "--option", "lable=start"}, []string{`unknown parameter "lable" for replay (allowed: hours, label, rate, speed, tz)`, "nothing registered"}},
		{[]string{"AAA", "--source", "replay:" + amb, "--option", "label=middle"}, []string{`label "middle": want start or end`}},
		{[]string{"AAA", "--source", "replay:" + amb + "?label=end", "--option", "label=start"}, []string{"option label=start", "sets label=end"}},
		{[]string{"AAA", "--source", "yahoo", "--option", "interval=5m"}, []string{`unknown parameter "interval" for yahoo (allowed: endpoint, hours, tz)`}},
		{[]string{"AAA", "--option", "label=start"}, []string{"--option needs --source"}},
		{[]string{"AAA", "--source", "yahoo", "--option", "tz=Asia/Jakartaa"}, []string{`tz "Asia/Jakartaa": not an IANA time zone name`, "nothing registered"}},
		{[]string{"AAA", "--source", "replay:" + amb + "?label=start", "--option", "tz=Local"}, []string{`tz "Local"`, "nothing registered"}},
		{[]string{"AAA", "--source", "yahoo", "--option", "hours=24x5"}, []string{`hours "24x5": want 24x7 or HH:MM-HH:MM`, "nothing registered"}},
	} {
		_, err := runCLI(t, append(append(g, "symbols", "add"), c.args...)...)
		if err == nil {
			t.Fatalf("symbols add %v: accepted", c.args)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("symbols add %v: %v; want it to say %q", c.args, err, w)
			}
		}
	}
	if os.Getuid() != 0 { // root reads a 000 file
		if _, err := runCLI(t, append(g, "symbols", "add", "YYY", "--source", "replay:"+locked)...); err == nil || !strings.Contains(err.Error(), locked) {
			t.Errorf("an unreadable file: %v; want an error naming %s", err, locked)
		}
	}
	if names, _, err := zc.Children(root + "/symbols"); err != nil && err != zkapi.ErrNoNode || len(names) != 0 {
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
	// The ambiguous file with its label given as an option is added, the
	// option stored in the symbol's document for the nodes to apply.
	out, err = runCLI(t, append(g, "symbols", "add", "AAA", "--source", "replay:"+amb+"?speed=max", "--option", "label=start")...)
	if err != nil || !strings.Contains(out, "added AAA") {
		t.Fatalf("symbols add AAA --option label=start: %q, %v", out, err)
	}
	var doc tasks.SymbolSpec
	if _, err := tasks.ReadJSON(zc, root+"/symbols/AAA", &doc); err != nil || doc.Source != "replay:"+amb+"?speed=max" || doc.Options["label"] != "start" || len(doc.Options) != 1 {
		t.Fatalf("symbols/AAA = %+v, %v; want source replay:%s, options label=start", doc, err, amb)
	}
	// What a node makes of it: the bars at their own (start) labels.
	src, err := node.SourceFrom(func(string) (tasks.SymbolSpec, error) { return doc, nil }, "synthetic", quote.Options{})(context.Background(), "AAA")
	if err != nil {
		t.Fatal(err)
	}
	qs, err := src.Fetch(context.Background(), "AAA", time.Time{})
	est := time.FixedZone("EST", -5*3600)
	if err != nil || len(qs) != 2 || !qs[0].TS.Equal(time.Date(2020, 11, 24, 10, 0, 0, 0, est)) || !qs[1].TS.Equal(time.Date(2020, 11, 24, 10, 1, 0, 0, est)) {
		t.Fatalf("the node's source for AAA gave %+v, %v; want bars starting 10:00 and 10:01 EST", qs, err)
	}
	if qs[0].TZ != "" {
		t.Errorf("AAA without tz: quote TZ %q; want \"\" (America/New_York)", qs[0].TZ)
	}
	// tz= as an option: stored, and every quote of the node's source names
	// the zone, its trading day the date there.
	out, err = runCLI(t, append(g, "symbols", "add", "JKT", "--source", "replay:"+amb+"?speed=max&label=start", "--option", "tz=Asia/Jakarta")...)
	if err != nil || !strings.Contains(out, "added JKT") {
		t.Fatalf("symbols add JKT --option tz=Asia/Jakarta: %q, %v", out, err)
	}
	doc = tasks.SymbolSpec{}
	if _, err := tasks.ReadJSON(zc, root+"/symbols/JKT", &doc); err != nil || doc.Options["tz"] != "Asia/Jakarta" {
		t.Fatalf("symbols/JKT = %+v, %v; want option tz=Asia/Jakarta", doc, err)
	}
	src, err = node.SourceFrom(func(string) (tasks.SymbolSpec, error) { return doc, nil }, "synthetic", quote.Options{})(context.Background(), "JKT")
	if err != nil {
		t.Fatal(err)
	}
	if qs, err = src.Fetch(context.Background(), "JKT", time.Time{}); err != nil || len(qs) != 2 {
		t.Fatalf("the node's source for JKT: %+v, %v", qs, err)
	}
	wib, _ := time.LoadLocation("Asia/Jakarta")
	for _, q := range qs {
		y, m, d := q.TS.In(wib).Date()
		if q.TZ != "Asia/Jakarta" || !q.Day().Equal(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("JKT quote %+v: day %v; want TZ Asia/Jakarta and its date there", q, q.Day())
		}
	}
}
