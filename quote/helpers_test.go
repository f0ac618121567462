package quote

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

// sharedFixture is testenv.SharedFixture.
func sharedFixture(t *testing.T, rel string) string { return testenv.SharedFixture(t, rel) }

func readFixture(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(sharedFixture(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeClock is a Clock whose Sleep advances its time at once, recording the
// durations slept.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

func utc(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
}

func fp(v float64) *float64 { return &v }
