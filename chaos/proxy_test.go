package chaos

import (
	"bufio"
	"net"
	"testing"
	"time"
)

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, d time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestProxyBlackholeAndHeal(t *testing.T) {
	p, err := NewProxy("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, 2*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("before: %q, %v", got, err)
	}
	p.Blackhole()
	if got, err := roundTrip(c, r, 300*time.Millisecond); err == nil {
		t.Fatalf("blackholed: got %q; want a timeout", got)
	}
	c2, err := net.Dial("tcp", p.Addr()) // accepted, held silent
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := roundTrip(c2, bufio.NewReader(c2), 300*time.Millisecond); err == nil {
		t.Fatalf("new conn while blackholed: got %q; want a timeout", got)
	}
	p.Heal()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if got, err := roundTrip(c3, bufio.NewReader(c3), 2*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
}

func TestProxyRefusesNonLoopback(t *testing.T) {
	if _, err := NewProxy("127.0.0.1:0", "10.1.2.3:2181"); err == nil {
		t.Fatal("non-loopback target accepted")
	}
	if _, err := NewProxy("0.0.0.0:0", "127.0.0.1:2181"); err == nil {
		t.Fatal("non-loopback listen accepted")
	}
}
