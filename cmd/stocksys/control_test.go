package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// TestIntegration_ControlBadInput (issue 11): every bad request is refused
// with an error naming the input (main exits 1 on it) and writes nothing:
// no intent znode, the control znode unchanged. A good one writes exactly
// one intent, and the same again is refused as already cordoned.
func TestIntegration_ControlBadInput(t *testing.T) {
	cluster := testenv.Name(t, "-")
	root := "/stocksys/" + cluster
	zc := testenv.ZKConn(t, 10*time.Second)
	t.Cleanup(func() {
		if err := testenv.DeleteRecursive(zc, root); err != nil {
			t.Logf("cleanup %s: %v", root, err)
		}
	})
	for _, m := range []string{"node-1", "node-2"} {
		if err := session.EnsurePath(zc, root+"/members/"+m, []byte(`{"id":"`+m+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	// As a master would have written it: node-2 cordoned, no maintenance.
	state := []byte(`{"epoch":3,"maintenance":null,"cordoned":{"node-2":{"by":"a@b","at":"2026-01-02T03:04:05Z","reason":"disk"}}}`)
	if _, err := zc.Create(root+"/control", state, 0, zkapi.OpenACL()); err != nil {
		t.Fatal(err)
	}
	g := []string{"--zk", strings.Join(testenv.ZKServers(t), ","), "--cluster", cluster}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "cordon", "node-9"}, `unknown node "node-9"`},
		{[]string{"node", "drain", "node-9", "--reason", "x"}, `unknown node "node-9"`},
		{[]string{"node", "uncordon", "node-9"}, `unknown node "node-9"`},
		{[]string{"node", "stoppable", "node-9"}, `unknown node "node-9"`},
		{[]string{"node", "cordon", "bad/id"}, `node id "bad/id"`},
		{[]string{"node", "cordon", "node-2"}, `node "node-2": already cordoned`},
		{[]string{"node", "uncordon", "node-1"}, `node "node-1": not cordoned`},
		{[]string{"node", "cordon", "node-1", "--reason", " "}, `--reason " ": empty reason`},
		{[]string{"node", "drain", "node-1", "--reason", ""}, `--reason "": empty reason`},
		{[]string{"maintenance", "exit"}, "not in maintenance mode"},
		{[]string{"maintenance", "enter"}, `--reason "": empty reason`},
		{[]string{"maintenance", "enter", "--reason", "\t"}, `empty reason`},
		{[]string{"node", "cordon"}, "accepts 1 arg(s), received 0"},
		{[]string{"node", "cordon", "node-1", "--wait", "-1s"}, "--wait -1s: must not be negative"},
		// Task actions (the cluster has no symbols and no partitions
		// document: every task is unknown).
		{[]string{"task", "pause"}, "give one or more task ids"},
		{[]string{"task", "pause", "fetch/not a symbol"}, `task id "fetch/not a symbol"`},
		{[]string{"task", "pause", "compact/SPY"}, `task id "compact/SPY"`},
		{[]string{"task", "pause", "fetch/SPY"}, `unknown task "fetch/SPY"`},
		{[]string{"task", "resume", "fetch/SPY"}, `unknown task "fetch/SPY"`},
		{[]string{"task", "restart", "ingest/0"}, `unknown task "ingest/0"`},
		{[]string{"task", "restart", "--failed", "ingest/0"}, "--failed takes no task ids (got ingest/0)"},
		{[]string{"task", "pause", "fetch/SPY", "--reason", " "}, `--reason " ": empty reason`},
		{[]string{"task", "ls", "--state", "bogus"}, `--state "bogus": want one of`},
	} {
		_, err := runCLI(t, append(c.args, g...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("stocksys %s: %v; want an error containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	intents, _, err := zc.Children(root + "/intents")
	if err != nil && !errors.Is(err, zkapi.ErrNoNode) {
		t.Fatal(err)
	}
	data, _, _ := zc.Get(root + "/control")
	if len(intents) != 0 || !bytes.Equal(data, state) {
		t.Fatalf("after bad input: intents %v, control %s; want none written, control unchanged", intents, data)
	}

	// A good request with no master: written, then reported as pending.
	_, err = runCLI(t, append([]string{"node", "cordon", "node-1", "--reason", "noisy neighbour", "--wait", "100ms"}, g...)...)
	if err == nil || !strings.Contains(err.Error(), "still pending after 100ms") {
		t.Fatalf("cordon with no master: %v; want it written and reported pending", err)
	}
	intents, _, err = zc.Children(root + "/intents")
	if err != nil || len(intents) != 1 {
		t.Fatalf("intents %v, %v; want one", intents, err)
	}
	data, _, err = zc.Get(root + "/intents/" + intents[0])
	var in struct{ Action, Node, Reason, By, At string }
	if err != nil || json.Unmarshal(data, &in) != nil || in.Action != "cordon" || in.Node != "node-1" || in.Reason != "noisy neighbour" ||
		!strings.Contains(in.By, "@") || in.At == "" {
		t.Fatalf("intent %s: %s, %v; want cordon node-1 for a noisy neighbour, by user@host, at", intents[0], data, err)
	}
	// The pending intent counts: the same again is already cordoned.
	if _, err := runCLI(t, append([]string{"node", "cordon", "node-1", "--wait", "0"}, g...)...); err == nil ||
		!strings.Contains(err.Error(), `node "node-1": already cordoned`) {
		t.Fatalf("second cordon: %v; want already cordoned", err)
	}
	// Stoppable answers from the documents: node-1 holds nothing, node-2 is another member.
	out, err := runCLI(t, append([]string{"node", "stoppable", "node-1", "--json"}, g...)...)
	var s struct {
		Stoppable bool     `json:"stoppable"`
		Notes     []string `json:"notes"`
	}
	if err != nil || json.Unmarshal([]byte(out), &s) != nil || !s.Stoppable {
		t.Fatalf("stoppable node-1: %s, %v; want yes", out, err)
	}
	if intents, _, _ = zc.Children(root + "/intents"); len(intents) != 1 {
		t.Fatalf("intents %v; want still one", intents)
	}
	// A registered symbol's fetch task is known: a pause is written (with
	// the task), task ls lists it (unassigned: no master), and
	// restart --failed finds nothing to restart.
	if err := session.EnsurePath(zc, root+"/symbols/SPY", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	// Several tasks: all are checked before any is written.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"task", "pause", "fetch/SPY", "fetch/ZZZ"}, `unknown task "fetch/ZZZ"`},
		{[]string{"task", "pause", "fetch/SPY", "fetch/SPY"}, `task id "fetch/SPY" given twice`},
	} {
		if _, err := runCLI(t, append(c.args, g...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("stocksys %s: %v; want an error containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	if intents, _, _ = zc.Children(root + "/intents"); len(intents) != 1 {
		t.Fatalf("intents %v after refused multi-task commands; want still one", intents)
	}
	if out, err := runCLI(t, append([]string{"task", "pause", "fetch/SPY", "--reason", "bad feed", "--wait", "0"}, g...)...); err != nil ||
		!strings.Contains(out, "pause fetch/SPY: intent") {
		t.Fatalf("task pause fetch/SPY: %q, %v; want the intent written", out, err)
	}
	intents, _, _ = zc.Children(root + "/intents")
	var task struct{ Action, Task, Reason string }
	found := false
	for _, n := range intents {
		data, _, _ := zc.Get(root + "/intents/" + n)
		if json.Unmarshal(data, &task) == nil && task.Action == "pause" {
			found = task.Task == "fetch/SPY" && task.Reason == "bad feed"
		}
	}
	if len(intents) != 2 || !found {
		t.Fatalf("intents %v; want the cordon and a pause of fetch/SPY for a bad feed", intents)
	}
	out, err = runCLI(t, append([]string{"task", "ls", "--json"}, g...)...)
	var ls []struct{ ID, State string }
	if err != nil || json.Unmarshal([]byte(out), &ls) != nil || len(ls) != 1 || ls[0].ID != "fetch/SPY" || ls[0].State != "unassigned" {
		t.Fatalf("task ls --json: %s, %v; want fetch/SPY unassigned", out, err)
	}
	if out, err := runCLI(t, append([]string{"task", "restart", "--failed"}, g...)...); err != nil || !strings.Contains(out, "no failed task") {
		t.Fatalf("task restart --failed with none failed: %q, %v", out, err)
	}
}
