package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stock-system/stocksys/tasks"
	"path"
	"sync"
	"time"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
	"go.uber.org/zap"
)

// DefaultRoot returns the default root of a cluster, /stocksys/<cluster>.
func DefaultRoot(cluster string) string { return "/stocksys/" + cluster }

// Member registers one node. Create it with New and call Run. Methods are
// safe for concurrent use.
type Member struct {
	cfg     Config
	log     *zap.Logger
	path    string
	started time.Time

	mu         sync.Mutex
	s          *session.Session // current session, nil when not registered
	capacity   int
	registered chan struct{}  // closed while registered in the current session
	previous   map[int64]bool // our earlier sessions
}

// New validates cfg (without touching ZooKeeper) and returns a Member. It
// fails with ErrInvalidConfig (wrapping session.ErrInvalidNodeID for a bad
// id).
func New(cfg Config) (*Member, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Member{
		cfg: cfg, log: cfg.Logger.With(zap.String("node", cfg.NodeID)),
		path: path.Join(cfg.Root, "members", cfg.NodeID), started: time.Now(),
		capacity: cfg.Capacity, registered: make(chan struct{}), previous: map[int64]bool{},
	}, nil
}

// Registered returns a channel that is closed once the node is registered
// in its current session. After a session loss, a new channel is used.
func (m *Member) Registered() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.registered
}

// Info returns what the node publishes now, and whether it is registered.
func (m *Member) Info() (tasks.MemberDoc, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sid int64
	if m.s != nil {
		sid = m.s.ID()
	}
	return m.info(sid), m.s != nil
}

func (m *Member) info(sid int64) tasks.MemberDoc {
	return tasks.MemberDoc{ID: m.cfg.NodeID, Addr: m.cfg.Addr, Session: session.SessionID(sid), Started: m.started,
		Version: m.cfg.Version, Capacity: m.capacity}
}

// SetCapacity changes the published capacity. Watchers see an Update. If the
// node is not registered now, the value is published at the next
// registration. It returns the ZooKeeper error of the write, if any.
func (m *Member) SetCapacity(ctx context.Context, capacity int) error {
	if capacity < 0 {
		return fmt.Errorf("%w: capacity %d is negative", ErrInvalidConfig, capacity)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	m.capacity = capacity
	s := m.s
	var data []byte
	if s != nil {
		data, _ = json.Marshal(m.info(s.ID()))
	}
	m.mu.Unlock()
	if s == nil {
		return nil
	}
	// Set with version -1 is safe: only our session holds the znode.
	if _, err := s.Conn().Set(m.path, data, -1); err != nil {
		return fmt.Errorf("membership: set capacity of %s: %w", m.cfg.NodeID, err)
	}
	return nil
}

// Run registers the node and keeps it registered until ctx is done,
// opening a new session and registering again after each expiry. On return
// it closes its session, which deletes its znode. It returns nil when ctx is
// done, ErrDuplicateID if another live node holds the id,
// session.ErrTimeoutOutOfRange, or (wrapped, naming the znode) zkapi.ErrNoAuth
// when the cluster's ACLs do not let this session's identity register
// (Config.Session.Auth).
func (m *Member) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		s, err := session.New(ctx, m.cfg.Session)
		if errors.Is(err, session.ErrTimeoutOutOfRange) || errors.Is(err, session.ErrInvalidConfig) {
			return err
		}
		if err != nil {
			m.log.Warn("membership: no session; retrying", zap.Error(err), zap.Duration("backoff", backoff))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		err = m.register(ctx, s)
		if err != nil {
			s.Close()
			if errors.Is(err, ErrDuplicateID) || errors.Is(err, zkapi.ErrNoAuth) {
				return err
			}
			continue
		}
		m.mu.Lock()
		m.s = s
		close(m.registered)
		m.mu.Unlock()
		m.log.Info("membership: registered", zap.String("path", m.path), zap.String("session", hexID(s.ID())))
		select {
		case <-ctx.Done():
			m.unregister(s)
		case <-s.Done():
			m.log.Warn("membership: session lost; registering again", zap.Error(s.Err()))
		}
		m.mu.Lock()
		m.s = nil
		m.registered = make(chan struct{})
		m.previous[s.ID()] = true
		m.mu.Unlock()
		s.Close()
	}
	return nil
}

// unregister leaves at once rather than at session expiry: it closes the
// session, and ZooKeeper deletes our ephemeral znode in the same transaction
// as the close (one write, which watchers see as the node leaving, where a
// Delete before the close took two). go-zookeeper waits up to 1 s for the
// server's answer to the close.
func (m *Member) unregister(s *session.Session) {
	s.Close()
}

// register creates members/<id> for session s (see the package doc).
func (m *Member) register(ctx context.Context, s *session.Session) error {
	conn := s.Conn()
	acl := zkapi.OpenACL()
	for ctx.Err() == nil {
		select {
		case <-s.Done():
			return fmt.Errorf("%w: %w", ErrSessionLost, s.Err())
		default:
		}
		if err := session.EnsurePath(conn, path.Dir(m.path), nil); err != nil {
			if errors.Is(err, zkapi.ErrNoAuth) { // retrying cannot help
				return fmt.Errorf("membership: register %s: %w", m.path, err)
			}
			if err := m.pause(ctx, s, err); err != nil {
				return err
			}
			continue
		}
		m.mu.Lock()
		data, _ := json.Marshal(m.info(s.ID()))
		m.mu.Unlock()
		_, err := conn.Create(m.path, data, zkapi.FlagEphemeral, acl)
		if err == nil {
			return nil
		}
		if errors.Is(err, zkapi.ErrNoAuth) {
			return fmt.Errorf("membership: register %s: %w", m.path, err)
		}
		if !errors.Is(err, zkapi.ErrNodeExists) {
			if err := m.pause(ctx, s, err); err != nil {
				return err
			}
			continue
		}
		held, st, err := conn.Get(m.path)
		if errors.Is(err, zkapi.ErrNoNode) {
			continue
		}
		if err != nil {
			if err := m.pause(ctx, s, err); err != nil {
				return err
			}
			continue
		}
		owner := st.EphemeralOwner
		if owner == s.ID() { // ours: the reply to an earlier create was lost
			if _, err := conn.Set(m.path, data, -1); err != nil {
				continue
			}
			return nil
		}
		var holder tasks.MemberDoc
		_ = json.Unmarshal(held, &holder)
		m.mu.Lock()
		ours := m.previous[owner]
		m.mu.Unlock()
		if !ours && (m.cfg.Addr == "" || holder.Addr != m.cfg.Addr) {
			return fmt.Errorf("%w: %s is held by session %s (addr %q, started %v)",
				ErrDuplicateID, m.path, hexID(owner), holder.Addr, holder.Started.Format(time.RFC3339))
		}
		m.log.Info("membership: waiting for a stale registration to expire",
			zap.String("path", m.path), zap.String("holder", hexID(owner)))
		ok, _, ch, err := conn.ExistsW(m.path)
		if err != nil {
			if err := m.pause(ctx, s, err); err != nil {
				return err
			}
			continue
		}
		if ok {
			select {
			case <-ch:
			case <-ctx.Done():
			case <-s.Done():
			}
		}
	}
	return ctx.Err()
}

// pause handles a failed request: session errors end registration in this
// session; others are retried after 100 ms.
func (m *Member) pause(ctx context.Context, s *session.Session, err error) error {
	if errors.Is(err, zkapi.ErrSessionExpired) || errors.Is(err, zkapi.ErrClosing) {
		return fmt.Errorf("%w: %w", ErrSessionLost, err)
	}
	m.log.Debug("membership: retrying", zap.Error(err))
	select {
	case <-time.After(100 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.Done():
		return fmt.Errorf("%w: %w", ErrSessionLost, s.Err())
	}
}

func hexID(id int64) string { return fmt.Sprintf("0x%x", id) }
