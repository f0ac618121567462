package stream

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/quote"
)

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// blackHole listens on loopback, accepts connections and reads everything
// but never answers: a broker that is paused (SIGSTOP) or behind a dead link.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

func testQuotes(n int, symbols ...string) []quote.Quote {
	base := time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC)
	qs := make([]quote.Quote, n)
	for i := range qs {
		p := 100 + float64(i)/100
		qs[i] = quote.Quote{
			Symbol: symbols[i%len(symbols)],
			TS:     base.Add(time.Duration(i/len(symbols)) * time.Minute),
			Open:   p, High: p + 0.5, Low: p - 0.5, Close: p + 0.25,
			Volume: int64(1000 + i),
			Source: "test",
		}
		if i%2 == 0 {
			qs[i].Bid, qs[i].Ask = f64(p-0.01), f64(p+0.01)
		}
	}
	return qs
}

// TestSendBoundedUnreachable: Send to a closed port, and to a broker that
// never answers, returns an error within SendTimeout; Close then releases
// everything (TestMain checks for leaked goroutines).
func TestSendBoundedUnreachable(t *testing.T) {
	const sendTimeout = 1500 * time.Millisecond
	const slack = time.Second // scheduling on a loaded 2-core machine
	for _, tt := range []struct {
		name    string
		addr    func(*testing.T) string
		timeout bool // want ErrSendTimeout (else the connection error)
	}{
		{"closed port", closedPort, false},
		{"black hole", blackHole, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Brokers = []string{tt.addr(t)}
			cfg.SendTimeout = sendTimeout
			p, err := NewProducer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // the second Send tries to connect again
				start := time.Now()
				err := p.Send(context.Background(), 7, "node-1", "fetch/SPY", testQuotes(3, "SPY"))
				elapsed := time.Since(start)
				t.Logf("send %d: %v after %v", i, err, elapsed)
				if err == nil || errors.Is(err, ErrSendTimeout) != tt.timeout {
					t.Fatalf("send %d = %v; want an error, ErrSendTimeout: %v", i, err, tt.timeout)
				}
				if elapsed > sendTimeout+slack {
					t.Fatalf("send %d took %v; want at most SendTimeout %v (+%v slack)", i, elapsed, sendTimeout, slack)
				}
			}
			// A shorter ctx bounds Send too, and its error says so.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = p.Send(ctx, 7, "node-1", "fetch/SPY", testQuotes(1, "SPY"))
			if tt.timeout && (!errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 200*time.Millisecond+slack) {
				t.Fatalf("send with 200ms ctx = %v after %v; want DeadlineExceeded", err, time.Since(start))
			}
			start = time.Now()
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("close took %v", time.Since(start))
			if err := p.Close(); err != nil { // idempotent
				t.Fatal(err)
			}
			if err := p.Send(context.Background(), 7, "n", "t", testQuotes(1, "SPY")); !errors.Is(err, ErrClosed) {
				t.Fatalf("send after close = %v; want ErrClosed", err)
			}
		})
	}
}

func TestSendEncodeErrorSendsNothing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Brokers = []string{closedPort(t)}
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	qs := testQuotes(2, "SPY")
	qs[1].Symbol = ""
	start := time.Now()
	err = p.Send(context.Background(), 1, "n", "t", qs)
	if !errors.Is(err, ErrMissingField) || err.Error() != "stream: send quote 1: encode: stream: missing field: symbol" {
		t.Fatalf("Send = %v; want the encode error of quote 1", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatalf("Send with a bad quote took %v; want an immediate error", time.Since(start))
	}
	if _, err := NewProducer(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewProducer(Config{}) = %v; want ErrInvalidConfig", err)
	}
}

// TestConsumeUnreachableStops: ConsumePartition against brokers that refuse
// or never answer keeps retrying, calls no handler, and returns nil soon
// after ctx is done: at once for refused connections, within a few
// SendTimeouts for a broker that never answers (sarama's metadata retries
// cannot be interrupted; see ConsumePartition).
func TestConsumeUnreachableStops(t *testing.T) {
	for _, tt := range []struct {
		name string
		addr func(*testing.T) string
	}{{"closed port", closedPort}, {"black hole", blackHole}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Brokers = []string{tt.addr(t)}
			cfg.SendTimeout = 500 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			calls := 0
			start := time.Now()
			err := ConsumePartition(ctx, cfg, 0, 0, func(context.Context, Batch) error { calls++; return nil })
			elapsed := time.Since(start)
			t.Logf("returned %v after %v", err, elapsed)
			if err != nil || calls != 0 {
				t.Fatalf("ConsumePartition = %v with %d handler calls; want nil, 0", err, calls)
			}
			if bound := 500*time.Millisecond + 3*cfg.SendTimeout + time.Second; elapsed > bound {
				t.Fatalf("ConsumePartition returned %v after start; want within %v", elapsed, bound)
			}
		})
	}
}
