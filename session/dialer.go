package session

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// errRefuseDial is what the dialer returns once the session has expired, so
// that go-zookeeper cannot open a second session on the same *zk.Conn.
var errRefuseDial = errors.New("session: expired; not dialing a new session")

// handshake observes the connect responses of a *zk.Conn. go-zookeeper keeps
// the negotiated timeout private; the connect response is the first frame the
// server sends on every TCP connection:
//
//	int32 length | int32 protocolVersion | int32 timeOut (ms) | int64 sessionId | ...
//
// (ZooKeeper's ConnectResponse, jute-encoded, big-endian).
type handshake struct {
	expired  atomic.Bool  // a connect response carried session id 0
	timeout  atomic.Int32 // ms, from the latest connect response
	onExpire func()       // called once, synchronously, in the reader
	once     sync.Once
}

func (h *handshake) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	if h.expired.Load() {
		return nil, errRefuseDial
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, h: h}, nil
}

// watchedConn copies the first 20 bytes read from the server and decodes them.
type watchedConn struct {
	net.Conn
	h    *handshake
	head [20]byte
	n    int
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.n < len(c.head) && n > 0 {
		k := copy(c.head[c.n:], p[:n])
		c.n += k
		if c.n == len(c.head) {
			c.h.timeout.Store(int32(binary.BigEndian.Uint32(c.head[8:12])))
			if int64(binary.BigEndian.Uint64(c.head[12:20])) == 0 {
				c.h.expired.Store(true)
				c.h.once.Do(func() {
					if c.h.onExpire != nil {
						c.h.onExpire()
					}
				})
			}
		}
	}
	return n, err
}
