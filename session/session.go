package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"

	"github.com/stock-system/stocksys/zkapi"
)

// Session is one ZooKeeper session. See the package doc for the recipe and
// guarantees. All methods are safe for concurrent use.
type Session struct {
	conn    *zk.Conn
	zconn   zkapi.Conn // conn, creating with Config.ACL when set
	log     *zap.Logger
	id      int64
	timeout time.Duration // negotiated
	hs      *handshake

	state atomic.Int32 // zk.State

	mu         sync.Mutex
	lastHeard  time.Time     // send time of the latest answered heartbeat
	unsafe     chan struct{} // closed when the current safe period ends
	reconnect  chan struct{} // closed at the next reconnect
	err        error         // why done was closed
	wasDropped bool          // disconnected since the last StateHasSession
	kick       chan struct{} // wakes the watchdog after lastHeard moves

	done      chan struct{}
	doneOnce  sync.Once
	closing   chan struct{} // closed when the Conn is being closed
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New connects to cfg.Servers and blocks until a session is established, ctx
// is done, or cfg.ConnectTimeout passes. It fails with ErrInvalidConfig,
// ErrTimeoutOutOfRange (the server granted another timeout; the message names
// the server's range), ErrConnect, or ctx's error. On success the session has
// been heard from (Safe is true) and its goroutines run until Close.
func New(ctx context.Context, cfg Config) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Session{
		log:       cfg.Logger,
		hs:        &handshake{},
		unsafe:    make(chan struct{}),
		reconnect: make(chan struct{}),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		closing:   make(chan struct{}),
	}
	s.hs.onExpire = func() { s.finish(ErrExpired) }
	conn, events, err := zk.Connect(cfg.Servers, cfg.Timeout,
		zk.WithDialer(s.hs.dial), zk.WithLogger(zkLogger{cfg.Logger}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	s.conn = conn
	s.zconn = zkapi.WithACL(conn, cfg.ACLRoot, cfg.ACL)

	// Wait for the first session, draining events meanwhile.
	timer := time.NewTimer(cfg.ConnectTimeout)
	defer timer.Stop()
	for established := false; !established; {
		select {
		case ev := <-events:
			s.state.Store(int32(ev.State))
			established = ev.State == zk.StateHasSession
		case <-timer.C:
			conn.Close()
			return nil, fmt.Errorf("%w: none within %v from %v (state %v)", ErrConnect, cfg.ConnectTimeout, cfg.Servers, conn.State())
		case <-ctx.Done():
			conn.Close()
			return nil, ctx.Err()
		}
	}
	s.id = conn.SessionID()
	s.timeout = time.Duration(s.hs.timeout.Load()) * time.Millisecond
	if s.timeout != cfg.Timeout {
		conn.Close()
		lo, hi, rerr := serverTimeoutRange(ctx, cfg.Servers)
		if rerr != nil {
			return nil, fmt.Errorf("%w: requested %v, server granted %v (range unknown: %v)", ErrTimeoutOutOfRange, cfg.Timeout, s.timeout, rerr)
		}
		return nil, fmt.Errorf("%w: requested %v, server allows %v..%v (granted %v)", ErrTimeoutOutOfRange, cfg.Timeout, lo, hi, s.timeout)
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.eventLoop(events) }()

	sent := time.Now()
	if _, err := conn.Sync("/"); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: first heartbeat: %v", ErrConnect, err)
	}
	s.heard(sent)
	if cfg.Auth != nil {
		if err := zkapi.Authenticate(conn, *cfg.Auth); err != nil {
			s.Close()
			return nil, fmt.Errorf("%w: %v", ErrConnect, err)
		}
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.heartbeatLoop() }()
	go func() { defer s.wg.Done(); s.watchdog() }()
	s.log.Info("zookeeper session established", zap.String("session", fmt.Sprintf("0x%x", s.id)),
		zap.Duration("timeout", s.timeout))
	return s, nil
}

// Conn returns the session's connection as the znode operations the
// cluster's packages use (zkapi.Conn; the only go-zookeeper type they see).
// Use it for reads and for writes of znodes this session owns; master writes
// go through election.Term.Fenced. Session.Close closes it.
//
// With Config.ACL set, every znode created through it gets that ACL.
func (s *Session) Conn() zkapi.Conn { return s.zconn }

// ID returns the ZooKeeper session id (the ephemeralOwner of the znodes this
// session creates). It does not change: a Session is one session.
func (s *Session) ID() int64 { return s.id }

// Timeout returns the session timeout the server negotiated (equal to
// Config.Timeout, or New would have failed).
func (s *Session) Timeout() time.Duration { return s.timeout }

// State returns the connection state as last reported by go-zookeeper.
func (s *Session) State() zk.State { return zk.State(s.state.Load()) }

// Done returns a channel closed when the session expires or is closed. It is
// closed by the session itself; it never blocks anyone.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns nil while Done is open, then ErrExpired or ErrClosed.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// SafeDeadline returns lastHeard + 2/3·Timeout, where lastHeard is the send
// time of the latest heartbeat that was answered (see the package doc).
func (s *Session) SafeDeadline() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastHeard.Add(s.timeout * 2 / 3)
}

// Safe reports whether the session is alive and now is before SafeDeadline,
// comparing with the clock directly (it does not wait for the watchdog).
func (s *Session) Safe() bool {
	select {
	case <-s.done:
		return false
	default:
	}
	return time.Now().Before(s.SafeDeadline())
}

// Unsafe returns a channel that is closed when the current safe period ends:
// when SafeDeadline passes or the session ends. If the session is unsafe now,
// the channel is already closed. A later safe period has a new channel, so
// take the channel when you start acting and stop when it closes.
func (s *Session) Unsafe() <-chan struct{} {
	if !s.Safe() {
		s.markUnsafe()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsafe
}

// Reconnected returns a channel closed the next time the connection is
// re-established (same session) after a disconnect. Watchers use it to
// re-list. It is never closed if the session ends first.
func (s *Session) Reconnected() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnect
}

// Close ends the session (its ephemeral znodes are deleted by the server) and
// waits for the session's goroutines. Idempotent; safe for concurrent use.
func (s *Session) Close() {
	s.finish(ErrClosed)
	s.closeConn()
	s.wg.Wait()
}

// closeConn closes the Conn once, in a goroutine of its own (zk.Conn.Close may
// block for a second, and the event loop must keep draining meanwhile).
func (s *Session) closeConn() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.conn.Close() }()
	})
}

// finish records why the session ended, closes done and the safe period.
func (s *Session) finish(err error) {
	s.doneOnce.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
		s.markUnsafe()
		if errors.Is(err, ErrExpired) {
			s.log.Warn("zookeeper session expired", zap.String("session", fmt.Sprintf("0x%x", s.id)))
		}
	})
}

func (s *Session) markUnsafe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.unsafe:
	default:
		close(s.unsafe)
	}
}

// heard records that a heartbeat sent at sent was answered.
func (s *Session) heard(sent time.Time) {
	select {
	case <-s.done:
		return
	default:
	}
	s.mu.Lock()
	if sent.After(s.lastHeard) {
		s.lastHeard = sent
	}
	deadline := s.lastHeard.Add(s.timeout * 2 / 3)
	select {
	case <-s.unsafe:
		if time.Now().Before(deadline) { // a new safe period begins
			s.unsafe = make(chan struct{})
			s.log.Info("zookeeper session safe again", zap.String("session", fmt.Sprintf("0x%x", s.id)))
		}
	default:
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Session) eventLoop(events <-chan zk.Event) {
	for ev := range events { // closed by go-zookeeper when the Conn is closed
		if ev.Type != zk.EventSession {
			continue
		}
		s.state.Store(int32(ev.State))
		switch ev.State {
		case zk.StateExpired:
			s.finish(ErrExpired)
		case zk.StateDisconnected:
			s.mu.Lock()
			s.wasDropped = true
			s.mu.Unlock()
		case zk.StateHasSession:
			s.mu.Lock()
			if s.wasDropped {
				s.wasDropped = false
				close(s.reconnect)
				s.reconnect = make(chan struct{})
			}
			s.mu.Unlock()
		}
		select {
		case <-s.done:
			s.closeConn()
		default:
		}
	}
}

// heartbeatLoop syncs "/" every Timeout/6 and records the send time of each
// answered sync.
func (s *Session) heartbeatLoop() {
	t := time.NewTicker(s.timeout / 6)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-s.done:
			s.closeConn()
			return
		case <-t.C:
		}
		sent := time.Now()
		if _, err := s.conn.Sync("/"); err == nil {
			s.heard(sent)
		}
	}
}

// watchdog closes the unsafe channel when the safe deadline passes.
func (s *Session) watchdog() {
	timer := time.NewTimer(time.Until(s.SafeDeadline()))
	defer timer.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-s.done:
			return
		case <-s.kick:
		case <-timer.C:
		}
		d := time.Until(s.SafeDeadline())
		if d <= 0 {
			s.mu.Lock()
			open := true
			select {
			case <-s.unsafe:
				open = false
			default:
			}
			s.mu.Unlock()
			if open {
				s.log.Warn("zookeeper session past its safe deadline", zap.String("session", fmt.Sprintf("0x%x", s.id)),
					zap.Duration("late", -d))
				s.markUnsafe()
			}
			d = s.timeout / 6 // re-check at heartbeat pace; kick wakes us sooner
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d)
	}
}

// zkLogger sends go-zookeeper's log lines to zap at debug level.
type zkLogger struct{ l *zap.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug(fmt.Sprintf(format, args...), zap.String("component", "go-zookeeper"))
}
