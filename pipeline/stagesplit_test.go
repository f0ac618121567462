package pipeline_test

import (
	"testing"
	"time"

	"github.com/stock-system/stocksys/pipeline"
)

// StageSplit: the three parts of a message's readable latency add up to it,
// the wait is the overlap with the previous batch, and odd clocks give no
// negative part.
func TestStageSplit(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var none time.Time
	for _, tt := range []struct {
		name                         string
		ts, prevEnd, start, end      time.Time
		delivery, wait, write, total int // ms
	}{
		{"idle ingest: all delivery", at(0), at(-50), at(4), at(10), 4, 0, 6, 10},
		{"first batch of a run", at(0), none, at(4), at(10), 4, 0, 6, 10},
		{"produced while the previous batch was written", at(0), at(30), at(31), at(50), 1, 30, 19, 50},
		{"previous batch ended as this one began", at(0), at(31), at(31), at(50), 0, 31, 19, 50},
		{"timestamp after the batch began (another clock)", at(5), at(0), at(3), at(9), 0, 0, 6, 4},
	} {
		d, w, wr := pipeline.StageSplit(tt.ts, tt.prevEnd, tt.start, tt.end)
		ms := time.Millisecond
		if d != time.Duration(tt.delivery)*ms || w != time.Duration(tt.wait)*ms || wr != time.Duration(tt.write)*ms {
			t.Errorf("%s: delivery %v wait %v write %v; want %d, %d, %d ms", tt.name, d, w, wr, tt.delivery, tt.wait, tt.write)
		}
		if tt.ts.Before(tt.start) && d+w+wr != tt.end.Sub(tt.ts) {
			t.Errorf("%s: parts add up to %v; want the readable latency %v", tt.name, d+w+wr, tt.end.Sub(tt.ts))
		}
	}
}
