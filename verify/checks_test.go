package verify

import (
	"encoding/json"
	"github.com/stock-system/stocksys/tasks"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/audit"
	"github.com/stock-system/stocksys/chaos"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// writeTrail writes records (node and pid given per record) as audit files.
func writeTrail(t *testing.T, recs ...audit.Record) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]*os.File{}
	for _, r := range recs {
		f := files[r.Node]
		if f == nil {
			var err error
			if f, err = os.Create(filepath.Join(dir, r.Node+".audit.jsonl")); err != nil {
				t.Fatal(err)
			}
			files[r.Node] = f
			defer f.Close()
		}
		b, _ := jsonLine(r)
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func proc(node string, pid, ms int) audit.Record {
	return audit.Record{Kind: audit.KindProcStart, Node: node, PID: pid, T: at(ms)}
}
func termStart(node string, pid int, epoch int64, ms int) audit.Record {
	return audit.Record{Kind: audit.KindTermStart, Node: node, PID: pid, Epoch: epoch, T: at(ms)}
}
func write(node string, pid int, epoch int64, sent, done int, result string) audit.Record {
	return audit.Record{Kind: audit.KindFencedWrite, Node: node, PID: pid, Epoch: epoch, TSent: at(sent), TDone: at(done), T: at(done), Result: result, NOps: 1}
}
func taskStart(node string, pid int, task string, ms int) audit.Record {
	return audit.Record{Kind: audit.KindTaskStart, Node: node, PID: pid, Task: task, Epoch: 1, T: at(ms)}
}
func taskStop(node string, pid int, task string, ms int) audit.Record {
	return audit.Record{Kind: audit.KindTaskStop, Node: node, PID: pid, Task: task, T: at(ms)}
}

func load(t *testing.T, dir string, events ...chaos.Event) *Trail {
	t.Helper()
	tr, err := LoadTrail(dir, events)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestCheckTerms(t *testing.T) {
	tests := []struct {
		name string
		recs []audit.Record
		zk   []tasks.TermDoc
		want string // substring of a violation; "" for none
	}{
		{"clean handover", []audit.Record{
			proc("a", 1, 0), termStart("a", 1, 1, 10), write("a", 1, 1, 20, 25, audit.ResultOK),
			proc("b", 2, 0), termStart("b", 2, 2, 100), write("b", 2, 2, 110, 115, audit.ResultOK),
			write("a", 1, 1, 120, 125, audit.ResultFenced), // rejected: fine
		}, []tasks.TermDoc{{Epoch: 1, Node: "a"}, {Epoch: 2, Node: "b"}}, ""},
		{"deposed master's write accepted", []audit.Record{
			proc("a", 1, 0), termStart("a", 1, 1, 10), write("a", 1, 1, 20, 25, audit.ResultOK),
			proc("b", 2, 0), termStart("b", 2, 2, 100), write("a", 1, 1, 120, 125, audit.ResultOK),
		}, nil, "deposed master"},
		{"epoch won twice", []audit.Record{
			proc("a", 1, 0), termStart("a", 1, 1, 10), proc("b", 2, 0), termStart("b", 2, 1, 20),
		}, nil, "won 2 times"},
		{"epochs out of time order", []audit.Record{
			proc("a", 1, 0), termStart("a", 1, 2, 10), proc("b", 2, 0), termStart("b", 2, 3, 5),
		}, nil, "not before"},
		{"terms/ disagrees", []audit.Record{
			proc("a", 1, 0), termStart("a", 1, 1, 10),
		}, []tasks.TermDoc{{Epoch: 1, Node: "b"}}, "terms/ says"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := load(t, writeTrail(t, tc.recs...))
			_, vs := CheckTerms(tr, tc.zk, 10)
			assertViolation(t, vs, tc.want)
		})
	}
}

func TestCheckOwners(t *testing.T) {
	kill := chaos.Event{T: at(500), Kind: chaos.KindKill, Phase: chaos.PhaseInject, Node: "a", PID: 1, Signal: "KILL"}
	stop := chaos.Event{T: at(200), Kind: chaos.KindPause, Phase: chaos.PhaseInject, Node: "a", PID: 1, Signal: "STOP"}
	cont := chaos.Event{T: at(900), Kind: chaos.KindPause, Phase: chaos.PhaseUndo, Node: "a", PID: 1, Signal: "CONT"}
	tests := []struct {
		name   string
		recs   []audit.Record
		events []chaos.Event
		want   string
	}{
		{"handover", []audit.Record{proc("a", 1, 0), taskStart("a", 1, "fetch/X", 10), taskStop("a", 1, "fetch/X", 100),
			proc("b", 2, 0), taskStart("b", 2, "fetch/X", 150)}, nil, ""},
		{"overlap", []audit.Record{proc("a", 1, 0), taskStart("a", 1, "fetch/X", 10), taskStop("a", 1, "fetch/X", 300),
			proc("b", 2, 0), taskStart("b", 2, "fetch/X", 150), taskStop("b", 2, "fetch/X", 2000)}, nil, "two running owners"},
		{"killed owner's run ends at the kill", []audit.Record{proc("a", 1, 0), taskStart("a", 1, "fetch/X", 10),
			proc("b", 2, 0), taskStart("b", 2, "fetch/X", 600)}, []chaos.Event{kill}, ""},
		{"run after the kill overlaps", []audit.Record{proc("a", 1, 0), taskStart("a", 1, "fetch/X", 10),
			proc("b", 2, 0), taskStart("b", 2, "fetch/X", 400), taskStop("b", 2, "fetch/X", 2000)}, []chaos.Event{kill}, "two running owners"},
		{"paused owner, short tail after SIGCONT", []audit.Record{proc("a", 1, 0), taskStart("a", 1, "fetch/X", 10),
			taskStop("a", 1, "fetch/X", 950), proc("b", 2, 0), taskStart("b", 2, "fetch/X", 600)}, []chaos.Event{stop, cont}, ""},
		{"paused owner runs on after SIGCONT", []audit.Record{proc("a", 1, 0), taskStart("a", 1, "fetch/X", 10),
			taskStop("a", 1, "fetch/X", 5000), proc("b", 2, 0), taskStart("b", 2, "fetch/X", 600), taskStop("b", 2, "fetch/X", 6000)}, []chaos.Event{stop, cont}, "two running owners"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := load(t, writeTrail(t, tc.recs...), tc.events...)
			_, vs := CheckOwners(tr, 2*time.Second)
			assertViolation(t, vs, tc.want)
		})
	}
}

func TestFailoverTimeline(t *testing.T) {
	kill := chaos.Event{T: at(1000), Kind: chaos.KindKill, Phase: chaos.PhaseInject, Node: "a", PID: 1, Signal: "KILL"}
	tr := load(t, writeTrail(t,
		proc("a", 1, 0), termStart("a", 1, 1, 10), write("a", 1, 1, 20, 25, audit.ResultOK), taskStart("a", 1, "fetch/X", 30),
		proc("b", 2, 0), taskStart("b", 2, "ingest/0", 40),
		termStart("b", 2, 2, 4000), write("b", 2, 2, 4010, 4020, audit.ResultOK), taskStart("b", 2, "fetch/X", 4100),
		taskStop("b", 2, "fetch/X", 9000), taskStop("b", 2, "ingest/0", 9000),
	), kill)
	fs := Failovers(tr, []string{"fetch/X", "ingest/0"}, 2*time.Second)
	if len(fs) != 1 {
		t.Fatalf("got %d failovers; want 1", len(fs))
	}
	f := fs[0]
	if f.ToElected() != 3000*time.Millisecond || f.ToFirstWrite() != 3020*time.Millisecond || f.ToAllRunning() != 3100*time.Millisecond {
		t.Errorf("timeline %v %v %v; want 3000ms 3020ms 3100ms", f.ToElected(), f.ToFirstWrite(), f.ToAllRunning())
	}
	if !strings.HasPrefix(f.Cause, "kill") {
		t.Errorf("cause %q; want kill", f.Cause)
	}
}

func assertViolation(t *testing.T, vs []Violation, want string) {
	t.Helper()
	if want == "" {
		if len(vs) != 0 {
			t.Fatalf("unexpected violations: %+v", vs)
		}
		return
	}
	for _, v := range vs {
		if strings.Contains(v.Detail, want) {
			return
		}
	}
	t.Fatalf("want a violation containing %q; got %+v", want, vs)
}

func jsonLine(r audit.Record) ([]byte, error) {
	b, err := json.Marshal(r)
	return append(b, '\n'), err
}
