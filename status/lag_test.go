package status

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/stream"
)

func ptr(n int64) *int64 { return &n }

func TestMeasuredLag(t *testing.T) {
	for _, tt := range []struct {
		name             string
		oldest, hw, next int64
		found            bool
		want             int64
	}{
		{"empty partition, no commit", 0, 0, 0, false, 0},
		{"no commit: from the oldest offset 0", 0, 10, 0, false, 10},
		{"no commit: from the oldest left by retention", 4, 10, 0, false, 6},
		{"no commit: next ignored", 4, 10, 9, false, 6},
		{"committed midway", 0, 10, 7, true, 3},
		{"committed at the high-water mark", 0, 10, 10, true, 0},
		{"committed at the oldest", 4, 10, 4, true, 6},
		{"committed 0 on an untrimmed partition", 0, 10, 0, true, 10},
		{"committed before the oldest (deleted by retention)", 4, 10, 2, true, 6},
		{"committed past the high-water mark (topic recreated)", 3, 10, 15, true, 7},
		{"large offsets", 1 << 40, 1<<40 + 5000, 1<<40 + 1234, true, 5000 - 1234},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := MeasuredLag(stream.PartitionOffsets{Oldest: tt.oldest, HighWater: tt.hw}, tt.next, tt.found)
			if got != tt.want {
				t.Errorf("MeasuredLag(oldest %d, hw %d, next %d, found %v) = %d; want %d", tt.oldest, tt.hw, tt.next, tt.found, got, tt.want)
			}
		})
	}
}

type fakeKafka struct {
	ends  map[int32]stream.PartitionOffsets
	err   error
	asked []int32
}

func (f *fakeKafka) Offsets(_ context.Context, ps []int32) (map[int32]stream.PartitionOffsets, error) {
	f.asked = append(f.asked, ps...)
	if f.err != nil {
		return nil, f.err
	}
	out := map[int32]stream.PartitionOffsets{}
	for _, p := range ps {
		if o, ok := f.ends[p]; ok {
			out[p] = o
		}
	}
	return out, nil
}

type fakeCommits struct {
	next  map[int32]int64 // absent: no commit
	topic string
	err   error
}

func (f *fakeCommits) LoadOffset(_ context.Context, topic string, p int32) (int64, int64, bool, error) {
	if f.err != nil {
		return 0, 0, false, f.err
	}
	f.topic = topic
	n, ok := f.next[p]
	return n, 7, ok, nil
}

func lagReport() *Report {
	n1 := "node-1"
	return &Report{Tasks: []Task{
		{ID: "fetch/SPY", Type: "fetch", Owner: &n1, State: "running"},
		{ID: "ingest/0", Type: "ingest", Owner: &n1, State: "running", Lag: ptr(0), ReportedLag: ptr(0), LagSource: LagReported},
		{ID: "ingest/1", Type: "ingest", Owner: &n1, State: "running", LagSource: LagReported}, // never reported
		{ID: "ingest/2", Type: "ingest", State: "unassigned", LagSource: LagReported},
	}}
}

func TestMeasureLag(t *testing.T) {
	k := &fakeKafka{ends: map[int32]stream.PartitionOffsets{0: {Oldest: 0, HighWater: 50}, 1: {Oldest: 10, HighWater: 30}, 2: {Oldest: 0, HighWater: 0}}}
	c := &fakeCommits{next: map[int32]int64{0: 42}} // 1 and 2: no commit
	r := lagReport()
	if err := MeasureLag(context.Background(), r, "quotes", k, c); err != nil {
		t.Fatal(err)
	}
	if c.topic != "quotes" {
		t.Errorf("committed offsets read for topic %q; want quotes", c.topic)
	}
	if len(k.asked) != 3 || k.asked[0] != 0 || k.asked[1] != 1 || k.asked[2] != 2 {
		t.Errorf("Kafka asked for partitions %v; want [0 1 2]", k.asked)
	}
	for _, tt := range []struct {
		i                 int
		lag, reported, hw *int64
		committed         *int64
	}{
		{1, ptr(50 - 42), ptr(0), ptr(50), ptr(42)},
		{2, ptr(30 - 10), nil, ptr(30), nil},
		{3, ptr(0), nil, ptr(0), nil},
	} {
		got := r.Tasks[tt.i]
		if got.LagSource != LagMeasured {
			t.Errorf("%s: lag source %q; want measured", got.ID, got.LagSource)
		}
		for _, f := range []struct {
			name      string
			got, want *int64
		}{{"lag", got.Lag, tt.lag}, {"reported_lag", got.ReportedLag, tt.reported}, {"high_water", got.HighWater, tt.hw}, {"committed", got.Committed, tt.committed}} {
			if !sameOffset(f.got, f.want) {
				t.Errorf("%s: %s = %s; want %s", got.ID, f.name, show(f.got), show(f.want))
			}
		}
	}
	if r.Tasks[0].Lag != nil || r.Tasks[0].LagSource != "" {
		t.Errorf("fetch task got a lag: %+v", r.Tasks[0])
	}
	if r.LagError != "" {
		t.Errorf("LagError %q; want none", r.LagError)
	}
}

func show(p *int64) string {
	if p == nil {
		return "nil"
	}
	return strconv.FormatInt(*p, 10)
}

func TestMeasureLagFallsBackToReported(t *testing.T) {
	down := errors.New("connection refused")
	for _, tt := range []struct {
		name   string
		k      KafkaOffsets
		c      CommittedOffsets
		prefix string
	}{
		{"kafka fails", &fakeKafka{err: down}, &fakeCommits{}, "kafka: connection refused"},
		{"cassandra fails", &fakeKafka{ends: map[int32]stream.PartitionOffsets{0: {}, 1: {}, 2: {}}}, &fakeCommits{err: down}, "cassandra: connection refused"},
		{"kafka misses a partition", &fakeKafka{ends: map[int32]stream.PartitionOffsets{0: {}, 1: {}}}, &fakeCommits{}, "kafka: no offsets for quotes/2"},
		{"no kafka client", nil, &fakeCommits{}, "kafka: not connected"},
		{"no cassandra client", &fakeKafka{}, nil, "cassandra: not connected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := lagReport()
			r.Tasks[1].Lag, r.Tasks[1].ReportedLag = ptr(5), ptr(5)
			err := MeasureLag(context.Background(), r, "quotes", tt.k, tt.c)
			if err == nil || err.Error() != tt.prefix || r.LagError != tt.prefix {
				t.Fatalf("err %v, LagError %q; want both %q", err, r.LagError, tt.prefix)
			}
			for _, x := range r.Tasks[1:] {
				if x.LagSource != LagReported || !sameOffset(x.Lag, x.ReportedLag) || x.HighWater != nil || x.Committed != nil {
					t.Errorf("%s: %+v; want the reported lag, marked reported", x.ID, x)
				}
			}
			if *r.Tasks[1].Lag != 5 {
				t.Errorf("ingest/0 lag %d; want the reported 5", *r.Tasks[1].Lag)
			}
		})
	}
}

func TestStall(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	n1, n2 := "node-1", "node-2"
	after := 30 * time.Second
	task := func(mod func(*Task)) *Task {
		x := &Task{ID: "ingest/0", Type: "ingest", Owner: &n1, State: "running", Started: now.Add(-time.Hour),
			LastProgress: now.Add(-time.Second), Progress: 100, Lag: ptr(10), LagSource: LagMeasured, Committed: ptr(90), HighWater: ptr(100)}
		if mod != nil {
			mod(x)
		}
		return x
	}
	for _, tt := range []struct {
		name      string
		cur, prev *Task
		want      string // "" not stalled; else a substring of the reason
	}{
		{"healthy: recent progress", task(nil), nil, ""},
		{"no lag, old progress: idle, not stalled", task(func(x *Task) { x.Lag = ptr(0); x.LastProgress = now.Add(-time.Hour) }), nil, ""},
		{"lag unknown", task(func(x *Task) { x.Lag = nil; x.LastProgress = now.Add(-time.Hour) }), nil, ""},
		{"lag, progress 31s ago", task(func(x *Task) { x.LastProgress = now.Add(-31 * time.Second) }), nil, "lag 10, no progress for 31s (stall after 30s)"},
		{"lag, progress exactly 30s ago: not yet", task(func(x *Task) { x.LastProgress = now.Add(-30 * time.Second) }), nil, ""},
		{"reported lag counts too", task(func(x *Task) { x.LagSource = LagReported; x.LastProgress = now.Add(-time.Minute) }), nil, "no progress for 1m00s"},
		{"never progressed, started 40s ago", task(func(x *Task) { x.LastProgress = time.Time{}; x.Started = now.Add(-40 * time.Second) }), nil, "no progress since it started 40s ago"},
		{"never progressed, started 5s ago", task(func(x *Task) { x.LastProgress = time.Time{}; x.Started = now.Add(-5 * time.Second) }), nil, ""},
		{"failed task with lag", task(func(x *Task) { x.State = "failed"; x.LastProgress = now.Add(-time.Minute) }), nil, "no progress for 1m00s"},
		{"unassigned: not judged", task(func(x *Task) { x.Owner = nil; x.LastProgress = now.Add(-time.Hour) }), nil, ""},
		{"fetch task: not judged", task(func(x *Task) { x.Type = "fetch"; x.ID = "fetch/SPY"; x.LastProgress = now.Add(-time.Hour) }), nil, ""},

		{"watch: lag grew, nothing moved", task(func(x *Task) { x.Lag = ptr(15); x.HighWater = ptr(105) }), task(nil), "lag grew from 10 to 15 with no progress"},
		{"watch: lag grew, committed moved", task(func(x *Task) { x.Lag = ptr(15); x.Committed = ptr(91) }), task(nil), ""},
		{"watch: lag grew, progress moved", task(func(x *Task) { x.Lag = ptr(15); x.Progress = 101 }), task(nil), ""},
		{"watch: lag grew from 0 (a message just arrived)", task(func(x *Task) { x.Lag = ptr(1) }), task(func(x *Task) { x.Lag = ptr(0) }), ""},
		{"watch: lag unchanged", task(nil), task(nil), ""},
		{"watch: lag shrank", task(func(x *Task) { x.Lag = ptr(5) }), task(nil), ""},
		{"watch: owner changed", task(func(x *Task) { x.Lag = ptr(15) }), task(func(x *Task) { x.Owner = &n2 }), ""},
		{"watch: previous lag reported", task(func(x *Task) { x.Lag = ptr(15) }), task(func(x *Task) { x.LagSource = LagReported }), ""},
		{"watch: current lag reported", task(func(x *Task) { x.Lag = ptr(15); x.LagSource = LagReported }), task(nil), ""},
		{"watch: no commit either time", task(func(x *Task) { x.Lag = ptr(15); x.Committed = nil }), task(func(x *Task) { x.Committed = nil }), "lag grew from 10 to 15"},
		{"watch: stays stalled while nothing moves", task(nil), task(func(x *Task) { x.Stalled = true }), "lag 10, still no progress"},
		{"watch: stall ends when the task moves", task(func(x *Task) { x.Committed = ptr(95); x.Lag = ptr(5) }), task(func(x *Task) { x.Stalled = true }), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Stall(tt.cur, tt.prev, now, after)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("Stall = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestMarkStalled(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	n1 := "node-1"
	r := &Report{Tasks: []Task{
		{ID: "fetch/SPY", Type: "fetch", Owner: &n1, LastProgress: now.Add(-time.Hour)},
		{ID: "ingest/0", Type: "ingest", Owner: &n1, Lag: ptr(3), LagSource: LagMeasured, LastProgress: now.Add(-time.Minute)},
		{ID: "ingest/1", Type: "ingest", Owner: &n1, Lag: ptr(3), LagSource: LagMeasured, LastProgress: now},
		{ID: "ingest/2", Type: "ingest", Owner: &n1, Lag: ptr(9), LagSource: LagMeasured, Progress: 4, Committed: ptr(1), LastProgress: now},
	}}
	prev := &Report{Tasks: []Task{
		{ID: "ingest/2", Type: "ingest", Owner: &n1, Lag: ptr(2), LagSource: LagMeasured, Progress: 4, Committed: ptr(1)},
	}}
	MarkStalled(r, prev, now, DefaultStallAfter)
	if strings.Join(r.Stalled, " ") != "ingest/0 ingest/2" {
		t.Errorf("Stalled = %v; want [ingest/0 ingest/2]", r.Stalled)
	}
	for i, want := range []bool{false, true, false, true} {
		if r.Tasks[i].Stalled != want || (r.Tasks[i].StallReason != "") != want {
			t.Errorf("%s: stalled %v (%q); want %v", r.Tasks[i].ID, r.Tasks[i].Stalled, r.Tasks[i].StallReason, want)
		}
	}
	MarkStalled(r, nil, now, 2*time.Minute) // a longer threshold, no previous report
	if len(r.Stalled) != 0 || r.Stalled == nil {
		t.Errorf("Stalled = %#v with --stall-after 2m; want an empty list", r.Stalled)
	}
}

// pendingKafka also counts pending records: pending[p] records (of the
// gap) are visible to read_committed, the rest are commit markers.
type pendingKafka struct {
	fakeKafka
	pending map[int32]int64
	from    map[int32]int64
	err     error
}

func (f *pendingKafka) Pending(_ context.Context, p int32, from int64) (int64, error) {
	if f.from == nil {
		f.from = map[int32]int64{}
	}
	f.from[p] = from
	return f.pending[p], f.err
}

// TestMeasureLagCountsSmallGaps: with a PendingCounter, a gap of at most
// ExactLagMax offsets is counted record by record (an idle transactional
// partition, one commit marker above the committed offset, reads 0), a
// larger gap is the offset difference, and a failed count is not measured.
func TestMeasureLagCountsSmallGaps(t *testing.T) {
	k := &pendingKafka{fakeKafka: fakeKafka{ends: map[int32]stream.PartitionOffsets{
		0: {Oldest: 0, HighWater: 43}, 1: {Oldest: 10, HighWater: 10 + ExactLagMax + 1}, 2: {Oldest: 0, HighWater: 9}}},
		pending: map[int32]int64{0: 0, 1: 5, 2: 6}}
	c := &fakeCommits{next: map[int32]int64{0: 42, 2: 1}} // 1: no commit
	r := lagReport()
	if err := MeasureLag(context.Background(), r, "quotes", k, c); err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]int64{1: 0, 2: ExactLagMax + 1, 3: 6} {
		if got := r.Tasks[i].Lag; got == nil || *got != want || r.Tasks[i].LagSource != LagMeasured {
			t.Errorf("%s: lag %s (%s); want %d measured", r.Tasks[i].ID, show(got), r.Tasks[i].LagSource, want)
		}
	}
	if len(k.from) != 2 || k.from[0] != 42 || k.from[2] != 1 {
		t.Errorf("counted from %v; want partition 0 from 42, 2 from 1, 1 not counted", k.from)
	}
	k.err = errors.New("fetch failed")
	r = lagReport()
	if err := MeasureLag(context.Background(), r, "quotes", k, c); err == nil || r.LagError != "kafka: fetch failed" || r.Tasks[1].LagSource != LagReported {
		t.Errorf("failed count: err %v, LagError %q, source %q; want kafka: fetch failed, reported", err, r.LagError, r.Tasks[1].LagSource)
	}
}
