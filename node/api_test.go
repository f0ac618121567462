package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/node"
)

// call sends method path (body: JSON or "") with token ("" none) and
// returns the status and the decoded JSON body.
func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any, []any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q; want application/json (%s)", method, path, ct, data)
	}
	var obj map[string]any
	var arr []any
	if json.Unmarshal(data, &obj) != nil && json.Unmarshal(data, &arr) != nil {
		t.Fatalf("%s %s: %d, body not JSON: %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, obj, arr
}

// TestIntegration_ControlREST (issue 11): the REST API on a node's HTTP
// server, against the real ZooKeeper: reads are open; a mutation without
// the token, or on a node with none, is refused and writes nothing; with
// it, a pause is applied by the master (whichever node it is) and shows
// in /v1/tasks on both nodes; errors are JSON with a code and a
// message naming the input.
func TestIntegration_ControlREST(t *testing.T) {
	root, admin := seed(t, "SPY")
	ra := start(t, root, "node-a", partitions(0), func(c *node.Config) { c.APIToken = "s3cret" })
	rb := start(t, root, "node-b", partitions(0))
	a, srvA, b, srvB := ra.n, ra.srv, rb.n, rb.srv
	waitFor(t, "a master, both tasks running", 20*time.Second, func() bool {
		code, _, arr := call(t, srvA, "GET", "/v1/tasks?state=running", "", "")
		return (a.Role() == "master" || b.Role() == "master") && code == 200 && len(arr) == 2
	})
	intents := func() int {
		n, _, err := admin.Children(root + "/intents")
		if err != nil {
			return -1
		}
		return len(n)
	}
	before := intents()
	for _, c := range []struct {
		srv          *httptest.Server
		method, path string
		token, body  string
		code         int
		errCode, msg string
	}{
		{srvA, "POST", "/v1/tasks/fetch/SPY/pause", "", "", 401, "unauthorized", "bearer token"},
		{srvA, "POST", "/v1/tasks/fetch/SPY/pause", "wrong", "", 401, "unauthorized", "bearer token"},
		{srvB, "POST", "/v1/tasks/fetch/SPY/pause", "s3cret", "", 403, "no_api_token", "node-b has no API token"},
		{srvA, "POST", "/v1/tasks/fetch/NOPE/pause", "s3cret", "", 404, "unknown_task", `"fetch/NOPE"`},
		{srvA, "POST", "/v1/tasks/fetch/not%20a%20symbol/pause", "s3cret", "", 400, "bad_task_id", `"fetch/not a symbol"`},
		{srvA, "POST", "/v1/tasks/fetch/SPY/explode", "s3cret", "", 404, "not_found", `"explode"`},
		{srvA, "POST", "/v1/tasks/fetch/SPY/resume", "s3cret", "", 409, "not_paused", `"fetch/SPY"`},
		{srvA, "POST", "/v1/nodes/node-9/cordon", "s3cret", "", 404, "unknown_node", `"node-9"`},
		{srvA, "POST", "/v1/maintenance/exit", "s3cret", "", 409, "not_in_maintenance", "not in maintenance"},
		{srvA, "POST", "/v1/maintenance/enter", "s3cret", `{"reason": "  "}`, 400, "empty_reason", "reason"},
		{srvA, "POST", "/v1/tasks/fetch/SPY/pause", "s3cret", `{"reasn": "x"}`, 400, "bad_request", `"reasn"`},
		{srvA, "POST", "/v1/tasks/fetch/SPY/pause?wait=soon", "s3cret", "", 400, "bad_request", `"soon"`},
		{srvA, "POST", "/v1/tasks/fetch/SPY/pause", "s3cret", `{"reason": "a"} {"reason": "b"}`, 400, "bad_request", "data after the JSON object"},
		{srvA, "POST", "/v1/tasks/fetch/SPY/pause", "s3cret", `[]`, 400, "bad_request", "not a JSON object"},
		{srvA, "POST", "/v1/tasks/fetch/SPY/pause", "s3cret", `{"reason": "` + strings.Repeat("r", 2000) + `"}`, 400, "bad_intent", "2000 bytes"},
		{srvA, "GET", "/v1/tasks/fetch/SPY/pause", "", "", 405, "method_not_allowed", "allowed: POST"},
		{srvA, "POST", "/v1/status", "s3cret", "", 405, "method_not_allowed", "POST /v1/status"},
		{srvA, "GET", "/v1/nosuch", "", "", 404, "not_found", "/v1/nosuch"},
		{srvA, "POST", "/v1/tasks/fetch/a/b/pause", "s3cret", "", 404, "not_found", "/v1/tasks/fetch/a/b/pause"},
		{srvA, "GET", "/v1/tasks?state=bogus", "", "", 400, "bad_request", `"bogus"`},
		{srvA, "GET", "/v1/alerts/not%20a%20symbol?from=2020-11-24T00:00:00Z&to=2020-11-25T00:00:00Z", "", "", 400, "bad_symbol", `"not a symbol"`},
		{srvA, "GET", "/v1/alerts/SPY?to=2020-11-25T00:00:00Z", "", "", 400, "bad_request", "from: required"},
		{srvA, "GET", "/v1/alerts/SPY?from=yesterday&to=2020-11-25T00:00:00Z", "", "", 400, "bad_request", `"yesterday"`},
		{srvA, "GET", "/v1/alerts/SPY?from=2020-11-01T00:00:00Z&to=2020-11-25T00:00:00Z", "", "", 400, "bad_request", "at most 7 days"},
		{srvA, "GET", "/v1/alerts/SPY?from=2020-11-25T00:00:00Z&to=2020-11-24T00:00:00Z", "", "", 400, "bad_request", "want from < to"},
		{srvA, "GET", "/v1/alerts/SPY?from=2020-11-24T00:00:00Z&to=2020-11-25T00:00:00Z", "", "", 404, "no_charts", "no store"},
	} {
		code, obj, _ := call(t, c.srv, c.method, c.path, c.token, c.body)
		if code != c.code || obj["code"] != c.errCode || !strings.Contains(obj["message"].(string), c.msg) {
			t.Errorf("%s %s: %d %v; want %d %s naming %s", c.method, c.path, code, obj, c.code, c.errCode, c.msg)
		}
	}
	if n := intents(); n != before {
		t.Fatalf("refused requests wrote intents: %d -> %d", before, n)
	}
	code, obj, _ := call(t, srvA, "POST", "/v1/tasks/fetch/SPY/pause", "s3cret", `{"reason": "bad feed"}`)
	rec, _ := obj["record"].(map[string]any)
	if code != 200 || rec["result"] != "applied" || rec["task"] != "fetch/SPY" || rec["reason"] != "bad feed" || !strings.HasPrefix(rec["by"].(string), "api@127.0.0.1 via ") {
		t.Fatalf("pause with the token: %d %v; want 200 applied, the task, the reason, by api@127.0.0.1 via <node>", code, obj)
	}
	waitFor(t, "fetch/SPY paused and unassigned in /v1/tasks", 5*time.Second, func() bool {
		_, _, arr := call(t, srvB, "GET", "/v1/tasks", "", "") // reads on any node, no token
		for _, x := range arr {
			tk := x.(map[string]any)
			if tk["id"] == "fetch/SPY" {
				return tk["paused"] == true && tk["owner"] == nil
			}
		}
		return false
	})
	if code, obj, _ := call(t, srvA, "POST", "/v1/tasks/fetch/SPY/pause", "s3cret", ""); code != 409 || obj["code"] != "already_paused" {
		t.Fatalf("second pause: %d %v; want 409 already_paused", code, obj)
	}
	if code, obj, _ := call(t, srvA, "POST", "/v1/tasks/fetch/SPY/resume?wait=0", "s3cret", ""); code != 202 || obj["pending"] != true {
		t.Fatalf("resume without waiting: %d %v; want 202 pending", code, obj)
	}
	waitFor(t, "fetch/SPY running again", 5*time.Second, func() bool {
		_, _, arr := call(t, srvA, "GET", "/v1/tasks?state=running", "", "")
		return len(arr) == 2
	})
	if code, _, arr := call(t, srvA, "GET", "/v1/master/history", "", ""); code != 200 || len(arr) != 1 {
		t.Fatalf("master history: %d %v; want one term", code, arr)
	}
	if code, obj, _ := call(t, srvA, "GET", "/v1/nodes/node-9/stoppable", "", ""); code != 404 || obj["code"] != "unknown_node" {
		t.Fatalf("stoppable of an unknown node: %d %v", code, obj)
	}
}
