package worker

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stock-system/stocksys/tasks"
)

type nopRunner struct{}

func (nopRunner) Run(ctx context.Context, _ *Run) error { <-ctx.Done(); return nil }

// TestJudge: the worker's accept/reject rules for assignment documents,
// without ZooKeeper.
func TestJudge(t *testing.T) {
	fetchOnly := map[tasks.Type]Runner{tasks.TypeFetch: nopRunner{}}
	both := map[tasks.Type]Runner{tasks.TypeFetch: nopRunner{}, tasks.TypeIngest: nopRunner{}}
	doc := func(epoch int64, session tasks.SessionID, ids ...tasks.ID) *tasks.AssignmentDoc {
		return &tasks.AssignmentDoc{Node: "n", Session: session, Epoch: epoch, Tasks: ids, Revoked: []tasks.ID{}}
	}
	for _, tt := range []struct {
		name         string
		doc          *tasks.AssignmentDoc
		highest      int64
		runners      map[tasks.Type]Runner
		desired      string // sorted ids, space-separated
		refused      map[string]string
		wantHighest  int64
		older, other bool
	}{
		{"no document", nil, 4, both, "", nil, 4, false, false},
		{"current epoch", doc(4, 7, "fetch/SPY", "ingest/0"), 4, both, "fetch/SPY ingest/0", nil, 4, false, false},
		{"newer epoch raises the highest", doc(6, 7, "fetch/SPY"), 4, both, "fetch/SPY", nil, 6, false, false},
		{"older epoch: a deposed master's write", doc(3, 7, "fetch/SPY"), 4, both, "",
			map[string]string{"fetch/SPY": "assignment of epoch 3 is older than epoch 4 already seen (a deposed master's write?)"}, 4, true, false},
		{"another session: runs nothing", doc(5, 8, "fetch/SPY"), 4, both, "", nil, 5, false, true},
		{"no runner for the type", doc(4, 7, "fetch/SPY", "ingest/0"), 4, fetchOnly, "fetch/SPY",
			map[string]string{"ingest/0": `worker: no runner for task type "ingest"`}, 4, false, false},
		{"unparsable task id", doc(4, 7, "fetch/SPY", "shuffle/1"), 4, both, "fetch/SPY",
			map[string]string{"shuffle/1": "?"}, 4, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := judge(tt.doc, tt.highest, 7, tt.runners)
			var got []string
			for id := range v.desired {
				got = append(got, string(id))
			}
			slices.Sort(got)
			if strings.Join(got, " ") != tt.desired || v.highest != tt.wantHighest || v.older != tt.older || v.otherSession != tt.other {
				t.Fatalf("verdict desired %v highest %d older %v other %v; want [%s] %d %v %v", got, v.highest, v.older, v.otherSession,
					tt.desired, tt.wantHighest, tt.older, tt.other)
			}
			if len(v.refused) != len(tt.refused) {
				t.Fatalf("refused %v; want %v", v.refused, tt.refused)
			}
			for id, why := range tt.refused {
				if got, ok := v.refused[id]; !ok || (why != "?" && got != why) || got == "" {
					t.Fatalf("refused[%s] = %q; want %q", id, got, why)
				}
			}
		})
	}
}
