package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSendBoundedBrokerStopsAnswering: after a successful Send, the broker
// (kfake, in-process) stops answering produce requests, as a paused
// (SIGSTOP) broker would. Send returns ErrSendTimeout within SendTimeout;
// once the broker answers again, Send succeeds and Close flushes.
func TestSendBoundedBrokerStopsAnswering(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "quotes"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cfg.SendTimeout = 1500 * time.Millisecond
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.Send(ctx, 1, "n", "t", testQuotes(4, "SPY", "QQQ")); err != nil {
		t.Fatalf("first send: %v", err)
	}

	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-release:
			c.DropControl()
		default:
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false // then handle the request normally
	})
	start := time.Now()
	err = p.Send(ctx, 1, "n", "t", testQuotes(4, "SPY", "QQQ"))
	elapsed := time.Since(start)
	if !errors.Is(err, ErrSendTimeout) || elapsed > cfg.SendTimeout+time.Second {
		t.Fatalf("send to a silent broker = %v after %v; want ErrSendTimeout within %v", err, elapsed, cfg.SendTimeout)
	}
	close(release)
	if err := p.Send(ctx, 1, "n", "t", testQuotes(4, "SPY", "QQQ")); err != nil {
		t.Fatalf("send after the broker recovered: %v", err)
	}
	start = time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("close took %v", time.Since(start))
}
