package node

import (
	"testing"
	"time"

	"github.com/stock-system/stocksys/status"
)

// sameTerms tells the console feed when it may reuse the terms history of
// its previous event: not once the failover document gained its
// all_running (written after the first assignment), or its prev_ended.
func TestSameTermsFollowsTheFailoverPhases(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	later := at.Add(40 * time.Millisecond)
	rep := func(allRunning, prevEnded *time.Time) *status.Report {
		return &status.Report{Master: &status.Master{ID: "node-2", Epoch: 2, Session: "0x1"},
			LastFailover: &status.Failover{Epoch: 2, FirstAssignment: at, AllRunning: allRunning, PrevEnded: prevEnded}}
	}
	for _, tt := range []struct {
		name string
		a, b *status.Report
		want bool
	}{
		{"unchanged", rep(nil, nil), rep(nil, nil), true},
		{"all running recorded", rep(nil, nil), rep(&later, nil), false},
		{"all running the same", rep(&later, &at), rep(&later, &at), true},
		{"all running moved", rep(&at, nil), rep(&later, nil), false},
		{"previous term's end recorded", rep(&later, nil), rep(&later, &at), false},
		{"new master", rep(nil, nil), &status.Report{Master: &status.Master{ID: "node-3", Epoch: 3, Session: "0x2"}}, false},
	} {
		if got := sameTerms(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: sameTerms = %v; want %v", tt.name, got, tt.want)
		}
	}
}
