package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// Offers made while a commit is in flight are merged: the next commit carries
// the newest value, and the done callback counts every item once.
func TestCommitterGroupsOffers(t *testing.T) {
	var (
		mu      sync.Mutex
		commits []int64
		counted int
	)
	gate := make(chan struct{})
	first := true
	c := startCommitter(t.Context(), &worker.Run{Task: tasks.IngestTask(0)}, zap.NewNop(), "offset",
		func(_ context.Context, v int64) error {
			mu.Lock()
			wait := first
			first = false
			mu.Unlock()
			if wait {
				<-gate // the first commit blocks while more offers arrive
			}
			mu.Lock()
			commits = append(commits, v)
			mu.Unlock()
			return nil
		}, func(n int, _ time.Time) { mu.Lock(); counted += n; mu.Unlock() })
	c.offer(10, 1, time.Now())
	time.Sleep(20 * time.Millisecond) // let the first commit start
	for v := int64(11); v <= 20; v++ {
		c.offer(v, 1, time.Now())
	}
	close(gate)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := len(commits) > 0 && commits[len(commits)-1] == 20
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.finish(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(commits) != "[10 20]" || counted != 11 {
		t.Fatalf("commits %v, counted %d; want [10 20] and 11", commits, counted)
	}
}

// A fenced commit stops the committer and is reported; a transient error is
// retried with the newest value.
func TestCommitterFencedAndRetry(t *testing.T) {
	var (
		mu    sync.Mutex
		tries []int64
	)
	c := startCommitter(t.Context(), &worker.Run{Task: tasks.IngestTask(0)}, zap.NewNop(), "offset",
		func(_ context.Context, v int64) error {
			mu.Lock()
			defer mu.Unlock()
			tries = append(tries, v)
			switch len(tries) {
			case 1:
				return errors.New("timeout")
			case 2:
				return nil
			}
			return fmt.Errorf("%w: epoch 9", store.ErrFenced)
		}, nil)
	c.offer(1, 0, time.Time{})
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(tries) == 2 })
	c.offer(2, 0, time.Time{})
	waitFor(t, func() bool { return c.failed() != nil })
	c.offer(3, 0, time.Time{}) // nothing commits after fencing
	c.finish(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(tries) != "[1 1 2]" || !errors.Is(c.failed(), store.ErrFenced) {
		t.Fatalf("tries %v, failed %v; want [1 1 2] and ErrFenced", tries, c.failed())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

// A run that stops (revoked, or its worker stopping: the committer's
// context cancelled) with a value offered but not yet committed commits it
// in finish while the session is safe, so the next owner starts after it.
func TestCommitterFinishCommitsPendingOnStop(t *testing.T) {
	var (
		mu      sync.Mutex
		commits []int64
	)
	ctx, cancel := context.WithCancel(t.Context())
	r := worker.NewRunContext(ctx, tasks.IngestTask(0), "node-1", 1, 7) // inactive once ctx is done; Safe (no session)
	c := startCommitter(ctx, r, zap.NewNop(), "offset", func(_ context.Context, v int64) error {
		mu.Lock()
		defer mu.Unlock()
		commits = append(commits, v)
		return nil
	}, nil)
	c.offer(5, 1, time.Now())
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(commits) == 1 })
	c.offer(9, 1, time.Now()) // within commitInterval of the first: still pending at the stop
	cancel()
	if r.Active() || !r.Safe() {
		t.Fatalf("after the stop: Active %v Safe %v; want false, true", r.Active(), r.Safe())
	}
	c.finish(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(commits) != "[5 9]" {
		t.Fatalf("commits %v; want [5 9] (the pending 9 committed by finish after the stop)", commits)
	}
}
