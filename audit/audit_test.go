package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriterRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "n.audit.jsonl")
	w, err := Open(Config{Path: p, Node: "node-1", Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	w.TermStart(7, "0x1", t0)
	w.FencedWrite(7, 3, t0, t0.Add(time.Millisecond), ResultOK, nil)
	w.TaskStart("fetch/SPY", 7, "0x1")
	w.TaskStop("fetch/SPY", errors.New("boom"))
	w.TermEnd(7, errors.New("resigned"))
	w.Commit("ingest/2", 4294967302, "1234", t0, t0.Add(2*time.Millisecond), ResultFenced, errors.New("fenced"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.TaskStart("late", 1, "") // dropped after Close
	var nilW *Writer
	nilW.TermStart(1, "", t0) // no-op

	rs, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{KindProcStart, KindTermStart, KindFencedWrite, KindTaskStart, KindTaskStop, KindTermEnd, KindCommit}
	if len(rs) != len(kinds) {
		t.Fatalf("got %d records; want %d: %+v", len(rs), len(kinds), rs)
	}
	for i, k := range kinds {
		if rs[i].Kind != k || rs[i].Node != "node-1" || rs[i].PID != os.Getpid() {
			t.Errorf("record %d: %+v; want kind %s node-1", i, rs[i], k)
		}
	}
	if !rs[1].T.Equal(t0) || rs[1].Epoch != 7 || rs[1].Session != "0x1" {
		t.Errorf("term_start: %+v", rs[1])
	}
	if rs[2].NOps != 3 || rs[2].Result != ResultOK || !rs[2].TSent.Equal(t0) {
		t.Errorf("fenced_write: %+v", rs[2])
	}
	if c := rs[6]; c.Task != "ingest/2" || c.Token != 4294967302 || c.Value != "1234" || c.Result != ResultFenced ||
		!c.TSent.Equal(t0) || !c.TDone.Equal(t0.Add(2*time.Millisecond)) || !c.T.Equal(c.TDone) || c.Err != "fenced" {
		t.Errorf("commit: %+v", c)
	}
	if rs[4].Err != "boom" || rs[5].Cause != "resigned" {
		t.Errorf("errors: %+v %+v", rs[4], rs[5])
	}
}

func TestReadFileTornLastLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.jsonl")
	if err := os.WriteFile(p, []byte(`{"kind":"proc_start","node":"n"}`+"\n"+`{"kind":"task_st`), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadFile(p)
	if err != nil || len(rs) != 1 {
		t.Fatalf("got %v, %v; want 1 record", rs, err)
	}
	if err := os.WriteFile(p, []byte("garbage\n"+`{"kind":"proc_start"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p); err == nil {
		t.Fatal("malformed middle line: want an error")
	}
}

func TestConcurrentWritesAreWholeLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.jsonl")
	w, err := Open(Config{Path: p, Node: "n"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				w.TaskStart("fetch/X", int64(i), "0x2")
			}
		}()
	}
	wg.Wait()
	w.Close()
	rs, err := ReadFile(p)
	if err != nil || len(rs) != 801 {
		t.Fatalf("got %d records, %v; want 801", len(rs), err)
	}
}

// A config without a path or a node is refused, naming both values, before
// any file is opened; the defaults with both are valid.
func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{}, {Path: "x"}, {Node: "n"}} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "required") {
			t.Errorf("Validate(%+v) = %v; want path and node required", c, err)
		}
		if _, err := Open(c); err == nil {
			t.Errorf("Open(%+v) succeeded", c)
		}
	}
	if err := DefaultConfig(filepath.Join(t.TempDir(), "a.jsonl"), "node-1").Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}
