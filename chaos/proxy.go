package chaos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards TCP connections from a loopback port to one target on
// loopback. Blackhole cuts the link without closing anything: existing
// connections stay open but carry no bytes, new ones are accepted and held
// silent, as a network partition looks to both ends; Heal restores it (held
// connections are closed then, so clients reconnect). Only loopback
// addresses are accepted. Safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	cond    *sync.Cond
	holed   bool
	closed  bool
	conns   map[net.Conn]struct{}
	held    map[net.Conn]struct{} // accepted while blackholed
	wg      sync.WaitGroup
	accepts int
}

// NewProxy listens on listen (127.0.0.1:0 for a free port) and forwards to
// target; both must be loopback.
func NewProxy(listen, target string) (*Proxy, error) {
	for _, a := range []string{listen, target} {
		if err := checkLoopback(a); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("chaos: proxy listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// checkLoopback refuses any address that is not a loopback IP.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("chaos: %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("chaos: %q is not a loopback address: chaos only targets 127.0.0.1", addr)
	}
	return nil
}

// Addr returns the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Blackhole cuts the link (see Proxy).
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.holed = true
	p.mu.Unlock()
}

// Heal restores the link: held connections are closed (the client
// reconnects), live ones carry bytes again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.holed = false
	for c := range p.held {
		c.Close()
	}
	p.held = map[net.Conn]struct{}{}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Close stops the proxy and closes every connection. Idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	for c := range p.held {
		c.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.accepts++
		if p.holed {
			p.held[c] = struct{}{}
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		s, err := net.Dial("tcp", p.target)
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
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pump(c, s)
		go p.pump(s, c)
	}
}

// wait blocks while the link is blackholed; false once the proxy closed.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.holed && !p.closed {
		p.cond.Wait()
	}
	return !p.closed
}

func (p *Proxy) pump(src, dst net.Conn) {
	defer p.wg.Done()
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			// Bytes read during a blackhole are dropped, as on a cut link.
			p.mu.Lock()
			holed := p.holed
			p.mu.Unlock()
			if holed {
				if !p.wait() {
					return
				}
				continue
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}
