package worker

import (
	"context"
	"testing"

	"github.com/stock-system/stocksys/tasks"
)

// Active needs a live context and a safe session; Safe needs only the
// session: a stopping runner may still finish its last fenced commit.
func TestRunActiveAndSafe(t *testing.T) {
	live := context.Background()
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name             string
		ctx              context.Context
		safe             bool
		active, wantSafe bool
	}{
		{"running", live, true, true, true},
		{"revoked or stopping", stopped, true, false, true},
		{"past the safe deadline", live, false, false, false},
		{"stopped past the safe deadline", stopped, false, false, false},
	} {
		safe := c.safe
		r := &Run{Task: tasks.IngestTask(0), ctx: c.ctx, safe: func() bool { return safe }}
		if got := r.Active(); got != c.active {
			t.Errorf("%s: Active() = %v, want %v", c.name, got, c.active)
		}
		if got := r.Safe(); got != c.wantSafe {
			t.Errorf("%s: Safe() = %v, want %v", c.name, got, c.wantSafe)
		}
	}
}
