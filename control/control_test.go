package control

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func TestCheckErrorsNameTheInput(t *testing.T) {
	members := map[string]bool{"node-1": true, "node-2": true}
	s := State{Cordoned: map[string]Cordon{"node-2": {Drain: true}, "gone-3": {}}}
	cases := []struct {
		in   Intent
		want error
		text string
	}{
		{Intent{Action: "reboot"}, ErrUnknownAction, `"reboot"`},
		{Intent{Action: ActionCordon}, ErrBadIntent, "cordon without a node id"},
		{Intent{Action: ActionCordon, Node: "node-9"}, ErrUnknownNode, `"node-9"`},
		{Intent{Action: ActionDrain, Node: "node-2"}, ErrAlreadyDrained, `"node-2"`},
		{Intent{Action: ActionCordon, Node: "node-2"}, ErrAlreadyDrained, `"node-2"`},
		{Intent{Action: ActionUncordon, Node: "node-1"}, ErrNotCordoned, `"node-1"`},
		{Intent{Action: ActionUncordon, Node: "node-7"}, ErrUnknownNode, `"node-7"`},
		{Intent{Action: ActionMaintenanceEnter, Reason: "  "}, ErrEmptyReason, "--reason"},
		{Intent{Action: ActionMaintenanceExit}, ErrNotInMaintenance, "not in maintenance"},
		{Intent{Action: ActionMaintenanceExit, Node: "node-1"}, ErrBadIntent, `"node-1"`},
	}
	for _, c := range cases {
		err := Check(s, Known{Members: members}, c.in)
		if !errors.Is(err, c.want) || !contains(err.Error(), c.text) {
			t.Errorf("Check(%+v) = %v; want %v naming %s", c.in, err, c.want, c.text)
		}
	}
	// Allowed: uncordon of a cordoned node that is no member now; drain of a cordoned one.
	s.Cordoned["node-1"] = Cordon{}
	for _, in := range []Intent{{Action: ActionUncordon, Node: "gone-3"}, {Action: ActionDrain, Node: "node-1"},
		{Action: ActionMaintenanceEnter, Reason: "upgrade"}} {
		if err := Check(s, Known{Members: members}, in); err != nil {
			t.Errorf("Check(%+v) = %v; want nil", in, err)
		}
	}
	s.Maintenance = &Mark{By: "a@b", Reason: "x"}
	if err := Check(s, Known{Members: members}, Intent{Action: ActionMaintenanceEnter, Reason: "y"}); !errors.Is(err, ErrInMaintenance) || !contains(err.Error(), "a@b") {
		t.Errorf("second enter: %v; want ErrInMaintenance naming who entered", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// Apply goes in sequence order (the znode names' numbers), checks each
// intent against the state so far, and leaves its input unchanged.
func TestApplyInSequenceOrder(t *testing.T) {
	s := State{Cordoned: map[string]Cordon{}}
	members := map[string]bool{"n1": true}
	ps := []Pending{
		{ID: "i-0000000010", Intent: Intent{Action: ActionUncordon, Node: "n1", By: "b"}},
		{ID: "i-0000000009", Intent: Intent{Action: ActionCordon, Node: "n1", By: "a", Reason: "r"}},
		{ID: "i-0000000011", Intent: Intent{Action: ActionUncordon, Node: "n1", By: "c"}},
	}
	next, recs := Apply(s, ps, Known{Members: members}, nil, 4, t0)
	if len(s.Cordoned) != 0 {
		t.Fatalf("Apply changed its input: %+v", s)
	}
	got := ""
	for _, r := range recs {
		got += fmt.Sprintf("%s:%s ", r.ID, r.Result)
	}
	if got != "i-0000000009:applied i-0000000010:applied i-0000000011:rejected " {
		t.Fatalf("records %s; want 9 and 10 applied, 11 rejected (not cordoned any more)", got)
	}
	if len(next.Cordoned) != 0 || next.Epoch != 0 {
		t.Fatalf("state %+v; want nothing cordoned and, unchanged overall, not restamped", next)
	}
	next, _ = Apply(s, ps[1:2], Known{Members: members}, nil, 4, t0)
	if c := next.Cordoned["n1"]; c.By != "a" || c.Reason != "r" || c.Intent != "i-0000000009" || next.Epoch != 4 || !next.Written.Equal(t0) {
		t.Fatalf("state %+v; want n1 cordoned by a, stamped epoch 4", next)
	}
}

func TestHistoryKeepsTheLast100(t *testing.T) {
	var h History
	for i := range 130 {
		h = h.Append(Record{ID: fmt.Sprintf("i-%010d", i)})
	}
	if len(h.Actions) != MaxHistory || h.Actions[0].ID != "i-0000000030" || h.Actions[99].ID != "i-0000000129" {
		t.Fatalf("history of %d from %s to %s; want the last 100, 30..129", len(h.Actions), h.Actions[0].ID, h.Actions[len(h.Actions)-1].ID)
	}
}

// Task actions: each error names the task; pause -> resume -> restart
// change the state as documented, and a restart records the task's owner.
func TestTaskActions(t *testing.T) {
	k := Known{Members: map[string]bool{"node-1": true}, Tasks: map[string]bool{"fetch/SPY": true, "ingest/0": true}}
	s := State{Cordoned: map[string]Cordon{}, Paused: map[string]Mark{"ingest/0": {By: "a@b"}}}
	for _, c := range []struct {
		in   Intent
		want error
		text string
	}{
		{Intent{Action: ActionPause}, ErrBadIntent, "pause without a task id"},
		{Intent{Action: ActionPause, Task: "fetch/not a symbol"}, ErrBadIntent, `"not a symbol"`},
		{Intent{Action: ActionPause, Task: "compact/SPY"}, ErrBadIntent, `"compact"`},
		{Intent{Action: ActionPause, Task: "fetch/QQQ"}, ErrUnknownTask, `"fetch/QQQ"`},
		{Intent{Action: ActionPause, Task: "ingest/0"}, ErrAlreadyPaused, "a@b"},
		{Intent{Action: ActionResume, Task: "fetch/SPY"}, ErrNotPaused, `"fetch/SPY"`},
		{Intent{Action: ActionResume, Task: "fetch/QQQ"}, ErrUnknownTask, `"fetch/QQQ"`},
		{Intent{Action: ActionRestart, Task: "ingest/0"}, ErrTaskPaused, "resume it"},
		{Intent{Action: ActionRestart, Task: "fetch/QQQ"}, ErrUnknownTask, `"fetch/QQQ"`},
		{Intent{Action: ActionCordon, Node: "node-1", Task: "fetch/SPY"}, ErrBadIntent, `"fetch/SPY"`},
		{Intent{Action: ActionPause, Task: "fetch/SPY", Node: "node-1"}, ErrBadIntent, `"node-1"`},
	} {
		if err := Check(s, k, c.in); !errors.Is(err, c.want) || !contains(err.Error(), c.text) {
			t.Errorf("Check(%+v) = %v; want %v naming %s", c.in, err, c.want, c.text)
		}
	}
	ps := []Pending{
		{ID: "i-0000000001", Intent: Intent{Action: ActionPause, Task: "fetch/SPY", By: "op@h", Reason: "bad feed"}},
		{ID: "i-0000000002", Intent: Intent{Action: ActionResume, Task: "ingest/0", By: "op@h"}},
		{ID: "i-0000000003", Intent: Intent{Action: ActionRestart, Task: "ingest/0", By: "op@h"}},
		{ID: "i-0000000004", Intent: Intent{Action: ActionRestart, Task: "ingest/0", By: "op@h"}},
		{ID: "i-0000000005", Intent: Intent{Action: ActionRestart, Task: "fetch/SPY", By: "op@h"}},
	}
	next, recs := Apply(s, ps, k, func(task string) string { return "node-1" }, 7, t0)
	results := make([]string, len(recs))
	for i, r := range recs {
		results[i] = r.Result
	}
	if got := strings.Join(results, " "); got != "applied applied applied rejected rejected" {
		t.Fatalf("results %s; want applied applied applied rejected rejected (%+v)", got, recs)
	}
	if !errors.Is(errors.New(recs[3].Error), ErrRestarting) && !contains(recs[3].Error, "already restarting") {
		t.Errorf("second restart rejected with %q; want already restarting", recs[3].Error)
	}
	if m, ok := next.Paused["fetch/SPY"]; !ok || m.Reason != "bad feed" || m.Intent != "i-0000000001" || next.IsPaused("ingest/0") {
		t.Fatalf("paused %+v; want fetch/SPY (bad feed, i-0000000001) alone", next.Paused)
	}
	if r, ok := next.Restarting["ingest/0"]; !ok || r.Owner != "node-1" || len(next.Restarting) != 1 {
		t.Fatalf("restarting %+v; want ingest/0 from node-1", next.Restarting)
	}
	if next.Epoch != 7 || next.Equal(s) || !next.Clone().Equal(next) {
		t.Fatalf("state after task actions: epoch %d, equal to the old %v", next.Epoch, next.Equal(s))
	}
	if !s.IsPaused("ingest/0") || len(s.Restarting) != 0 {
		t.Fatalf("Apply changed its input: %+v", s)
	}
}

// In maintenance every task action is refused (it would be "applied" and
// do nothing); reasons and bys are bounded, and a record clips them.
func TestTaskActionsInMaintenanceAndLimits(t *testing.T) {
	k := Known{Members: map[string]bool{"node-1": true}, Tasks: map[string]bool{"fetch/SPY": true}}
	s := State{Cordoned: map[string]Cordon{}, Paused: map[string]Mark{}, Maintenance: &Mark{By: "a@b", Reason: "upgrade"}}
	for _, a := range []Action{ActionPause, ActionResume, ActionRestart} {
		if err := Check(s, k, Intent{Action: a, Task: "fetch/SPY"}); !errors.Is(err, ErrInMaintenance) || !contains(err.Error(), "exit maintenance first") {
			t.Errorf("%s in maintenance: %v; want ErrInMaintenance", a, err)
		}
	}
	long := strings.Repeat("r", MaxReason+1)
	if err := Check(State{}, k, Intent{Action: ActionMaintenanceEnter, Reason: long}); !errors.Is(err, ErrBadIntent) || !contains(err.Error(), "1025 bytes") {
		t.Errorf("a reason of %d bytes: %v; want ErrBadIntent naming its size", len(long), err)
	}
	_, recs := Apply(State{}, []Pending{{ID: "i-1", Intent: Intent{Action: ActionMaintenanceEnter, Reason: strings.Repeat("é", 3*MaxReason), By: "x"}}}, k, nil, 1, t0)
	if len(recs) != 1 || recs[0].Result != ResultRejected || len(recs[0].Reason) > MaxReason || !strings.HasSuffix(recs[0].Reason, "…") {
		t.Fatalf("record of a hand-written huge intent: %d bytes, %s; want rejected and clipped to %d", len(recs[0].Reason), recs[0].Result, MaxReason)
	}
}
