package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/tasks"
)

// Decision: a task that keeps failing is retried after waits that double
// from RetryDelay up to RetryMaxDelay (each ±RetryJitter), its consecutive
// failures and next retry time are published, and a run that lasted
// RetryMaxDelay or longer before failing starts the sequence over.
func TestTwinFailingTaskBacksOff(t *testing.T) {
	const (
		base   = 30 * time.Millisecond
		ceil   = 240 * time.Millisecond
		slack  = 90 * time.Millisecond // the loop's ticker (10 ms) and a loaded machine
		runs   = 8                     // run 7 lasts 300 ms (> ceil) before failing
		longAt = 7
	)
	var mu sync.Mutex
	var starts, ends []time.Time
	failing := runnerFunc(func(ctx context.Context, _ *Run) error {
		mu.Lock()
		starts = append(starts, time.Now())
		n := len(starts)
		mu.Unlock()
		if n == longAt {
			time.Sleep(300 * time.Millisecond)
		}
		if n > runs {
			<-ctx.Done()
			return ctx.Err()
		}
		mu.Lock()
		ends = append(ends, time.Now())
		mu.Unlock()
		return fmt.Errorf("source: feed down (run %d)", n)
	})
	tw := newTwin(t, func(c *Config) {
		c.RetryDelay, c.RetryMaxDelay = base, ceil
		c.Runners = map[tasks.Type]Runner{tasks.TypeFetch: failing}
	})
	tw.assign(1, tw.conn.SessionID(), []tasks.ID{msft})

	// The published status: the failure count and a retry time one wait
	// (for that count) after the failed run started.
	d := tw.waitStatus("MSFT failed 3 times or more", func(d tasks.StatusDoc) bool {
		st := d.Tasks[msft]
		return st.State == tasks.StateFailed && st.Failures >= 3 && st.Failures < longAt
	})
	st := d.Tasks[msft]
	want := min(base<<(st.Failures-1), ceil)
	if got := st.RetryAt.Sub(st.Started); got < time.Duration(0.8*float64(want)) || got > time.Duration(1.2*float64(want))+slack {
		t.Errorf("failure %d: retry_at - started = %v; want %v ±20%%", st.Failures, got, want)
	}
	if st.LastError == "" || st.RetryAt.IsZero() {
		t.Errorf("published %+v; want the last error and retry_at", st)
	}

	tw.waitFor(func() bool { mu.Lock(); defer mu.Unlock(); return len(starts) > runs },
		func() string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("%d starts; want %d", len(starts), runs+1)
		})
	mu.Lock()
	defer mu.Unlock()
	for k := 1; k <= runs; k++ { // the wait after failure k: from the end of run k to the start of run k+1
		want := min(base<<(k-1), ceil)
		if k == longAt {
			want = base // the long run reset the sequence
		} else if k > longAt {
			want = base << (k - longAt)
		}
		got := starts[k].Sub(ends[k-1])
		if got < time.Duration(0.8*float64(want)) || got > time.Duration(1.2*float64(want))+slack {
			t.Errorf("wait after failure %d = %v; want %v ±20%% (+%v)", k, got, want, slack)
		}
	}
	d = tw.waitStatus("MSFT running", func(d tasks.StatusDoc) bool { return d.Tasks[msft].State == tasks.StateRunning })
	if got := d.Tasks[msft].Failures; got != 2 { // runs 7 and 8 failed since the reset
		t.Errorf("failures published while running = %d; want 2", got)
	}
}
