package node

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stock-system/stocksys/control"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/tasks"
)

// The REST API under /v1/ (served by Handler), the same operations as the
// CLI's control commands. Reads are open; every mutating request (POST)
// needs "Authorization: Bearer <token>" with the node's Config.APIToken,
// and is refused (403 no_api_token) when the node has none. Any node serves
// it: an action is an intent (package control) that this node checks and
// writes on its own session, and the master applies.
//
//	GET  /v1/status                          the cluster (stocksys status --json)
//	GET  /v1/tasks[?state=S]                 every task (stocksys task ls --json)
//	GET  /v1/master/history                  the recorded terms (stocksys master history --json)
//	GET  /v1/nodes/{id}/stoppable            stocksys node stoppable --json
//	POST /v1/nodes/{id}/{cordon|uncordon|drain}
//	POST /v1/tasks/{type}/{name}/{pause|resume|restart}   e.g. /v1/tasks/fetch/SPY/pause
//	POST /v1/tasks/restart-failed            restart every task reported failed
//	POST /v1/maintenance/{enter|exit}
//
// A POST takes an optional JSON body {"reason": "..."} (unknown fields are
// refused) and ?wait=DURATION (default 5s, 0: do not wait for the master).
// It answers 200 with the master's record when applied, 202 with the
// intent id while it is pending, 409 when the master rejected it. Errors
// are JSON {"code", "message"}, the message naming the input: 400
// bad_request, bad_task_id, empty_reason, bad_intent; 401 unauthorized; 403
// no_api_token; 404 unknown_node, unknown_task, not_found; 409
// already_cordoned, already_drained, not_cordoned, already_paused,
// not_paused, task_paused, already_restarting, in_maintenance,
// not_in_maintenance, rejected; 503 no_session (the node is not registered
// in ZooKeeper now).

// APIError is the JSON body of an error answer of the REST API.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IntentAnswer is the JSON body of a POST's answer: the intent written,
// and the master's record once it applied (or rejected) it.
type IntentAnswer struct {
	Intent  string          `json:"intent"`
	Pending bool            `json:"pending,omitempty"`
	Record  *control.Record `json:"record,omitempty"`
}

// TaskStates are the states a task can be listed in (status.Task.State):
// the worker's, and status's own for tasks no worker reports.
var TaskStates = []string{"unassigned", "assigned", tasks.StateStarting, tasks.StateRunning, tasks.StateStopping,
	tasks.StateStopped, tasks.StateFailed}

// apiWait is how long a POST waits for the master by default.
const apiWait = 5 * time.Second

func (n *Node) api(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		rep, ok := n.apiReport(w)
		if ok {
			writeAPI(w, http.StatusOK, rep)
		}
	})
	mux.HandleFunc("GET /v1/tasks", func(w http.ResponseWriter, r *http.Request) {
		state := r.URL.Query().Get("state")
		if state != "" && !slices.Contains(TaskStates, state) {
			apiErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("state %q: want one of %s", state, strings.Join(TaskStates, ", ")))
			return
		}
		rep, ok := n.apiReport(w)
		if !ok {
			return
		}
		out := []status.Task{}
		for _, t := range rep.Tasks {
			if state == "" || t.State == state {
				out = append(out, t)
			}
		}
		writeAPI(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /v1/master/history", func(w http.ResponseWriter, r *http.Request) {
		s := n.Session()
		if s == nil {
			apiErr(w, http.StatusServiceUnavailable, "no_session", "node "+n.cfg.ID+" has no ZooKeeper session now")
			return
		}
		terms, err := status.MasterHistory(s.Conn(), n.cfg.Root)
		if err != nil {
			apiErr(w, http.StatusServiceUnavailable, "zookeeper", err.Error())
			return
		}
		writeAPI(w, http.StatusOK, terms)
	})
	mux.HandleFunc("GET /v1/nodes/{id}/stoppable", func(w http.ResponseWriter, r *http.Request) {
		rep, ok := n.apiReport(w)
		if !ok {
			return
		}
		st, err := status.Stoppable(rep, r.PathValue("id"))
		if err != nil {
			apiControlErr(w, err)
			return
		}
		writeAPI(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST /v1/nodes/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		a := control.Action(r.PathValue("action"))
		if !a.NodeAction() {
			apiErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no node action %q (want cordon, uncordon or drain)", a))
			return
		}
		n.apiIntent(w, r, control.Intent{Action: a, Node: r.PathValue("id")})
	})
	mux.HandleFunc("POST /v1/tasks/{type}/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		a := control.Action(r.PathValue("action"))
		if !a.TaskAction() {
			apiErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no task action %q (want pause, resume or restart)", a))
			return
		}
		id := r.PathValue("type") + "/" + r.PathValue("name")
		if _, err := tasks.ParseID(id); err != nil {
			apiErr(w, http.StatusBadRequest, "bad_task_id", fmt.Sprintf("task id %q: %v", id, err))
			return
		}
		n.apiIntent(w, r, control.Intent{Action: a, Task: id})
	})
	mux.HandleFunc("POST /v1/tasks/restart-failed", func(w http.ResponseWriter, r *http.Request) {
		if !n.apiAuth(w, r) {
			return
		}
		rep, ok := n.apiReport(w)
		if !ok {
			return
		}
		var answers []IntentAnswer
		for _, t := range rep.Tasks {
			if t.State != tasks.StateFailed {
				continue
			}
			a, code, err := n.submit(r, control.Intent{Action: control.ActionRestart, Task: t.ID})
			if err != nil {
				apiControlErr(w, err)
				return
			}
			if code == http.StatusConflict {
				writeAPI(w, code, a)
				return
			}
			answers = append(answers, a)
		}
		if answers == nil {
			answers = []IntentAnswer{}
		}
		writeAPI(w, http.StatusOK, answers)
	})
	mux.HandleFunc("POST /v1/maintenance/{action}", func(w http.ResponseWriter, r *http.Request) {
		var a control.Action
		switch r.PathValue("action") {
		case "enter":
			a = control.ActionMaintenanceEnter
		case "exit":
			a = control.ActionMaintenanceExit
		default:
			apiErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no maintenance action %q (want enter or exit)", r.PathValue("action")))
			return
		}
		n.apiIntent(w, r, control.Intent{Action: a})
	})
}

// apiReport reads the cluster's status report on the node's session; on
// failure it answers 503 and returns false.
func (n *Node) apiReport(w http.ResponseWriter) (*status.Report, bool) {
	s := n.Session()
	if s == nil {
		apiErr(w, http.StatusServiceUnavailable, "no_session", "node "+n.cfg.ID+" has no ZooKeeper session now")
		return nil, false
	}
	rep, err := status.Read(s.Conn(), n.cfg.Cluster, n.cfg.Root)
	if err != nil {
		apiErr(w, http.StatusServiceUnavailable, "zookeeper", err.Error())
		return nil, false
	}
	return rep, true
}

// apiAuth checks the bearer token; on failure it answers and returns
// false.
func (n *Node) apiAuth(w http.ResponseWriter, r *http.Request) bool {
	if n.cfg.APIToken == "" {
		apiErr(w, http.StatusForbidden, "no_api_token", "mutating requests are refused: node "+n.cfg.ID+" has no API token (stocksys node --api-token-file)")
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(n.cfg.APIToken)) != 1 {
		apiErr(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <token>)")
		return false
	}
	return true
}

// apiIntent authorises r, reads its body and wait, submits in and answers.
func (n *Node) apiIntent(w http.ResponseWriter, r *http.Request, in control.Intent) {
	if !n.apiAuth(w, r) {
		return
	}
	a, code, err := n.submit(r, in)
	if err != nil {
		apiControlErr(w, err)
		return
	}
	writeAPI(w, code, a)
}

// submit reads r's body (reason) and ?wait, checks and writes in
// (control.Submit) and waits for the master. It returns the answer and its
// HTTP status, or an error for apiControlErr.
func (n *Node) submit(r *http.Request, in control.Intent) (IntentAnswer, int, error) {
	var body struct {
		Reason *string `json:"reason"`
	}
	if r.Body != nil && r.ContentLength != 0 {
		data, err := io.ReadAll(io.LimitReader(r.Body, 16<<10+1))
		if err != nil {
			return IntentAnswer{}, 0, badRequest{fmt.Sprintf("request body: %v", err)}
		}
		if len(data) > 16<<10 {
			return IntentAnswer{}, 0, badRequest{"request body: more than 16 KiB (want {\"reason\": \"...\"}, a reason of at most 1024 bytes)"}
		}
		if t := bytes.TrimSpace(data); len(t) > 0 {
			if t[0] != '{' {
				return IntentAnswer{}, 0, badRequest{fmt.Sprintf("request body %.40q: not a JSON object (want {\"reason\": \"...\"})", t)}
			}
			dec := json.NewDecoder(bytes.NewReader(t))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				return IntentAnswer{}, 0, badRequest{fmt.Sprintf("request body: %v (want {\"reason\": \"...\"})", err)}
			}
			if dec.More() {
				return IntentAnswer{}, 0, badRequest{"request body: data after the JSON object (want one {\"reason\": \"...\"})"}
			}
		}
	}
	if body.Reason != nil {
		if strings.TrimSpace(*body.Reason) == "" {
			return IntentAnswer{}, 0, fmt.Errorf("reason %q: %w (omit it, or say why)", *body.Reason, control.ErrEmptyReason)
		}
		in.Reason = strings.TrimSpace(*body.Reason)
	}
	wait := apiWait
	if q := r.URL.Query().Get("wait"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d < 0 {
			return IntentAnswer{}, 0, badRequest{fmt.Sprintf("wait %q: want a duration >= 0 such as 5s", q)}
		}
		wait = d
	}
	s := n.Session()
	if s == nil {
		return IntentAnswer{}, 0, errNoSession
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	in.By, in.At = "api@"+host+" via "+n.cfg.ID, time.Now().UTC()
	id, err := control.Submit(s.Conn(), n.cfg.Root, in)
	if err != nil {
		return IntentAnswer{}, 0, err
	}
	if wait == 0 {
		return IntentAnswer{Intent: id, Pending: true}, http.StatusAccepted, nil
	}
	rec, err := control.NewPaths(n.cfg.Root).Await(s.Conn(), id, wait)
	if errors.Is(err, control.ErrNotApplied) {
		return IntentAnswer{Intent: id, Pending: true}, http.StatusAccepted, nil
	}
	if err != nil {
		return IntentAnswer{}, 0, err
	}
	if rec.Result != control.ResultApplied {
		return IntentAnswer{Intent: id, Record: &rec}, http.StatusConflict, nil
	}
	return IntentAnswer{Intent: id, Record: &rec}, http.StatusOK, nil
}

type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

var errNoSession = errors.New("no ZooKeeper session now")

// apiCodes maps the control errors to an HTTP status and a code.
var apiCodes = []struct {
	err    error
	status int
	code   string
}{
	{control.ErrUnknownNode, http.StatusNotFound, "unknown_node"},
	{control.ErrUnknownTask, http.StatusNotFound, "unknown_task"},
	{control.ErrAlreadyCordoned, http.StatusConflict, "already_cordoned"},
	{control.ErrAlreadyDrained, http.StatusConflict, "already_drained"},
	{control.ErrNotCordoned, http.StatusConflict, "not_cordoned"},
	{control.ErrAlreadyPaused, http.StatusConflict, "already_paused"},
	{control.ErrNotPaused, http.StatusConflict, "not_paused"},
	{control.ErrTaskPaused, http.StatusConflict, "task_paused"},
	{control.ErrRestarting, http.StatusConflict, "already_restarting"},
	{control.ErrInMaintenance, http.StatusConflict, "in_maintenance"},
	{control.ErrNotInMaintenance, http.StatusConflict, "not_in_maintenance"},
	{control.ErrEmptyReason, http.StatusBadRequest, "empty_reason"},
	{control.ErrBadIntent, http.StatusBadRequest, "bad_intent"},
	{control.ErrUnknownAction, http.StatusBadRequest, "bad_intent"},
	{errNoSession, http.StatusServiceUnavailable, "no_session"},
}

func apiControlErr(w http.ResponseWriter, err error) {
	var br badRequest
	if errors.As(err, &br) {
		apiErr(w, http.StatusBadRequest, "bad_request", br.msg)
		return
	}
	for _, c := range apiCodes {
		if errors.Is(err, c.err) {
			apiErr(w, c.status, c.code, err.Error())
			return
		}
	}
	apiErr(w, http.StatusServiceUnavailable, "zookeeper", err.Error())
}

func apiErr(w http.ResponseWriter, code int, c, msg string) {
	writeAPI(w, code, APIError{Code: c, Message: msg})
}

func writeAPI(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
