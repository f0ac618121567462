package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stock-system/stocksys/session"
	"go.uber.org/zap"
)

// Run campaigns until ctx is done: it opens a session with scfg, campaigns
// with cfg, and calls lead with each term won. lead runs master work under
// term.Context() and must return once that context is done (Run waits for
// it before campaigning again; cancelling ctx ends the term too). When a session is lost Run opens a new one;
// when a term ends and the session lives, it campaigns again on the same
// candidate znode. Run returns ctx's error, or at once an invalid-config
// error (checked before any connection) or session.ErrTimeoutOutOfRange.
// On return it has resigned and closed its session.
func Run(ctx context.Context, scfg session.Config, cfg Config, lead func(*Term)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := scfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		s, err := session.New(ctx, scfg)
		if errors.Is(err, session.ErrTimeoutOutOfRange) || errors.Is(err, session.ErrInvalidConfig) {
			return err
		}
		if err != nil {
			log.Warn("election: no session; retrying", zap.Error(err), zap.Duration("backoff", backoff))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		runSession(ctx, s, cfg, lead)
		s.Close()
	}
	return ctx.Err()
}

// runSession campaigns on s until the session is lost or ctx is done.
func runSession(ctx context.Context, s *session.Session, cfg Config, lead func(*Term)) {
	c, err := NewCandidate(s, cfg)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		t, err := c.Campaign(ctx)
		if err != nil {
			return // ctx done or session lost (transient errors are retried inside)
		}
		// Cancelling ctx ends the term, so that lead returns.
		stop := context.AfterFunc(ctx, func() { t.end(fmt.Errorf("%w: %w", ErrResigned, ctx.Err())) })
		lead(t)
		stop()
		select {
		case <-t.Done():
		case <-ctx.Done():
			return
		}
	}
}
