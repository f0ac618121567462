// Package sessiontest has test helpers for code built on package session: a
// loopback TCP proxy that sits between a ZooKeeper client and server and
// injects faults (cut every connection, freeze traffic, lose the reply to the
// next create request).
package sessiontest

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// ZooKeeper opcodes of the requests that create znodes (ZooDefs.OpCode).
const (
	opCreate  = 1
	opMulti   = 14
	opCreate2 = 15
)

// Proxy forwards TCP connections from a loopback port to one ZooKeeper
// server. All methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	frozen     bool
	holdReply  bool // server-to-client traffic held back (during a create cut)
	armCreate  int  // create requests still to cut after
	accepted   int
	cutCreates int
	closed     bool
	wg         sync.WaitGroup
}

// NewProxy listens on 127.0.0.1 (a free port) and forwards to target. It is
// closed on t's cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sessiontest: listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's host:port, to give to the client.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted returns how many client connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// CutCreates returns how many create requests had their reply cut off.
func (p *Proxy) CutCreates() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cutCreates
}

// Cut closes every open connection (clients may reconnect).
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Freeze stops forwarding bytes in both directions, on open and new
// connections, as a paused or partitioned server would look; Thaw resumes.
func (p *Proxy) Freeze() { p.mu.Lock(); p.frozen = true; p.mu.Unlock() }

// Thaw resumes forwarding after Freeze.
func (p *Proxy) Thaw() { p.mu.Lock(); p.frozen = false; p.mu.Unlock() }

// CutAfterNextCreate arms the proxy: once the next create request (create,
// create2 or multi) has been passed to the server, every connection is cut
// before the reply can reach the client. Calls add up: n calls cut after
// each of the next n such requests.
func (p *Proxy) CutAfterNextCreate() { p.mu.Lock(); p.armCreate++; p.mu.Unlock() }

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.accepted++
		p.conns[c] = struct{}{}
		p.conns[s] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.clientToServer(c, s); p.drop(c, s) }()
		go func() { defer p.wg.Done(); p.pump(s, c, true); p.drop(c, s) }()
	}
}

func (p *Proxy) drop(a, b net.Conn) {
	a.Close()
	b.Close()
	p.mu.Lock()
	delete(p.conns, a)
	delete(p.conns, b)
	p.mu.Unlock()
}

// waitThawed blocks while the proxy is frozen (or, for replies, held);
// false if it was closed.
func (p *Proxy) waitThawed(reply bool) bool {
	for {
		p.mu.Lock()
		frozen, closed := p.frozen || reply && p.holdReply, p.closed
		p.mu.Unlock()
		if closed {
			return false
		}
		if !frozen {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pump copies src to dst, honouring Freeze.
func (p *Proxy) pump(src, dst net.Conn, reply bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitThawed(reply) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// clientToServer copies whole frames (int32 length + body) from the client,
// so that it can recognise create requests. The first frame of a connection
// is the connect request, which has no request header.
func (p *Proxy) clientToServer(c, s net.Conn) {
	first := true
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		if !p.waitThawed(false) {
			return
		}
		if first {
			first = false
			if _, err := s.Write(append(hdr[:], body...)); err != nil {
				return
			}
			continue
		}
		armed := false
		if len(body) >= 8 {
			op := int32(binary.BigEndian.Uint32(body[4:8]))
			if op == opCreate || op == opCreate2 || op == opMulti {
				p.mu.Lock()
				armed = p.armCreate > 0
				if armed {
					p.armCreate--
					p.cutCreates++
					p.holdReply = true // the reply must not get through
				}
				p.mu.Unlock()
			}
		}
		if _, err := s.Write(append(hdr[:], body...)); err != nil {
			return
		}
		if armed {
			// Give the server time to read and apply the request, then cut
			// before its reply (held back meanwhile) reaches the client.
			time.Sleep(200 * time.Millisecond)
			p.Cut()
			p.mu.Lock()
			p.holdReply = false
			p.mu.Unlock()
			return
		}
	}
}
