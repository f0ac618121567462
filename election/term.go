package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/session"
	"go.uber.org/zap"
)

// Term is one master term: the period during which this node is master
// with epoch Epoch. Its Context is cancelled, for good, when the session
// expires or closes, the session's safe deadline passes, a fenced write is
// rejected, or the node resigns. Run master work under Context and write to
// ZooKeeper only through Fenced. Safe for concurrent use.
type Term struct {
	// Epoch is the epoch this term was elected with (the content of the epoch
	// znode it wrote). Give it to workers and downstream stores, which refuse
	// older epochs.
	Epoch int64
	// Started is when the term was won (this node's clock): just before
	// the winning Multi was sent.
	Started time.Time
	// WinOps is how many ops of Config.WinOps the winning Multi applied
	// (0: none were given, or the Multi was sent again without them).
	WinOps int

	c            *Candidate
	epochVersion int32  // version of the epoch znode written by the win
	record       string // terms/ znode of this term, "" if unknown
	ctx          context.Context
	cancel       context.CancelCauseFunc
}

// Context returns a context cancelled when the term ends; context.Cause
// gives the reason (ErrFenced, session.ErrUnsafe, ErrSessionLost or
// ErrResigned).
func (t *Term) Context() context.Context { return t.ctx }

// Done is Context().Done(): closed when the term ends.
func (t *Term) Done() <-chan struct{} { return t.ctx.Done() }

// Err returns nil while the term is live, then why it ended.
func (t *Term) Err() error { return context.Cause(t.ctx) }

// end ends the term with cause (first cause wins).
func (t *Term) end(cause error) {
	if t.ctx.Err() == nil {
		t.cancel(cause)
		if !errors.Is(cause, ErrResigned) {
			t.c.log.Warn("election: term ended", zap.Int64("epoch", t.Epoch), zap.Error(context.Cause(t.ctx)))
		}
	}
}

// Fenced runs ops (*zk.CreateRequest, *zk.SetDataRequest, *zk.DeleteRequest,
// *zk.CheckVersionRequest) as one ZooKeeper Multi, preceded by a check that
// the epoch znode still has the version this term wrote. It is the only way
// a master writes to ZooKeeper. It returns the responses to ops (without the
// check's), or:
//
//   - ErrFenced, without sending anything, if the term has ended or the
//     session is past its safe deadline (which ends the term);
//   - ErrFenced wrapping zk.ErrBadVersion (or zk.ErrNoNode) if ZooKeeper
//     rejected the epoch check: a newer master exists; the term ends;
//   - ErrUnknownOutcome if the connection was lost with the Multi in flight
//     (the term ends too if the session is then found expired);
//   - ctx's error if ctx is done before sending;
//   - the first failing op's error otherwise (the term goes on).
//
// It blocks until ZooKeeper answers or the connection is lost (at most about
// 2/3 of the session timeout after the server falls silent).
func (t *Term) Fenced(ctx context.Context, ops ...any) (_ []zk.MultiResponse, outcome error) {
	if cause := context.Cause(t.ctx); cause != nil {
		return nil, t.fencedErr(cause)
	}
	if !t.c.noDeadline && !t.c.s.Safe() {
		t.end(session.ErrUnsafe)
		return nil, t.fencedErr(context.Cause(t.ctx))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all := make([]any, 0, len(ops)+1)
	all = append(all, &zk.CheckVersionRequest{Path: t.c.p.epoch, Version: t.epochVersion})
	all = append(all, ops...)
	sent := time.Now()
	resp, err := t.c.s.Conn().Multi(all...)
	if hook := t.c.cfg.OnFenced; hook != nil {
		defer func() { hook(t.Epoch, len(ops), sent, time.Now(), outcome) }()
	}
	if err == nil {
		return resp[1:], nil
	}
	if isConnErr(err) || isSessionErr(err) {
		if isSessionErr(err) {
			t.end(fmt.Errorf("%w: %w", ErrSessionLost, err))
		}
		return nil, fmt.Errorf("%w: epoch %d: %w", ErrUnknownOutcome, t.Epoch, err)
	}
	// Did the epoch check fail, or one of the caller's ops?
	checkErr := error(nil)
	if len(resp) > 0 {
		checkErr = resp[0].Error
	} else if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
		// No per-op results: read the epoch znode back to tell.
		if ok, st, rerr := t.c.s.Conn().Exists(t.c.p.epoch); rerr == nil && (!ok || st.Version != t.epochVersion) {
			checkErr = zk.ErrBadVersion
		}
	}
	if errors.Is(checkErr, zk.ErrBadVersion) || errors.Is(checkErr, zk.ErrNoNode) {
		t.end(fmt.Errorf("%w: epoch znode changed since epoch %d was won: %w", ErrFenced, t.Epoch, checkErr))
		return nil, t.fencedErr(context.Cause(t.ctx))
	}
	if len(resp) > 0 {
		resp = resp[1:]
	}
	return resp, fmt.Errorf("election: fenced write (epoch %d): %w", t.Epoch, err)
}

func (t *Term) fencedErr(cause error) error {
	if errors.Is(cause, ErrFenced) {
		return cause
	}
	return fmt.Errorf("%w: term of epoch %d ended: %w", ErrFenced, t.Epoch, cause)
}
