package master_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/control"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// controlCluster starts 3 in-process nodes over 9 symbols and 3 partitions
// and waits until every task runs once, balanced.
func controlCluster(t *testing.T) (*cluster, zkapi.Client, []*testNode, []tasks.ID) {
	t.Helper()
	c := &cluster{t: t, servers: testenv.ZKServers(t), root: testenv.ZKRoot(t), tr: newTracker(), partitions: []int32{0, 1, 2},
		log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))}
	admin := testenv.ZKConn(t, 10*time.Second)
	p := tasks.NewPaths(c.root)
	if err := p.EnsureLayout(admin); err != nil {
		t.Fatal(err)
	}
	want := []tasks.ID{tasks.IngestTask(0).ID(), tasks.IngestTask(1).ID(), tasks.IngestTask(2).ID()}
	for i := range 9 {
		s := tasks.Symbol(fmt.Sprintf("C%d", i))
		if _, err := admin.Create(p.Symbol(s), []byte(`{}`), 0, zkapi.OpenACL()); err != nil {
			t.Fatal(err)
		}
		want = append(want, tasks.FetchTask(s).ID())
	}
	slices.Sort(want)
	nodes := []*testNode{c.start("node-1", false), c.start("node-2", false), c.start("node-3", false)}
	c.waitConverged("3 nodes", nodes, want, 10*time.Second)
	return c, admin, nodes, want
}

// worker returns a node that is not the master.
func aWorker(nodes []*testNode) *testNode {
	for _, n := range nodes {
		if tm, _ := n.lastTerm(); tm == nil || tm.Err() != nil {
			return n
		}
	}
	return nil
}

// runningOn reads every live node's assignment and status documents and
// returns task -> nodes whose assignment lists it and whose status reports
// it running.
func runningOn(t *testing.T, admin zkapi.Client, p tasks.Paths, nodes []*testNode) map[tasks.ID][]string {
	t.Helper()
	out := map[tasks.ID][]string{}
	for _, n := range nodes {
		a, _, err := p.ReadAssignment(admin, n.id)
		if err != nil {
			continue
		}
		s, _, err := p.ReadStatus(admin, n.id)
		if err != nil {
			continue
		}
		for _, id := range a.Tasks {
			if s.Tasks[id].State == tasks.StateRunning {
				out[id] = append(out[id], n.id)
			}
		}
	}
	return out
}

func intent(a control.Action, node, reason string) control.Intent {
	return control.Intent{Action: a, Node: node, Reason: reason, By: "test@" + strings.ReplaceAll(string(a), "_", "-"), At: time.Now().UTC()}
}

// TestIntegration_ControlDrainAndUncordon (issue 11, Done when): a drained
// worker's tasks run elsewhere within 1 s (read from the assignment and
// status documents, and from the runners themselves); stoppable then says
// yes, and the documents agree (its assignment and status list nothing);
// uncordon gives it its share back on the next plan, within 1 s.
func TestIntegration_ControlDrainAndUncordon(t *testing.T) {
	c, admin, nodes, want := controlCluster(t)
	p := tasks.NewPaths(c.root)
	victim := aWorker(nodes)
	held := readOwners(t, admin, p)
	var had []tasks.ID
	for id, o := range held {
		if o == victim.id {
			had = append(had, id)
		}
	}
	if len(had) < 3 {
		t.Fatalf("%s holds %v; want its share of 12 tasks", victim.id, had)
	}

	start := time.Now()
	if _, err := control.Submit(admin, c.root, intent(control.ActionDrain, victim.id, "rolling upgrade")); err != nil {
		t.Fatal(err)
	}
	for {
		run := runningOn(t, admin, p, nodes)
		runs := ownersNow(c.tr)
		bad := ""
		for _, id := range want {
			if on := run[id]; len(on) != 1 || on[0] == victim.id || runs[id] != on[0] {
				bad = fmt.Sprintf("%s running on %v by the documents, %q by its runner", id, on, runs[id])
				break
			}
		}
		if bad == "" {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("drain of %s: not every task running elsewhere within 1 s: %s", victim.id, bad)
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	t.Logf("drain of %s: its %d tasks run on the others %v after the intent was written", victim.id, len(had), took.Round(time.Millisecond))

	// The documents: the victim's assignment gives nothing, its status
	// lists nothing, the control znode records the drain.
	a, _, err := p.ReadAssignment(admin, victim.id)
	if err != nil || len(a.Tasks) != 0 {
		t.Fatalf("%s's assignment %+v, %v; want no task", victim.id, a, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, _, err := p.ReadStatus(admin, victim.id)
		if err == nil && len(s.Tasks) == 0 && s.AppliedVersion >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's status %+v, %v; want no task", victim.id, s, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var st struct {
		Cordoned map[string]struct {
			Drain  bool   `json:"drain"`
			Reason string `json:"reason"`
			By     string `json:"by"`
		} `json:"cordoned"`
	}
	data, _, err := admin.Get(c.root + "/control")
	if err != nil || json.Unmarshal(data, &st) != nil || !st.Cordoned[victim.id].Drain || st.Cordoned[victim.id].Reason != "rolling upgrade" {
		t.Fatalf("control znode %s, %v; want %s drained for a rolling upgrade", data, err, victim.id)
	}
	if ok, _, err := admin.Exists(c.root + "/members/" + victim.id); !ok || err != nil {
		t.Fatalf("%s is no member after the drain (%v); a drained node stays one", victim.id, err)
	}
	r, err := status.Read(admin, "t", c.root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := status.Stoppable(r, victim.id)
	if err != nil || !s.Stoppable || len(s.Tasks) != 0 {
		t.Fatalf("stoppable %+v, %v; want yes, no task", s, err)
	}
	var member *status.Member
	for i := range r.Members {
		if r.Members[i].ID == victim.id {
			member = &r.Members[i]
		}
	}
	if member == nil || !member.Drained || len(r.Unassigned) != 0 {
		t.Fatalf("status member %+v, unassigned %v; want %s a drained member and every task owned", member, r.Unassigned, victim.id)
	}
	if h := r.Control.History; len(h) != 1 || h[0].Action != control.ActionDrain || h[0].Result != control.ResultApplied || h[0].Node != victim.id {
		t.Fatalf("history %+v; want one applied drain of %s", h, victim.id)
	}

	// Uncordon: it takes its share back at once (the next plan).
	start = time.Now()
	if _, err := control.Submit(admin, c.root, intent(control.ActionUncordon, victim.id, "")); err != nil {
		t.Fatal(err)
	}
	c.waitConverged("uncordon", nodes, want, time.Second)
	back := 0
	for _, on := range runningOn(t, admin, p, nodes) {
		if len(on) == 1 && on[0] == victim.id {
			back++
		}
	}
	if back < 3 {
		t.Fatalf("after uncordon %s runs %d tasks by its documents; want its share (4)", victim.id, back)
	}
	t.Logf("uncordon: %s runs %d tasks again, balanced, %v after the intent", victim.id, back, time.Since(start).Round(time.Millisecond))
	if v := c.tr.Violations(); len(v) > 0 {
		t.Fatalf("tasks ran twice at once: %v", v)
	}
}

// TestIntegration_ControlMaintenance (issue 11, Done when): in maintenance
// mode a worker whose session is closed (killed) leaves its tasks
// unassigned, with status saying why, and nobody runs them; exit reassigns
// them within 1 s.
func TestIntegration_ControlMaintenance(t *testing.T) {
	c, admin, nodes, want := controlCluster(t)
	p := tasks.NewPaths(c.root)
	victim := aWorker(nodes)
	var live []*testNode
	for _, n := range nodes {
		if n != victim {
			live = append(live, n)
		}
	}
	id, err := control.Submit(admin, c.root, intent(control.ActionMaintenanceEnter, "", "zookeeper upgrade"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if ok, _, _ := admin.Exists(p.Root + "/intents/" + id); !ok {
			break // applied: the master deleted it in its fenced write
		}
		if time.Now().After(deadline) {
			t.Fatalf("intent %s not applied within 2 s", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var had []tasks.ID
	for tid, o := range readOwners(t, admin, p) {
		if o == victim.id {
			had = append(had, tid)
		}
	}
	slices.Sort(had)
	versions := map[string]int32{}
	for _, n := range nodes {
		_, st, err := p.ReadAssignment(admin, n.id)
		if err != nil {
			t.Fatal(err)
		}
		versions[n.id] = st.Version
	}

	victim.s.Close() // killed: its ephemeral znodes go at once, its worker stops
	killed := time.Now()
	time.Sleep(600 * time.Millisecond) // many plans (20 ms apart), each triggered by the change
	for _, tid := range had {
		if o := ownersNow(c.tr)[tid]; o != "" {
			t.Fatalf("%s runs on %s during maintenance; want nobody (no moves)", tid, o)
		}
	}
	for _, n := range nodes {
		_, st, err := p.ReadAssignment(admin, n.id)
		if err != nil || st.Version != versions[n.id] {
			t.Fatalf("%s's assignment %v (version %v, was %d) during maintenance; want it untouched", n.id, err, st, versions[n.id])
		}
	}
	r, err := status.Read(admin, "t", c.root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Unassigned, stringsOf(had)) {
		t.Fatalf("status unassigned %v; want the killed %s's %v", r.Unassigned, victim.id, had)
	}
	for _, tk := range r.Tasks {
		if tk.Owner == nil && (tk.UnassignedReason != "maintenance mode" || tk.State != "unassigned") {
			t.Fatalf("task %+v; want unassigned for maintenance mode", tk)
		}
	}
	if m := r.Control.Maintenance; m == nil || m.Reason != "zookeeper upgrade" || m.By != "test@maintenance-enter" {
		t.Fatalf("status maintenance %+v; want who and why", m)
	}
	var text strings.Builder
	if err := status.WriteText(&text, r, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "!! unassigned (maintenance mode): "+strings.Join(stringsOf(had), " ")) ||
		!strings.Contains(text.String(), "MAINTENANCE MODE") || !strings.Contains(text.String(), "zookeeper upgrade") {
		t.Fatalf("status text does not say which tasks are unassigned and why:\n%s", text.String())
	}
	t.Logf("%v after the kill: %v unassigned (maintenance mode); no document rewritten", time.Since(killed).Round(time.Millisecond), had)

	start := time.Now()
	if _, err := control.Submit(admin, c.root, intent(control.ActionMaintenanceExit, "", "")); err != nil {
		t.Fatal(err)
	}
	for {
		run := runningOn(t, admin, p, live)
		runs := ownersNow(c.tr)
		bad := ""
		for _, tid := range want {
			if on := run[tid]; len(on) != 1 || runs[tid] != on[0] {
				bad = fmt.Sprintf("%s running on %v by the documents, %q by its runner", tid, on, runs[tid])
				break
			}
		}
		if bad == "" {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("exit: not every task running within 1 s: %s", bad)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("maintenance exit: the %d orphaned tasks run on the 2 live nodes %v after the intent", len(had), time.Since(start).Round(time.Millisecond))
	if r, err = status.Read(admin, "t", c.root); err != nil || len(r.Unassigned) != 0 || r.Control.Maintenance != nil {
		t.Fatalf("status after exit: unassigned %v, maintenance %+v, %v", r.Unassigned, r.Control.Maintenance, err)
	}
	if v := c.tr.Violations(); len(v) > 0 {
		t.Fatalf("tasks ran twice at once: %v", v)
	}
}

func stringsOf(ids []tasks.ID) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, string(id))
	}
	return out
}

func taskIntent(a control.Action, task string) control.Intent {
	return control.Intent{Action: a, Task: task, Reason: "test", By: "test@" + string(a), At: time.Now().UTC()}
}

// starts returns how many runs of id the tracker has seen, and the node of
// the last one.
func (tr *tracker) starts(id tasks.ID) (int, string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	rs := tr.runs[id]
	if len(rs) == 0 {
		return 0, ""
	}
	return len(rs), rs[len(rs)-1].node
}

// waitFor polls cond every 10 ms for up to limit; it fails with what.
func waitFor(t *testing.T, what func() string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("not within %v: %s", limit, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestIntegration_ControlPauseResumeRestart (issue 11): a paused task stops
// running anywhere within 1 s and stays unassigned (status says paused, by
// whom); resumed, it runs once again within 1 s; a restarted task runs
// again on the same node, once, within 1 s; an unknown task is refused
// before anything is written. No task ever runs on two nodes.
func TestIntegration_ControlPauseResumeRestart(t *testing.T) {
	c, admin, nodes, _ := controlCluster(t)
	p := tasks.NewPaths(c.root)
	spy := tasks.FetchTask("C0").ID()
	if _, err := control.Submit(admin, c.root, taskIntent(control.ActionPause, "fetch/NOPE")); !errors.Is(err, control.ErrUnknownTask) || !strings.Contains(err.Error(), "fetch/NOPE") {
		t.Fatalf("pause of an unknown task: %v; want ErrUnknownTask naming it", err)
	}
	if _, err := control.Submit(admin, c.root, taskIntent(control.ActionPause, string(spy))); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, func() string { return fmt.Sprintf("%s still runs on %v", spy, c.tr.owners()[spy]) }, time.Second, func() bool {
		_, assigned := readOwners(t, admin, p)[spy]
		return len(c.tr.owners()[spy]) == 0 && !assigned
	})
	t.Logf("pause: %s stopped everywhere in %v", spy, took.Round(time.Millisecond))
	before, _ := c.tr.starts(spy)
	time.Sleep(300 * time.Millisecond) // a few rounds: it stays paused
	if n, _ := c.tr.starts(spy); n != before || len(c.tr.owners()[spy]) != 0 {
		t.Fatalf("paused %s started again (%d -> %d runs)", spy, before, n)
	}
	r, err := status.Read(admin, "test", c.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range r.Tasks {
		if tk.ID == string(spy) && (!tk.Paused || tk.Owner != nil || !strings.Contains(tk.UnassignedReason, "paused by test@pause")) {
			t.Fatalf("status of the paused task: %+v; want paused, unassigned, naming who paused it", tk)
		}
	}
	if len(r.Control.Paused) != 1 || r.Control.Paused[0].Task != string(spy) {
		t.Fatalf("status control paused %+v; want %s", r.Control.Paused, spy)
	}

	if _, err := control.Submit(admin, c.root, taskIntent(control.ActionResume, string(spy))); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, func() string { return fmt.Sprintf("%s runs on %v", spy, c.tr.owners()[spy]) }, time.Second, func() bool {
		return len(c.tr.owners()[spy]) == 1
	})
	t.Logf("resume: %s running again in %v", spy, took.Round(time.Millisecond))

	ing := tasks.IngestTask(1).ID()
	n0, owner := c.tr.starts(ing)
	if _, err := control.Submit(admin, c.root, taskIntent(control.ActionRestart, string(ing))); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, func() string {
		n, on := c.tr.starts(ing)
		return fmt.Sprintf("%s: %d runs (was %d), last on %s (was %s), running on %v", ing, n, n0, on, owner, c.tr.owners()[ing])
	}, time.Second, func() bool {
		n, on := c.tr.starts(ing)
		return n == n0+1 && on == owner && len(c.tr.owners()[ing]) == 1
	})
	t.Logf("restart: %s ran again on %s in %v", ing, owner, took.Round(time.Millisecond))
	waitFor(t, func() string { return "restart still pending in the control state" }, time.Second, func() bool {
		s, _, err := control.NewPaths(c.root).ReadState(admin)
		return err == nil && len(s.Restarting) == 0
	})
	// The audit list kept every action (a restart's completion rewrites
	// the state, never the list).
	h, err := control.NewPaths(c.root).ReadHistory(admin)
	var acts []string
	for _, r := range h.Actions {
		acts = append(acts, string(r.Action)+" "+r.Task+" "+r.Result)
	}
	if err != nil || strings.Join(acts, ", ") != "pause fetch/C0 applied, resume fetch/C0 applied, restart ingest/1 applied" {
		t.Fatalf("audit list %v, %v; want the pause, the resume and the restart, applied", acts, err)
	}
	if v := c.tr.Violations(); len(v) > 0 {
		t.Fatalf("a task ran on two nodes: %v", v)
	}
	_ = nodes
}

// TestIntegration_ControlRestartFailed (issue 11): restart of the failed
// tasks (what `stocksys task restart --failed` selects: the tasks status
// reports failed) restarts exactly those; the others are not restarted.
func TestIntegration_ControlRestartFailed(t *testing.T) {
	c, admin, nodes, want := controlCluster(t)
	bad := tasks.FetchTask("C3").ID()
	c.tr.mu.Lock()
	c.tr.fail = map[tasks.ID]error{bad: errors.New("source: C3 feed down")}
	c.tr.mu.Unlock()
	if _, err := control.Submit(admin, c.root, taskIntent(control.ActionRestart, string(bad))); err != nil {
		t.Fatal(err)
	}
	var failed []string
	waitFor(t, func() string { return fmt.Sprintf("failed tasks %v; want %s reported failed", failed, bad) }, 5*time.Second, func() bool {
		r, err := status.Read(admin, "test", c.root)
		if err != nil {
			t.Fatal(err)
		}
		failed = failed[:0]
		for _, tk := range r.Tasks {
			if tk.State == tasks.StateFailed {
				failed = append(failed, tk.ID)
				if tk.RetryAt.IsZero() || tk.Failures < 1 || !strings.Contains(tk.LastError, "C3 feed down") {
					t.Fatalf("failed task %+v; want its error, its failures and its retry time", tk)
				}
			}
		}
		return len(failed) == 1 && failed[0] == string(bad)
	})
	starts := map[tasks.ID]int{}
	for _, id := range want {
		starts[id], _ = c.tr.starts(id)
	}
	c.tr.mu.Lock()
	c.tr.fail = nil
	c.tr.mu.Unlock()
	for _, id := range failed { // as `stocksys task restart --failed` does
		if _, err := control.Submit(admin, c.root, taskIntent(control.ActionRestart, id)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() string { return fmt.Sprintf("%s running on %v", bad, c.tr.owners()[bad]) }, 2*time.Second, func() bool {
		return len(c.tr.owners()[bad]) == 1
	})
	time.Sleep(200 * time.Millisecond)
	for _, id := range want {
		if n, _ := c.tr.starts(id); id != bad && n != starts[id] {
			t.Errorf("%s restarted (%d -> %d runs); only the failed %s should be", id, starts[id], n, bad)
		}
	}
	if v := c.tr.Violations(); len(v) > 0 {
		t.Fatalf("a task ran on two nodes: %v", v)
	}
	_ = nodes
}
