package membership

import "github.com/stock-system/stocksys/session"

// Session returns the session the node is registered in now, or nil when it
// is not registered (before the first registration, and between a session's
// loss and the next registration). A node runs the rest of its work (worker,
// election candidate) on this session, so that all of it ends with the
// registration. Safe for concurrent use.
func (m *Member) Session() *session.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s
}
