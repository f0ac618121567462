package pipeline_test

import (
	"context"
	"errors"
	"math"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/metrics"
	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// sliceSource hands out qs (ascending TS) after a checkpoint, at most batch a
// call, and ErrExhausted when none is left: the contract of a replay source.
type sliceSource struct {
	qs    []quote.Quote
	batch int
}

func (s *sliceSource) Fetch(ctx context.Context, _ string, after time.Time) ([]quote.Quote, error) {
	i := sort.Search(len(s.qs), func(i int) bool { return s.qs[i].TS.After(after) })
	if i == len(s.qs) {
		return nil, quote.ErrExhausted
	}
	return append([]quote.Quote(nil), s.qs[i:min(i+s.batch, len(s.qs))]...), nil
}

// recSender records every quote sent.
type recSender struct {
	mu   sync.Mutex
	sent []quote.Quote
}

func (s *recSender) SendFrom(_ context.Context, _ stream.Origin, qs []quote.Quote) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, qs...)
	return nil
}

// recCheckpoints records every committed checkpoint.
type recCheckpoints struct {
	mu      sync.Mutex
	commits []time.Time
}

func (c *recCheckpoints) LoadCheckpoint(context.Context, string) (time.Time, int64, bool, error) {
	return time.Time{}, 0, false, nil
}

func (c *recCheckpoints) CommitCheckpoint(_ context.Context, _ string, ts time.Time, _ int64, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits = append(c.commits, ts)
	return nil
}

func (c *recCheckpoints) last() (time.Time, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.commits) == 0 {
		return time.Time{}, 0
	}
	return c.commits[len(c.commits)-1], len(c.commits)
}

// countingCounters counts rejects by reason, and fetched and produced quotes.
type countingCounters struct {
	mu       sync.Mutex
	fetched  int
	produced int
	rejected map[quote.RejectReason]int
}

func (c *countingCounters) Fetched(_ string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetched += n
}

func (c *countingCounters) Produced(_ string, n int, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.produced += n
}

func (c *countingCounters) Flagged(string, string) {}

func (c *countingCounters) Rejected(_ string, r quote.RejectReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rejected == nil {
		c.rejected = map[quote.RejectReason]int{}
	}
	c.rejected[r]++
}

// invalidMix returns quotes of SPY in ascending TS: one of each invalid kind
// between valid ones, and which are valid, and the reason of each reject.
func invalidMix(now time.Time) (all, valid []quote.Quote, reasons map[quote.RejectReason]int) {
	base := time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC)
	ok := func(i int) quote.Quote {
		p := 168 + float64(i)/100
		return quote.Quote{Symbol: "SPY", TS: base.Add(time.Duration(i) * time.Minute),
			Open: p, High: p + 0.05, Low: p - 0.05, Close: p, Volume: int64(1000 + i), Source: "test"}
	}
	bad := func(i int, mod func(*quote.Quote)) quote.Quote {
		q := ok(i)
		mod(&q)
		return q
	}
	ancient := ok(0)
	ancient.TS = time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC)
	future := ok(0)
	future.TS = now.Add(time.Hour)
	all = []quote.Quote{
		ancient,
		ok(1),
		bad(2, func(q *quote.Quote) { q.Close = math.NaN() }),
		ok(3),
		bad(4, func(q *quote.Quote) { q.Low = -1 }),
		bad(5, func(q *quote.Quote) { q.High, q.Low = q.Low-1, q.High }),
		ok(6),
		bad(7, func(q *quote.Quote) { q.Volume = -5 }),
		bad(8, func(q *quote.Quote) { q.Symbol = "spy$" }),
		ok(9),
		ok(10),
		future,
	}
	reasons = map[quote.RejectReason]int{
		quote.ReasonAncientTS: 1, quote.ReasonNaNPrice: 1, quote.ReasonNonPositive: 1, quote.ReasonHighLow: 1,
		quote.ReasonNegativeVol: 1, quote.ReasonBadSymbol: 1, quote.ReasonFutureTS: 1,
	}
	for _, q := range all {
		if quote.Validate(q, now) == nil {
			valid = append(valid, q)
		}
	}
	return all, valid, reasons
}

// runFetch runs the fetch runner for SPY over src until its checkpoint is
// want and fetched() reports every quote (or 10 s pass), then cancels it and
// returns its error.
func runFetch(t *testing.T, f *pipeline.Fetch, cp *recCheckpoints, want time.Time, fetchedAll func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, &worker.Run{Task: tasks.FetchTask("SPY"), Node: "node-1"})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if last, _ := cp.last(); last.Equal(want) && fetchedAll() {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("fetch returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			last, _ := cp.last()
			t.Fatalf("checkpoint %v; want %v within 10 s", last, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("fetch did not return within 5 s of cancel")
		return nil
	}
}

// TestFetchRejectsInvalidQuotes: a source returning one quote of each invalid
// kind (NaN, negative price, high<low, negative volume, future ts, pre-1970
// ts, bad symbol) among valid ones: only the valid ones are sent, in order;
// the checkpoint ends at the last quote's TS, past every reject but the one
// with a future timestamp (it must not make a restart skip real bars); each reject
// is counted once under its reason; fetched counts every quote.
func TestFetchRejectsInvalidQuotes(t *testing.T) {
	now := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	all, valid, reasons := invalidMix(now)
	if len(valid) != 5 {
		t.Fatalf("test data: %d valid quotes; want 5", len(valid))
	}
	for _, batch := range []int{1, 4, 1000} {
		t.Run("batch"+strconv.Itoa(batch), func(t *testing.T) {
			src := &sliceSource{qs: all, batch: batch}
			snd, cp, cnt := &recSender{}, &recCheckpoints{}, &countingCounters{}
			f := &pipeline.Fetch{
				Source:      func(context.Context, string) (quote.Source, error) { return src, nil },
				Sender:      snd,
				Checkpoints: cp,
				Counters:    cnt,
				Now:         func() time.Time { return now },
			}
			// The last quote has a future timestamp: the checkpoint stops before it.
			wantLast := all[len(all)-2].TS
			fetchedAll := func() bool { cnt.mu.Lock(); defer cnt.mu.Unlock(); return cnt.fetched == len(all) }
			if err := runFetch(t, f, cp, wantLast, fetchedAll); err != nil {
				t.Fatalf("Run = %v; want nil after cancel", err)
			}
			snd.mu.Lock()
			sent := append([]quote.Quote(nil), snd.sent...)
			snd.mu.Unlock()
			if len(sent) != len(valid) {
				t.Fatalf("sent %d quotes; want the %d valid ones", len(sent), len(valid))
			}
			for i := range valid {
				if !sent[i].TS.Equal(valid[i].TS) || sent[i].Close != valid[i].Close || sent[i].Symbol != valid[i].Symbol {
					t.Errorf("sent[%d] = %+v; want %+v", i, sent[i], valid[i])
				}
			}
			for _, q := range sent {
				if err := quote.Validate(q, now); err != nil {
					t.Errorf("sent an invalid quote: %v", err)
				}
			}
			last, commits := cp.last()
			if !last.Equal(wantLast) {
				t.Errorf("final checkpoint %v; want the last non-future quote's TS %v", last, wantLast)
			}
			// At most one commit per batch (except a batch holding only the
			// future quote): commits run in the background, the newest
			// checkpoint each time, so batches produced meanwhile share one.
			maxCommits := (len(all) + batch - 1) / batch
			if batch == 1 {
				maxCommits--
			}
			if commits < 1 || commits > maxCommits {
				t.Errorf("%d checkpoint commits; want 1..%d", commits, maxCommits)
			}
			cp.mu.Lock()
			for i := 1; i < len(cp.commits); i++ {
				if !cp.commits[i].After(cp.commits[i-1]) {
					t.Errorf("checkpoint went from %v to %v", cp.commits[i-1], cp.commits[i])
				}
			}
			cp.mu.Unlock()
			cnt.mu.Lock()
			defer cnt.mu.Unlock()
			if len(cnt.rejected) != len(reasons) {
				t.Errorf("reject reasons %v; want %v", cnt.rejected, reasons)
			}
			for r, n := range reasons {
				if cnt.rejected[r] != n {
					t.Errorf("rejected[%s] = %d; want %d", r, cnt.rejected[r], n)
				}
			}
			if cnt.fetched != len(all) || cnt.produced != len(valid) {
				t.Errorf("fetched %d, produced %d; want %d, %d", cnt.fetched, cnt.produced, len(all), len(valid))
			}
		})
	}
}

// TestFetchRejectMetrics: the same quotes through the node's Prometheus
// counters: stocksys_quotes_rejected_total{symbol="SPY",reason=R} is 1 for
// each of the seven reasons, produced is the valid count, fetched the total.
func TestFetchRejectMetrics(t *testing.T) {
	now := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	all, valid, reasons := invalidMix(now)
	m := metrics.New()
	cp := &recCheckpoints{}
	f := &pipeline.Fetch{
		Source:      func(context.Context, string) (quote.Source, error) { return &sliceSource{qs: all, batch: 3}, nil },
		Sender:      &recSender{},
		Checkpoints: cp,
		Counters:    m.Fetcher(),
		Now:         func() time.Time { return now },
	}
	fetchedAll := func() bool {
		return counter(t, m, "stocksys_quotes_fetched_total", "symbol", "SPY") == float64(len(all))
	}
	if err := runFetch(t, f, cp, all[len(all)-2].TS, fetchedAll); err != nil {
		t.Fatalf("Run = %v", err)
	}
	for r, n := range reasons {
		if got := counter(t, m, "stocksys_quotes_rejected_total", "reason", string(r)); got != float64(n) {
			t.Errorf("stocksys_quotes_rejected_total{reason=%q} = %v; want %d", r, got, n)
		}
	}
	if got := series(t, m, "stocksys_quotes_rejected_total"); got != len(reasons) {
		t.Errorf("%d reject series; want %d", got, len(reasons))
	}
	if got := counter(t, m, "stocksys_quotes_produced_total", "symbol", "SPY"); got != float64(len(valid)) {
		t.Errorf("produced %v; want %d", got, len(valid))
	}
	if got := counter(t, m, "stocksys_quotes_fetched_total", "symbol", "SPY"); got != float64(len(all)) {
		t.Errorf("fetched %v; want %d", got, len(all))
	}
}

// TestFetchSourceErrorKeepsCheckpoint: a source failing after the first
// batch: the runner returns the error (the worker retries), and the
// checkpoint stays at the last batch it produced.
func TestFetchSourceErrorKeepsCheckpoint(t *testing.T) {
	now := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	all, _, _ := invalidMix(now)
	boom := errors.New("boom")
	calls := 0
	cp := &recCheckpoints{}
	f := &pipeline.Fetch{
		Source: func(context.Context, string) (quote.Source, error) {
			return sourceFunc(func(ctx context.Context, s string, after time.Time) ([]quote.Quote, error) {
				calls++
				if calls > 1 {
					return nil, boom
				}
				return (&sliceSource{qs: all, batch: 4}).Fetch(ctx, s, after)
			}), nil
		},
		Sender: &recSender{}, Checkpoints: cp, Now: func() time.Time { return now },
	}
	err := f.Run(t.Context(), &worker.Run{Task: tasks.FetchTask("SPY"), Node: "node-1"})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v; want the source's error", err)
	}
	if last, n := cp.last(); n != 1 || !last.Equal(all[3].TS) {
		t.Errorf("checkpoint %v after %d commits; want %v after 1", last, n, all[3].TS)
	}
}

type sourceFunc func(ctx context.Context, symbol string, after time.Time) ([]quote.Quote, error)

func (f sourceFunc) Fetch(ctx context.Context, symbol string, after time.Time) ([]quote.Quote, error) {
	return f(ctx, symbol, after)
}

// counter returns the sum of the counter samples of name whose label has value.
func counter(t *testing.T, m *metrics.Metrics, name, label, value string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += s.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// series returns how many samples metric name has.
func series(t *testing.T, m *metrics.Metrics, name string) int {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

// TestFetchFlagMetrics: quotes their source flagged are produced like the
// others (kept in storage) and counted by flag in
// stocksys_quotes_flagged_total{symbol,flag}.
func TestFetchFlagMetrics(t *testing.T) {
	now := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	base := time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC)
	flags := []string{"", quote.FlagImplausible, "", quote.FlagOffMedian, quote.FlagImplausible, "", quote.FlagSuspicious, ""}
	var all []quote.Quote
	want := map[string]int{}
	for i, fl := range flags {
		p := 168 + float64(i)/100
		all = append(all, quote.Quote{Symbol: "SPY", TS: base.Add(time.Duration(i) * time.Minute),
			Open: p, High: p, Low: p, Close: p, Volume: 100, Source: "test", Flag: fl})
		if fl != "" {
			want[fl]++
		}
	}
	m := metrics.New()
	cp := &recCheckpoints{}
	sent := &recSender{}
	f := &pipeline.Fetch{
		Source:      func(context.Context, string) (quote.Source, error) { return &sliceSource{qs: all, batch: 3}, nil },
		Sender:      sent,
		Checkpoints: cp,
		Counters:    m.Fetcher(),
		Now:         func() time.Time { return now },
	}
	fetchedAll := func() bool {
		return counter(t, m, "stocksys_quotes_fetched_total", "symbol", "SPY") == float64(len(all))
	}
	if err := runFetch(t, f, cp, all[len(all)-1].TS, fetchedAll); err != nil {
		t.Fatalf("Run = %v", err)
	}
	for fl, n := range want {
		if got := counter(t, m, "stocksys_quotes_flagged_total", "flag", fl); got != float64(n) {
			t.Errorf("stocksys_quotes_flagged_total{flag=%q} = %v; want %d", fl, got, n)
		}
	}
	if got := series(t, m, "stocksys_quotes_flagged_total"); got != len(want) {
		t.Errorf("%d flagged series; want %d", got, len(want))
	}
	sent.mu.Lock()
	defer sent.mu.Unlock()
	if len(sent.sent) != len(all) {
		t.Fatalf("sent %d quotes; want all %d (flagged ones are kept)", len(sent.sent), len(all))
	}
	for i, q := range sent.sent {
		if q.Flag != flags[i] {
			t.Errorf("sent quote %d flag %q; want %q", i, q.Flag, flags[i])
		}
	}
}
