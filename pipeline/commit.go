package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/worker"
)

// committer commits a task's progress marker (an ingest offset, a fetch
// checkpoint) in the background for one run: one commit in flight at a time,
// always the newest value offered; offers made while a commit runs are merged
// into the next one (group commit). The runner offers a value only once what
// it covers is durable (stored in Cassandra, acknowledged by Kafka), so a
// committed value is never ahead of the data. A commit refused with
// store.ErrFenced stops the committer (failed returns it); any other error is
// retried with the newest value after a backoff of 100 ms doubling to 2 s.
// Successive commits are at least commitInterval apart (an offer in between
// waits, merged with later ones), which bounds the lightweight transactions
// a busy task sends to Cassandra; a failover then replays at most about that
// much more. Commits stop when the run's task is no longer active. done, if not nil, is
// called after each successful commit with the number of items and the
// oldest time offered since the previous one.
//
// offer, failed and stop are safe for concurrent use; finish is called once,
// by the runner, at the end.
type committer[T any] struct {
	what   string
	r      *worker.Run
	log    *zap.Logger
	commit func(context.Context, T) error
	done   func(n int, oldest time.Time)

	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: an offer is pending
	exited chan struct{} // closed when run returns

	mu      sync.Mutex
	pending bool
	seq     uint64 // offers so far
	value   T
	n       int
	oldest  time.Time
	err     error
}

// startCommitter starts the committer goroutine; stop ends it.
func startCommitter[T any](ctx context.Context, r *worker.Run, log *zap.Logger, what string,
	commit func(context.Context, T) error, done func(int, time.Time)) *committer[T] {
	ctx, cancel := context.WithCancel(ctx)
	c := &committer[T]{what: what, r: r, log: log, commit: commit, done: done, cancel: cancel,
		wake: make(chan struct{}, 1), exited: make(chan struct{})}
	go c.run(ctx)
	return c
}

// offer hands on v, covering n items the oldest of which dates from oldest
// (zero if unknown).
func (c *committer[T]) offer(v T, n int, oldest time.Time) {
	c.mu.Lock()
	c.value, c.pending = v, true
	c.seq++
	c.n += n
	if !oldest.IsZero() && (c.oldest.IsZero() || oldest.Before(c.oldest)) {
		c.oldest = oldest
	}
	c.mu.Unlock()
	c.poke()
}

func (c *committer[T]) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// failed returns the fencing error that stopped the committer, if any.
func (c *committer[T]) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// stop ends the committer and waits for it; a commit in flight is
// cancelled, offers not yet committed are dropped (the next owner redoes
// them: every write is idempotent). Idempotent.
func (c *committer[T]) stop() {
	c.cancel()
	<-c.exited
}

// finish is stop, then one last commit of a value still pending, if the
// worker's session is still safe and nothing was fenced, bounded by
// timeout: a run that ends (by itself, or revoked, or its worker stopping)
// leaves its last durable value committed, so the task's next owner starts
// exactly after it instead of replaying up to commitInterval of work (a
// replay rewrites rows and costs the ingest writer a read per replayed
// minute). It runs before the runner returns, hence before the release that
// lets the master give the task to another node, and the commit is fenced
// by the run's token either way. A runner past its session's safe deadline
// (a node paused or cut off, whose task may already run elsewhere) commits
// nothing more.
func (c *committer[T]) finish(timeout time.Duration) {
	c.stop()
	c.mu.Lock()
	v, pending, n, oldest := c.value, c.pending, c.n, c.oldest
	failed := c.err != nil
	c.mu.Unlock()
	if !pending || failed || !c.r.Safe() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.commit(ctx, v); err != nil {
		c.log.Warn("last commit failed", zap.String("what", c.what), zap.Any("value", v), zap.Error(err))
		return
	}
	c.mu.Lock()
	c.pending, c.n = false, 0
	c.mu.Unlock()
	if n > 0 && c.done != nil {
		c.done(n, oldest)
	}
}

// commitInterval is the least time between two commits of one committer
// (like Kafka Connect's offset.flush.interval.ms, whose default is 60 s).
const commitInterval = 200 * time.Millisecond

func (c *committer[T]) run(ctx context.Context) {
	defer close(c.exited)
	backoff := 100 * time.Millisecond
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		if wait := commitInterval - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		c.mu.Lock()
		if !c.pending {
			c.mu.Unlock()
			continue
		}
		v, seq, n, oldest := c.value, c.seq, c.n, c.oldest
		c.mu.Unlock()
		if !c.r.Active() {
			return
		}
		last = time.Now()
		err := c.commit(ctx, v)
		if err != nil && ctx.Err() != nil {
			return
		}
		if errors.Is(err, store.ErrFenced) {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			c.log.Warn("commit fenced; stopping", zap.String("what", c.what), zap.Any("value", v), zap.Error(err))
			return
		}
		if err != nil {
			c.log.Warn("commit failed; retrying", zap.String("what", c.what), zap.Any("value", v),
				zap.Duration("in", backoff), zap.Error(err))
			c.poke()
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		c.mu.Lock()
		c.n -= n
		if c.seq == seq {
			c.pending = false
			c.oldest = time.Time{}
		}
		c.mu.Unlock()
		if n > 0 && c.done != nil {
			c.done(n, oldest)
		}
	}
}
