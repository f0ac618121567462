package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stock-system/stocksys/metrics"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/tasks"
)

// View is this node's own view, served at /status.
type View struct {
	ID           string           `json:"id"`
	Cluster      string           `json:"cluster"`
	Role         string           `json:"role"`       // master, worker or starting
	Epoch        int64            `json:"term_epoch"` // epoch of the term this node holds; 0 unless master
	Session      string           `json:"session,omitempty"`
	SessionState string           `json:"session_state"`
	SafeDeadline *time.Time       `json:"safe_deadline,omitempty"`
	Ready        bool             `json:"ready"`
	Worker       *tasks.StatusDoc `json:"worker,omitempty"`
}

// View returns the node's view now.
func (n *Node) View() View {
	v := View{ID: n.cfg.ID, Cluster: n.cfg.Cluster, Role: n.Role(), Epoch: n.Epoch(), SessionState: "none"}
	if s := n.Session(); s != nil {
		v.Session = tasks.SessionString(s.ID())
		v.SessionState = s.State().String()
		d := s.SafeDeadline()
		v.SafeDeadline = &d
	}
	if w := n.Worker(); w != nil {
		snap := w.Snapshot()
		v.Worker = &snap
	}
	v.Ready = n.Ready()
	return v
}

// Ready reports whether the node is registered, its session is safe, and its
// worker has read its assignment and runs every task in it.
func (n *Node) Ready() bool {
	s, w := n.Session(), n.Worker()
	if s == nil || w == nil || !s.Safe() {
		return false
	}
	snap := w.Snapshot()
	if snap.Suspended {
		return false
	}
	for _, ts := range snap.Tasks {
		if ts.State != tasks.StateRunning {
			return false
		}
	}
	return true
}

// Handler serves /metrics (Prometheus), /healthz (the process runs), /readyz
// (200 once Ready, else 503), /status (View as JSON) and the REST API under
// /v1/ (see api.go).
func (n *Node) Handler(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	n.api(mux)
	n.console(mux)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if n.Ready() {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + n.Role() + "\n"))
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(n.View())
	})
	if m != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	}
	// Go's profiler (CPU, heap, goroutines), as most Go servers expose it for
	// operators; the node listens on 127.0.0.1 unless --http says otherwise.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return jsonMisses(mux)
}

// jsonMisses answers a /v1/ request that no route takes (an unknown path,
// a method the path does not allow, a path the mux would redirect) with the
// API's JSON error instead of the mux's plain text.
func jsonMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			mux.ServeHTTP(w, r)
			return
		}
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.Header().Get("Allow"))
			apiErr(w, http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, rec.Header().Get("Allow")))
			return
		}
		apiErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("%s %s: no such API path (see the README's REST API)", r.Method, r.URL.Path))
	})
}

// UpdateMetrics sets the gauges of m from the node's state; call it
// periodically (the node command does, every second).
func (n *Node) UpdateMetrics(m *metrics.Metrics) {
	role := n.Role()
	for _, r := range []string{"master", "worker", "starting"} {
		v := 0.0
		if r == role {
			v = 1
		}
		m.Role.WithLabelValues(r).Set(v)
	}
	m.Epoch.Set(float64(n.Epoch()))
	state := "none"
	safe := 0.0
	if s := n.Session(); s != nil {
		state = s.State().String()
		if s.Safe() {
			safe = 1
		}
	}
	m.SessionSafe.Set(safe)
	m.SessionState.Reset()
	m.SessionState.WithLabelValues(state).Set(1)
	m.TasksByState.Reset()
	if w := n.Worker(); w != nil {
		for id, ts := range w.Snapshot().Tasks {
			t, err := tasks.ParseID(string(id))
			if err == nil {
				m.TasksByState.WithLabelValues(string(t.Type()), ts.State).Inc()
			}
		}
	}
	m.BuildInfo.WithLabelValues(n.cfg.Version, runtime.Version()).Set(1)
	d := n.cacheDelta()
	m.ZKCacheReads.WithLabelValues("hit").Add(float64(d.Hits))
	m.ZKCacheReads.WithLabelValues("miss").Add(float64(d.Misses))
	m.IngestLag.Reset()
	if w := n.Worker(); w != nil {
		for id, ts := range w.Snapshot().Tasks {
			if t, err := tasks.ParseID(string(id)); err == nil && t.Type() == tasks.TypeIngest && ts.Lag != nil {
				m.IngestLag.WithLabelValues(strings.TrimPrefix(string(id), string(tasks.TypeIngest)+"/")).Set(float64(*ts.Lag))
			}
		}
	}
	n.updateClusterMetrics(m, role == "master")
	m.FailoverSeconds.Reset() // only the acting master reports its failover
	if f := n.lastFailover(); f != nil {
		if !f.PrevEnded.IsZero() {
			m.FailoverSeconds.WithLabelValues("elected").Set(f.Elected.Sub(f.PrevEnded).Seconds())
		}
		m.FailoverSeconds.WithLabelValues("first_assignment").Set(f.FirstAssignment.Sub(f.Elected).Seconds())
	}
}

// updateClusterMetrics sets ClusterTasks and SymbolTrading while this node
// is master (from a status read and the symbol documents, every
// metrics.ClusterEvery; a failed read keeps the last values) and removes
// them otherwise.
func (n *Node) updateClusterMetrics(m *metrics.Metrics, master bool) {
	n.mu.Lock()
	due := master && time.Since(n.clusterAt) >= metrics.ClusterEvery
	if !master {
		n.clusterAt = time.Time{}
	} else if due {
		n.clusterAt = time.Now()
	}
	n.mu.Unlock()
	if !master {
		m.ClusterTasks.Reset()
		m.SymbolTrading.Reset()
		return
	}
	s := n.Session()
	if !due || s == nil {
		return
	}
	r, err := status.Read(s.Conn(), n.cfg.Cluster, n.cfg.Root)
	if err != nil {
		return
	}
	counts := map[string]int{tasks.StateRunning: 0, tasks.StateStarting: 0, tasks.StateStopping: 0, tasks.StateFailed: 0, "unassigned": 0, "paused": 0}
	for _, t := range r.Tasks {
		switch {
		case t.Paused:
			counts["paused"]++
		case t.Owner == nil:
			counts["unassigned"]++
		case t.State != "":
			counts[t.State]++
		}
	}
	m.ClusterTasks.Reset()
	for st, c := range counts {
		m.ClusterTasks.WithLabelValues(st).Set(float64(c))
	}
	p := tasks.NewPaths(n.cfg.Root)
	syms, _, err := p.ListSymbols(s.Conn())
	if err != nil {
		return
	}
	now := time.Now()
	m.SymbolTrading.Reset()
	for _, sym := range syms {
		var spec tasks.SymbolSpec
		if _, err := tasks.ReadJSON(s.Conn(), p.Symbol(sym), &spec); err != nil {
			continue
		}
		src := spec.Source
		if src == "" {
			src = n.cfg.DefaultSource
		}
		v := 0.0
		if quote.TradingNowOptions(src, spec.Options, now) { // tz=, hours= of the symbol
			v = 1
		}
		m.SymbolTrading.WithLabelValues(string(sym)).Set(v)
	}
}

// lastFailover reads the failover document if this node is master and wrote it.
func (n *Node) lastFailover() *tasks.FailoverDoc {
	s := n.Session()
	epoch := n.Epoch()
	if s == nil || epoch == 0 {
		return nil
	}
	var f tasks.FailoverDoc
	if _, err := tasks.ReadJSON(s.Conn(), tasks.NewPaths(n.cfg.Root).Failover, &f); err != nil || f.Epoch != epoch {
		return nil
	}
	return &f
}
