package verify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stock-system/stocksys/audit"
)

func commit(node string, pid int, task string, token int64, sent, done int, result string) audit.Record {
	return audit.Record{Kind: audit.KindCommit, Node: node, PID: pid, Task: task, Token: token, Value: "1",
		TSent: at(sent), TDone: at(done), T: at(done), Result: result}
}

func TestCheckCommits(t *testing.T) {
	tests := []struct {
		name string
		recs []audit.Record
		want string
		sum  CommitSummary
	}{
		{"handover: the old owner's late commit refused", []audit.Record{
			proc("a", 1, 0), commit("a", 1, "ingest/0", 100, 10, 20, audit.ResultOK),
			proc("b", 2, 0), commit("b", 2, "ingest/0", 200, 30, 40, audit.ResultOK),
			commit("a", 1, "ingest/0", 100, 50, 60, audit.ResultFenced),
			commit("a", 1, "ingest/0", 100, 70, 80, audit.ResultError),
		}, "", CommitSummary{Commits: 4, Accepted: 2, Refused: 1, Failed: 1, Tasks: 1}},
		{"stale token accepted after the newer commit", []audit.Record{
			proc("a", 1, 0), commit("a", 1, "ingest/0", 100, 10, 20, audit.ResultOK),
			proc("b", 2, 0), commit("b", 2, "ingest/0", 200, 30, 40, audit.ResultOK),
			commit("a", 1, "ingest/0", 100, 50, 60, audit.ResultOK),
		}, "stale token 100 by a (pid 1)", CommitSummary{Commits: 3, Accepted: 3, Tasks: 1}},
		{"overlapping in flight: not ordered", []audit.Record{
			proc("a", 1, 0), proc("b", 2, 0),
			commit("b", 2, "fetch/SPY", 200, 30, 45, audit.ResultOK),
			commit("a", 1, "fetch/SPY", 100, 40, 50, audit.ResultOK),
		}, "", CommitSummary{Commits: 2, Accepted: 2, Tasks: 1}},
		{"tasks are independent", []audit.Record{
			proc("a", 1, 0), commit("a", 1, "ingest/1", 300, 10, 20, audit.ResultOK),
			commit("a", 1, "ingest/0", 100, 30, 40, audit.ResultOK),
		}, "", CommitSummary{Commits: 2, Accepted: 2, Tasks: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := load(t, writeTrail(t, tc.recs...))
			sum, vs := CheckCommits(tr)
			assertViolation(t, vs, tc.want)
			if sum != tc.sum {
				t.Errorf("summary %+v; want %+v", sum, tc.sum)
			}
		})
	}
}

type tokenRows struct {
	offsets map[int32]int64
	cps     map[string]int64
	err     error
}

func (s tokenRows) LoadOffset(_ context.Context, topic string, p int32) (int64, int64, bool, error) {
	tk, ok := s.offsets[p]
	return 7, tk, ok, s.err
}

func (s tokenRows) LoadCheckpoint(_ context.Context, sym string) (time.Time, int64, bool, error) {
	tk, ok := s.cps[sym]
	return t0, tk, ok, s.err
}

func TestCheckStoredTokens(t *testing.T) {
	tr := load(t, writeTrail(t, proc("a", 1, 0),
		commit("a", 1, "ingest/0", 100, 10, 20, audit.ResultOK),
		commit("a", 1, "ingest/0", 200, 30, 40, audit.ResultOK),
		commit("a", 1, "ingest/0", 300, 50, 60, audit.ResultFenced), // refused: not the row's token
		commit("a", 1, "fetch/SPY", 150, 10, 20, audit.ResultOK)))
	ctx := context.Background()
	var sum CommitSummary
	vs, err := CheckStoredTokens(ctx, tokenRows{offsets: map[int32]int64{0: 200}, cps: map[string]int64{"SPY": 160}}, "q", tr, &sum)
	if err != nil || len(vs) != 0 || sum.Stored != 2 {
		t.Fatalf("rows at the newest tokens: %+v, %v, stored %d; want no violation, 2 rows", vs, err, sum.Stored)
	}
	vs, err = CheckStoredTokens(ctx, tokenRows{offsets: map[int32]int64{0: 100}, cps: map[string]int64{}}, "q", tr, &sum)
	if err != nil {
		t.Fatal(err)
	}
	assertViolation(t, vs, "ingest/0: the committed row has token 100 (found true); the trail shows token 200 accepted")
	assertViolation(t, vs, "fetch/SPY: the committed row has token 0 (found false)")
	boom := errors.New("boom")
	if _, err := CheckStoredTokens(ctx, tokenRows{err: boom}, "q", tr, &sum); !errors.Is(err, boom) {
		t.Fatalf("error %v; want boom", err)
	}
}

func TestCheckRecordOrder(t *testing.T) {
	rec := func(p int32, off int64, task string, token int64, node string) LogRecord {
		return LogRecord{Partition: p, Offset: off, Task: task, Token: token, Node: node}
	}
	tests := []struct {
		name string
		recs []LogRecord
		want string
		sum  RecordSummary
	}{
		{"handover, duplicates by the new owner", []LogRecord{
			rec(0, 0, "fetch/SPY", 100, "a"), rec(0, 1, "fetch/SPY", 100, "a"), rec(0, 2, "fetch/QQQ", 50, "b"),
			rec(0, 3, "fetch/SPY", 200, "b"), rec(0, 4, "fetch/SPY", 200, "b"), rec(0, 5, "fetch/QQQ", 40, "x"),
			rec(0, 6, "", 0, ""), rec(1, 0, "fetch/QQQ", 10, "a"),
		}, "chaos.quotes/0 offset 5: a record of fetch/QQQ with token 40 (x) is visible after offset 2 with token 50 (b)",
			RecordSummary{Records: 8, WithToken: 7, Tasks: 2, Owners: 5}},
		{"clean", []LogRecord{
			rec(0, 0, "fetch/SPY", 100, "a"), rec(0, 1, "fetch/SPY", 0, "old"), rec(0, 2, "fetch/SPY", 300, "c"),
		}, "", RecordSummary{Records: 3, WithToken: 2, Tasks: 1, Owners: 2}},
		{"zombie after the successor", []LogRecord{
			rec(2, 7, "fetch/SPY", 100, "a"), rec(2, 8, "fetch/SPY", 200, "b"), rec(2, 9, "fetch/SPY", 100, "a"),
		}, "chaos.quotes/2 offset 9: a record of fetch/SPY with token 100 (a) is visible after offset 8 with token 200 (b)",
			RecordSummary{Records: 3, WithToken: 3, Tasks: 1, Owners: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sum RecordSummary
			vs := CheckRecordOrder("chaos.quotes", tc.recs, &sum, nil)
			assertViolation(t, vs, tc.want)
			if tc.want != "" && len(vs) != 1 {
				t.Errorf("%d violations; want 1: %+v", len(vs), vs)
			}
			if sum.Records != tc.sum.Records || sum.WithToken != tc.sum.WithToken || sum.Tasks != tc.sum.Tasks || sum.Owners != tc.sum.Owners {
				t.Errorf("summary %+v; want %+v", sum, tc.sum)
			}
		})
	}
}

// TestCheckRecordOrderTolerated: without transactions a SIGSTOPped owner's
// late records are counted as tails; another owner's still violate.
func TestCheckRecordOrderTolerated(t *testing.T) {
	recs := []LogRecord{
		{Partition: 1, Offset: 120, Task: "fetch/SPY", Token: 340, Node: "node-2"},
		{Partition: 1, Offset: 121, Task: "fetch/SPY", Token: 345, Node: "node-3"},
		{Partition: 1, Offset: 540, Task: "fetch/SPY", Token: 340, Node: "node-2"},
		{Partition: 1, Offset: 541, Task: "fetch/SPY", Token: 340, Node: "node-2"},
		{Partition: 1, Offset: 542, Task: "fetch/SPY", Token: 330, Node: "node-1"},
	}
	var sum RecordSummary
	vs := CheckRecordOrder("chaos.quotes", recs, &sum, func(r LogRecord) bool { return r.Node == "node-2" })
	if sum.Tails != 2 {
		t.Errorf("tails %d; want 2 (node-2's offsets 540, 541)", sum.Tails)
	}
	assertViolation(t, vs, "chaos.quotes/1 offset 542: a record of fetch/SPY with token 330 (node-1) is visible after offset 121 with token 345 (node-3)")
	if len(vs) != 1 {
		t.Errorf("%d violations; want 1: %+v", len(vs), vs)
	}
}
